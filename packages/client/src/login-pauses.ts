/**
 * Times a login the server could not complete for a fault of its own (`fault`: its database out of reach, too
 * slow) is tried again with the same answers when they come from a file or pipe, and the pause before each
 * (ms). Past them the client exits with status 6 (`EXIT.loginFault`), no command run.
 */
export const LOGIN_FAULT_PAUSES_MS: readonly number[] = [1_000, 2_000];

/**
 * The pauses before a script's login is tried again after `Server busy: …, try again later` (ms): 15 s in
 * all, for room on the server to come back (its memory or logins in progress). Past them the client exits
 * with status 7 (`EXIT.loginRefused`), no command run.
 */
export const LOGIN_BUSY_PAUSES_MS: readonly number[] = [1_000, 2_000, 4_000, 8_000];

/**
 * For tests only: a factor in (0, 1] the login pauses are multiplied by, so that the end-to-end tests of the
 * retries do not wait out 15 s each (the schedule itself is unit-tested at its real values). It can only
 * shorten this client's own waits between its own tries: the server bounds logins on its side whatever a
 * client does, so this is no limit of anyone's that a user could lift.
 */
export const LOGIN_PAUSE_SCALE_ENV = 'FORUM_CLIENT_TEST_LOGIN_PAUSE_SCALE';

/** The factor the test-only variable `name` gives in `env`: 1 unless it holds a number in (0, 1]. */
export const pauseScale = (env: Readonly<Record<string, string | undefined>>, name: string): number => {
  const text = env[name];
  const scale = text === undefined || text.trim() === '' ? Number.NaN : Number(text);
  return scale > 0 && scale <= 1 ? scale : 1;
};

/** The factor `LOGIN_PAUSE_SCALE_ENV` gives in `env`: 1 unless it holds a number in (0, 1]. */
export const loginPauseScale = (env: Readonly<Record<string, string | undefined>>): number => pauseScale(env, LOGIN_PAUSE_SCALE_ENV);

/** The pauses (ms) before each try again after a login refused for `cause`, shortened by `scale` (whole ms, at least 1). */
export const loginPauses = (cause: 'fault' | 'busy', scale = 1): readonly number[] =>
  (cause === 'fault' ? LOGIN_FAULT_PAUSES_MS : LOGIN_BUSY_PAUSES_MS).map((ms) => Math.max(1, Math.round(ms * scale)));

/** The stderr notice of a login tried again in `waitMs` (`Login not completed (WHY): trying again in 1 s with the same answers`). */
export const retryNotice = (why: string, waitMs: number): string => `Login not completed (${why}): trying again in ${waitMs / 1000} s with the same answers`;

/** The stderr line of a script still refused as busy after every pause of `pausesMs`. */
export const busyGiveUpNotice = (refusal: string, pausesMs: readonly number[]): string =>
  `Login not completed: ${refusal} (${pausesMs.length + 1} tries in ${pausesMs.reduce((a, b) => a + b, 0) / 1000} s); the commands were not run`;
