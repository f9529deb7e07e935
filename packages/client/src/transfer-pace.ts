/**
 * The least a transfer's body must move: fewer than `minBytes` in the last `windowMs`, and it fails.
 * `minBytes` 0: no floor.
 */
export interface TransferPace {
  readonly minBytes: number;
  readonly windowMs: number;
}

/**
 * 1 KiB a minute (17 bytes a second): far below any link a forum session runs over at all, so an
 * honest transfer, however slow, never meets it; a server trickling a byte every few seconds does.
 */
export const DEFAULT_TRANSFER_PACE: TransferPace = { minBytes: 1024, windowMs: 60_000 };

/** The failure's reason, as `Download of F failed: …` prints it. */
export const paceFailure = (pace: TransferPace): string => `under ${pace.minBytes} bytes in the last ${pace.windowMs / 1000} s`;

/** How many samples a window holds: the window slides by a tenth of itself. */
const SAMPLES = 10;

/** Counts a transfer's bytes against a {@link TransferPace}. */
export interface PaceWatch {
  /** `bytes` more moved. */
  add(bytes: number): void;
  /** No more checks (the body is over, or the transfer ended otherwise). */
  stop(): void;
}

/**
 * Starts counting now; calls `onSlow` once, the first time fewer than `pace.minBytes` moved over the
 * last `pace.windowMs` (never before a whole window has passed). An inactivity limit alone let a
 * server sending a byte every 29 s hold a client for as long as it liked (attack round 8,
 * attack/hostile-trickle.ts dwn-body): a window of bytes, as curl's --speed-limit/--speed-time, does not.
 */
export const watchPace = (pace: TransferPace, onSlow: () => void): PaceWatch => {
  let total = 0;
  if (pace.minBytes <= 0) return { add: () => undefined, stop: () => undefined };
  // The count at each tick of the last window, oldest first: the first is the count one window ago.
  const totals: number[] = [0];
  const timer = setInterval(() => {
    totals.push(total);
    if (totals.length <= SAMPLES) return;
    const windowAgo = totals.shift() ?? 0;
    if (total - windowAgo >= pace.minBytes) return;
    clearInterval(timer);
    onSlow();
  }, pace.windowMs / SAMPLES);
  return {
    add: (bytes) => void (total += bytes),
    stop: () => clearInterval(timer),
  };
};
