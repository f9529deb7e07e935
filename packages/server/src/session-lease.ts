import { testSeamMs } from './test-seam-ms.js';

/** Longest session lease: a crashed server's accounts are free again this long after it died (or the idle timeout, if shorter). */
export const MAX_LEASE_MS = 15_000;

/** The shortest lease {@link LEASE_ENV} may set, ms: renewed every third of it, a loaded machine's late heartbeat does not lose it. */
export const MIN_TEST_LEASE_MS = 2_000;

/**
 * For tests only: the longest session (and pending upload) lease on the database, ms, shortened from
 * {@link MAX_LEASE_MS} (15 s). A test of a killed server then waits for its accounts to be free again about this
 * long, not 15 s. It can only shorten how long a dead server's logins and uploads hold their accounts and room.
 */
export const LEASE_ENV = 'FORUM_SERVER_TEST_LEASE_MS';

/** The longest lease that {@link LEASE_ENV} gives in `env`: {@link MAX_LEASE_MS} unless it holds a whole number of ms from {@link MIN_TEST_LEASE_MS} to {@link MAX_LEASE_MS}. */
export const maxLeaseMs = (env: Readonly<Record<string, string | undefined>>): number => testSeamMs(env, LEASE_ENV, MIN_TEST_LEASE_MS, MAX_LEASE_MS);
