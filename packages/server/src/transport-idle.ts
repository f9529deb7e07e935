import { TRANSPORT } from './server-defaults.js';
import { testSeamMs } from './test-seam-ms.js';

/** The shortest transport idle timeout {@link TRANSPORT_IDLE_ENV} may set, ms. */
export const MIN_TEST_TRANSPORT_IDLE_MS = 1_000;

/**
 * For tests only: the transport's idle timeout (how long a connection whose peer sends nothing is kept before it is
 * dropped, its login freed), ms, shortened from `TRANSPORT.idleTimeoutMs` (10 s). A test of a client that vanishes then
 * waits for its login to be freed for about this long, not 10 s. It can only shorten how long a silent peer holds the
 * server's resources; the keep-alive shrinks with it (at most half of it), so connected clients of this forum, whose
 * own keep-alive is 2 s at most, are not dropped on loopback.
 */
export const TRANSPORT_IDLE_ENV = 'FORUM_SERVER_TEST_TRANSPORT_IDLE_MS';

/** The transport's idle timeout and keep-alive that {@link TRANSPORT_IDLE_ENV} gives in `env`: `TRANSPORT`'s unless it holds a whole number of ms from {@link MIN_TEST_TRANSPORT_IDLE_MS} to `TRANSPORT.idleTimeoutMs`. */
export const transportIdle = (env: Readonly<Record<string, string | undefined>>): { readonly idleTimeoutMs: number; readonly keepAliveMs: number } => {
  const idleTimeoutMs = testSeamMs(env, TRANSPORT_IDLE_ENV, MIN_TEST_TRANSPORT_IDLE_MS, TRANSPORT.idleTimeoutMs);
  return { idleTimeoutMs, keepAliveMs: Math.min(TRANSPORT.keepAliveMs, Math.floor(idleTimeoutMs / 2)) };
};
