/** The average rate an upload must keep once its grace is over (`uploadTooSlow`): 4 KiB/s. */
export const MIN_UPLOAD_BYTES_PER_SECOND = 4096;
/** How long an upload may run before its average rate is checked. */
export const UPLOAD_PACE_GRACE_MS = 30_000;

/**
 * Why an upload that has received `received` bytes `elapsedMs` after its
 * size line is too slow to go on, or `undefined`. The stall limit only ends
 * a silent connection: one byte every 20 s kept an upload (and its slot and
 * disk room) for ever. After {@link UPLOAD_PACE_GRACE_MS} the upload must
 * have averaged {@link MIN_UPLOAD_BYTES_PER_SECOND} over the time past the
 * grace: a slow link passes, a trickle does not.
 */
export const uploadTooSlow = (received: number, elapsedMs: number, minRate = MIN_UPLOAD_BYTES_PER_SECOND, graceMs = UPLOAD_PACE_GRACE_MS): string | undefined => {
  const due = (minRate * (elapsedMs - graceMs)) / 1000;
  if (received >= due) return undefined;
  return `upload too slow: ${received} bytes in ${Math.floor(elapsedMs / 1000)} s, the server needs ${minRate} bytes a second after the first ${Math.floor(graceMs / 1000)} s`;
};
