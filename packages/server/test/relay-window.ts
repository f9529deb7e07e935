import { setTimeout as delay } from 'node:timers/promises';
import { RELAYED_STOP_MS } from '../src/relayed-stop.js';

/**
 * Waits until {@link RELAYED_STOP_MS} have passed by the clock since `since` (`performance.now()`; by default the
 * call, made once the server said it took the first stop signal, so after it noted that signal's time): a second
 * signal sooner is that stop relayed, and ignored. Not a timer alone: one may fire up to a millisecond early (libuv
 * keeps whole milliseconds, read once a loop turn), and the server's own measure would then fall short of the window.
 */
export const pastRelayWindow = async (since = performance.now()): Promise<void> => {
  for (let left = RELAYED_STOP_MS - (performance.now() - since); left > 0; left = RELAYED_STOP_MS - (performance.now() - since)) await delay(Math.ceil(left));
};
