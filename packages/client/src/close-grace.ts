import { CLOSE_GRACE_MS } from './server-link.js';

/** The longest close grace {@link CLOSE_GRACE_ENV} may set, ms. */
export const MAX_TEST_CLOSE_GRACE_MS = 60_000;

/**
 * For tests only: the close grace (how long the client waits on its way out for the server to acknowledge the
 * close), ms, lengthened from {@link CLOSE_GRACE_MS}. A test of a signal that cuts the close short then tells that
 * cut from the grace's end by a margin a loaded machine cannot eat (with the 1 s grace it was ~0.5 s, and a run at
 * load 15 took 510 ms). It can only lengthen this client's own wait on its way out: no limit of anyone's.
 */
export const CLOSE_GRACE_ENV = 'FORUM_CLIENT_TEST_CLOSE_GRACE_MS';

/** The close grace `CLOSE_GRACE_ENV` gives in `env`: {@link CLOSE_GRACE_MS} unless it holds a whole number of ms from that to {@link MAX_TEST_CLOSE_GRACE_MS}. */
export const closeGraceMs = (env: Readonly<Record<string, string | undefined>>): number => {
  const text = env[CLOSE_GRACE_ENV]?.trim() ?? '';
  const ms = /^\d{1,6}$/u.test(text) ? Number(text) : Number.NaN;
  return ms >= CLOSE_GRACE_MS && ms <= MAX_TEST_CLOSE_GRACE_MS ? ms : CLOSE_GRACE_MS;
};
