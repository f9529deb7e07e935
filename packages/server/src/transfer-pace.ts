import type { TransferGrant } from 'forum-protocol';
import type { ServerHold } from './transfer-stall.js';

/**
 * The least a transfer must move: `minBytesPerSecond` on average over the last `windowMs` of the client's
 * time (time the server held the transfer back is not the client's), judged once the first window has passed.
 */
export interface TransferPace {
  readonly minBytesPerSecond: number;
  readonly windowMs: number;
}

/** Both directions' pace: 4 KiB a second over the last 30 s. */
export const DEFAULT_TRANSFER_PACE: TransferPace = { minBytesPerSecond: 4096, windowMs: 30_000 };

/** Which way a transfer's bytes go, for the reason's words. */
export type TransferDirection = TransferGrant['direction'];

/** What a transfer's count is of: the bytes an upload's server read, the bytes a download's kernel took. */
const MOVED: Readonly<Record<TransferDirection, string>> = { upload: 'received', download: 'taken' };

/**
 * Why a transfer that moved `moved` bytes over the last `spanMs` (the window, by default) is too slow to
 * go on, or `undefined`.
 */
export const transferTooSlow = (direction: TransferDirection, moved: number, pace: TransferPace = DEFAULT_TRANSFER_PACE, spanMs = pace.windowMs): string | undefined => {
  const due = (pace.minBytesPerSecond * spanMs) / 1000;
  if (moved >= due) return undefined;
  return `${direction} too slow: ${moved} bytes ${MOVED[direction]} in the last ${Math.round(spanMs / 1000)} s, the server needs ${pace.minBytesPerSecond} bytes a second`;
};

/** A running {@link watchTransferPace}: nothing is judged while the server holds the transfer. */
export interface PaceWatch extends ServerHold {
  /** No more judging (the transfer is over). */
  stop(): void;
}

/** How many samples a window holds: it slides by a tenth of itself. */
const SAMPLES = 10;

/** One sample: the client's time (ms since the watch began, held time left out) and the count then. */
interface Sample {
  readonly at: number;
  readonly moved: number;
}

/**
 * Watches `moved()` (bytes moved, only growing) from now; calls `onSlow` once with {@link transferTooSlow}'s reason
 * the first time the last window of the client's time moved too little (never before one window has passed). A
 * timer every tenth of a window, not the socket's events: a silent client makes none, and one that reads nothing
 * but sends a record now and then resets the socket's inactivity timer. Over a window, not since the start: an
 * average since the start credited early bytes, an upload of 100 MiB and then a byte every 25 s for 7 hours, and
 * a download's kernel taking its 4 MiB at once, read or not, for 17 minutes.
 */
export const watchTransferPace = (direction: TransferDirection, moved: () => number, pace: TransferPace, onSlow: (reason: string) => void): PaceWatch => {
  if (pace.minBytesPerSecond <= 0) return { hold: () => undefined, release: () => undefined, stop: () => undefined };
  const tickMs = pace.windowMs / SAMPLES;
  const began = performance.now();
  let heldMs = 0;
  let holds = 0;
  let heldSince = 0;
  let stopped = false;
  const clientMs = (): number => performance.now() - began - heldMs - (holds > 0 ? performance.now() - heldSince : 0);
  // Oldest first; the first is the newest sample a window (less half a tick, for a timer's lateness) old or older.
  const samples: Sample[] = [{ at: 0, moved: moved() }];
  // The client's time of the next sample: a tick each tenth of a window of it, so a window spans ten ticks.
  let next = tickMs;
  // Runs only while nothing is held, so its real time is the client's: set for the rest of a tick it fires at the
  // tick. Left running through holds (it was), it fired early, took a sample and was set again for the rest, over
  // and over while the server held the transfer most of the time (a store taking each write slowly).
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    timer = setTimeout(tick, Math.max(0, next - clientMs()));
    timer.unref();
  };
  const tick = (): void => {
    timer = undefined;
    const now: Sample = { at: clientMs(), moved: moved() };
    samples.push(now);
    while (next <= now.at) next += tickMs;
    const from = now.at - pace.windowMs + tickMs / 2;
    while ((samples[1]?.at ?? Infinity) <= from) samples.shift();
    const first = samples[0] as Sample;
    const reason = first.at <= from ? transferTooSlow(direction, now.moved - first.moved, pace, now.at - first.at) : undefined;
    if (reason === undefined) return schedule();
    stopped = true;
    onSlow(reason);
  };
  schedule();
  return {
    hold: () => {
      if (holds++ > 0) return;
      heldSince = performance.now();
      // The client's clock stands still: judged nothing, and the next tick is set when the hold ends.
      clearTimeout(timer);
      timer = undefined;
    },
    release: () => {
      if (holds === 0) return;
      if (--holds > 0) return;
      heldMs += performance.now() - heldSince;
      if (!stopped) schedule();
    },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
};

/**
 * How long a download's connection may stay once its final record is in the kernel (its tail), ms: `handed`
 * bytes handed to the kernel in all, at most `sendBufferCeiling` of them (tcp_wmem's maximum) still queued there,
 * each due at the pace's `minBytesPerSecond`; never under `stallMs`. The pace cannot judge a tail (the kernel
 * takes nothing more: its count stands still), yet an honest receiver on a slow link is still reading what the
 * kernel queued, and a reset would discard it. No pace (0 bytes a second): the stall limit.
 */
export const downloadTailMs = (handed: number, sendBufferCeiling: number, stallMs: number, pace: TransferPace = DEFAULT_TRANSFER_PACE): number => {
  if (pace.minBytesPerSecond <= 0) return stallMs;
  return Math.max(stallMs, Math.ceil((Math.min(handed, sendBufferCeiling) * 1000) / pace.minBytesPerSecond));
};
