/**
 * Runs `beat` every `everyMs` ms, one at a time: a tick while the last beat is unanswered (a database that
 * hangs) is skipped. Each would hold a pool connection until the database answered: the session leases',
 * upload places' and upload leases' heartbeats (each every 5 s with 15 s leases) held the whole pool of 10
 * by their fourth tick, 20 s after the database stopped answering, and the commands waited. A failed beat goes to `onError` (an
 * `onError` that throws is ignored: a rejection nobody awaits ends the process). The timer keeps no
 * stopping process alive. Returns the heartbeat's stop; a beat under way then finishes on its own.
 */
export const startHeartbeat = (everyMs: number, beat: () => Promise<void>, onError: (e: unknown) => void): (() => void) => {
  let beating = false;
  const timer = setInterval(() => {
    if (beating) return;
    beating = true;
    beat()
      .catch((e: unknown) => {
        try {
          onError(e);
        } catch {
          // Nowhere left to say it.
        }
      })
      .finally(() => {
        beating = false;
      });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
};
