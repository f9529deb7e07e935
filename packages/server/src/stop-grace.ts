import { testSeamMs } from './test-seam-ms.js';

/** How long a stop waits for the told clients' connections to close, ms. */
export const STOP_GRACE_MS = 2_000;

/** The shortest stop grace {@link STOP_GRACE_ENV} may set, ms. */
export const MIN_TEST_STOP_GRACE_MS = 100;

/**
 * For tests only: how long a stop (a signal, the end of input) waits for the connections of the clients it told to close, ms,
 * shortened from {@link STOP_GRACE_MS} (2 s). A test whose client was killed (its connection left for the
 * transport's idle timeout to end) then stops its server in this long, not 2 s. It can only shorten how long
 * a stopping server waits for clients that do not answer; a live client's close takes a round trip on loopback.
 */
export const STOP_GRACE_ENV = 'FORUM_SERVER_TEST_STOP_GRACE_MS';

/** The stop grace that {@link STOP_GRACE_ENV} gives in `env`: {@link STOP_GRACE_MS} unless it holds a whole number of ms from {@link MIN_TEST_STOP_GRACE_MS} to {@link STOP_GRACE_MS}. */
export const stopGraceMs = (env: Readonly<Record<string, string | undefined>>): number => testSeamMs(env, STOP_GRACE_ENV, MIN_TEST_STOP_GRACE_MS, STOP_GRACE_MS);
