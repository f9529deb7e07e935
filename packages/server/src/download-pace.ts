import { MIN_UPLOAD_BYTES_PER_SECOND, UPLOAD_PACE_GRACE_MS } from './upload-pace.js';

/** The least a download must move: `minBytesPerSecond` on average over every `windowMs` once the first has passed. */
export interface DownloadPace {
  readonly minBytesPerSecond: number;
  readonly windowMs: number;
}

/** An upload's rate and grace (upload-pace.ts): 4 KiB a second, judged over the last 30 s. */
export const DEFAULT_DOWNLOAD_PACE: DownloadPace = { minBytesPerSecond: MIN_UPLOAD_BYTES_PER_SECOND, windowMs: UPLOAD_PACE_GRACE_MS };

/**
 * Why a download whose kernel took `moved` bytes over the last `pace.windowMs` is too slow to go on,
 * or `undefined`. Over a window, not since the start as an upload's pace: the kernel's send buffer
 * takes its 4 MiB at once, read by the receiver or not, and an average since the start credited
 * them, 17 minutes of a receiver that never reads.
 */
export const downloadTooSlow = (moved: number, pace: DownloadPace = DEFAULT_DOWNLOAD_PACE): string | undefined => {
  const due = (pace.minBytesPerSecond * pace.windowMs) / 1000;
  if (moved >= due) return undefined;
  return `download too slow: ${moved} bytes taken in the last ${pace.windowMs / 1000} s, the server needs ${pace.minBytesPerSecond} bytes a second`;
};

/** How many samples a window holds: it slides by a tenth of itself. */
const SAMPLES = 10;

/**
 * Watches `taken()` (bytes the kernel has taken, only growing) from now; calls `onSlow` once with
 * {@link downloadTooSlow}'s reason the first time a whole window moved too little (never before one
 * window has passed). A timer, not the socket's events: a receiver that reads nothing makes none
 * (and one that sends records resets the socket's inactivity timer). Returns the stop.
 */
export const watchDownloadPace = (taken: () => number, pace: DownloadPace, onSlow: (reason: string) => void): (() => void) => {
  if (pace.minBytesPerSecond <= 0) return () => undefined;
  // The count at each tick of the last window, oldest first: the first is the count one window ago.
  const totals: number[] = [taken()];
  const timer = setInterval(() => {
    const now = taken();
    totals.push(now);
    if (totals.length <= SAMPLES) return;
    const reason = downloadTooSlow(now - (totals.shift() ?? 0), pace);
    if (reason === undefined) return;
    clearInterval(timer);
    onSlow(reason);
  }, pace.windowMs / SAMPLES);
  timer.unref();
  return () => clearInterval(timer);
};

/**
 * How long a download's connection may stay once its final record is in the kernel (its tail), ms: `handed`
 * bytes handed to the kernel in all, at most `sendBufferCeiling` of them (tcp_wmem's maximum) still queued there,
 * each due at the pace's `minBytesPerSecond`; never under `stallMs`. The pace cannot judge a tail (the kernel
 * takes nothing more: its count stands still), yet an honest receiver on a slow link is still reading what the
 * kernel queued, and a reset would discard it. No pace (0 bytes a second): the stall limit.
 */
export const downloadTailMs = (handed: number, sendBufferCeiling: number, stallMs: number, pace: DownloadPace = DEFAULT_DOWNLOAD_PACE): number => {
  if (pace.minBytesPerSecond <= 0) return stallMs;
  return Math.max(stallMs, Math.ceil((Math.min(handed, sendBufferCeiling) * 1000) / pace.minBytesPerSecond));
};
