/**
 * A stop signal that follows the first this soon is the same stop, relayed: at a terminal, Ctrl-C sends SIGINT
 * to the whole foreground process group, and a wrapper in it passes the stop on as well (`pnpm exec`, as the
 * root README starts the server, sends SIGTERM; `npm exec` and `npm run` send SIGINT again), within a few ms.
 * Taken as a second signal, it cut the graceful stop short ("exiting at once (SIGTERM while stopping)", status
 * 143, clients not told) at every Ctrl-C. A person's second Ctrl-C, or a supervisor's escalation, comes later.
 */
export const RELAYED_STOP_MS = 100;

/** Whether a stop signal at `nowMs` is the one at `firstMs` relayed (both from `performance.now()`). */
export const isRelayedStop = (firstMs: number, nowMs: number): boolean => nowMs - firstMs < RELAYED_STOP_MS;
