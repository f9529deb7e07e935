/** The longest the store's pool waits before a connection that failed connects again, seconds. */
export const MAX_RECONNECT_DELAY_S = 1;

/**
 * How long a pool connection waits before connecting again after the pool's `retries`-th failure, seconds
 * (postgres.js's `backoff`): postgres.js's own, `3^n / 100` jittered by half, capped at
 * {@link MAX_RECONNECT_DELAY_S} rather than 20 s. The count is the pool's, not the connection's, and a
 * database restart fails all ten connections at once (and each request's attempt while it is down): its
 * own cap was reached within a second of outage, and requests waited 16–19 s for a connection after the
 * database was back (attack round 18). Attempts are made only for requests, ten at most at a time, each
 * refused cheaply while the database is down; a second between them costs the database nothing.
 */
export const reconnectDelaySeconds = (retries: number): number => (0.5 + Math.random() / 2) * Math.min(3 ** retries / 100, MAX_RECONNECT_DELAY_S);
