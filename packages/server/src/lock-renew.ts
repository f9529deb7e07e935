import { RENEW_MS } from './data-dir-lock.js';
import { testSeamMs } from './test-seam-ms.js';

/** The shortest lock renewal interval {@link LOCK_RENEW_ENV} may set, ms. */
export const MIN_TEST_LOCK_RENEW_MS = 1_000;

/**
 * For tests only: how often the server renews (and so re-reads) its data directory's lock, ms, shortened from
 * `RENEW_MS` (5 s). A test of a server frozen while another took its directory over then waits about this long for
 * it to notice, not 5 s. It can only make the holder renew and check its lock more often (and its wait for another
 * container's lock watch for renewals at least twice this long, not 10 s, still for the whole `STALE_MS`).
 */
export const LOCK_RENEW_ENV = 'FORUM_SERVER_TEST_LOCK_RENEW_MS';

/** The lock renewal interval that {@link LOCK_RENEW_ENV} gives in `env`: `RENEW_MS` unless it holds a whole number of ms from {@link MIN_TEST_LOCK_RENEW_MS} to `RENEW_MS`. */
export const lockRenewMs = (env: Readonly<Record<string, string | undefined>>): number => testSeamMs(env, LOCK_RENEW_ENV, MIN_TEST_LOCK_RENEW_MS, RENEW_MS);
