import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { plainTextAccounts, type AccountPolicy, type PasswordVerdict } from './auth.js';
import { toIoError, type StoreError } from './errors.js';
import { hashPassword, parsePasswordHash, plainPasswordsEqual, verifyPasswordHash } from './password-hash.js';
import { createLoginRateLimiter, type LoginRateLimiter, type LoginRateLimitOptions } from './rate-limit.js';

const hashTE = (password: string): TE.TaskEither<StoreError, string> => TE.tryCatch(() => hashPassword(password), toIoError);

/**
 * Passwords stored as scrypt hashes (`username scrypt$<salt>$<hash>` in
 * `credentials.txt`; the server's `--hash-passwords`). New accounts are
 * stored hashed. An account still in plain text logs in as before and, on
 * that successful login, its line is rewritten (atomically, through
 * `ForumStore.replaceAccountSecret`) to the hashed form.
 */
export const hashedAccounts = (): AccountPolicy => ({
  verify: (store, username, password) => async () => {
    const found = await store.getAccount(username)();
    if (E.isLeft(found)) return found;
    if (O.isNone(found.right)) return E.right<StoreError, PasswordVerdict>('unknown');
    const secret = found.right.value.password;
    const hashed = parsePasswordHash(secret);
    if (hashed !== undefined) {
      try {
        return E.right((await verifyPasswordHash(password, hashed)) ? 'ok' : 'wrong');
      } catch (e) {
        return E.left(toIoError(e));
      }
    }
    if (!plainPasswordsEqual(password, secret)) return E.right('wrong');
    const upgraded = await TE.chain((h: string) => store.replaceAccountSecret(username, h))(hashTE(password))();
    // A failed rewrite must not pass for a login: the account would silently stay in plain text.
    return E.isLeft(upgraded) ? upgraded : E.right('ok');
  },
  register: (store, username, password) => TE.chain((h: string) => store.createAccount({ username, password: h }))(hashTE(password)),
});

/**
 * Wraps a policy with login throttling: an attempt for a throttled account
 * or host is refused (`throttled`, the password is not even checked); a
 * wrong password counts against both; a right one clears the account's count.
 * One limiter per server (it is the shared state).
 */
export const rateLimitedAccounts = (inner: AccountPolicy, limiter: LoginRateLimiter = createLoginRateLimiter()): AccountPolicy => ({
  verify: (store, username, password, attempt) => async () => {
    const wait = limiter.blockedFor(username, attempt.peerAddress, attempt.now);
    if (wait > 0) return E.right<StoreError, PasswordVerdict>({ kind: 'throttled', retryAfterMs: wait });
    const verdict = await inner.verify(store, username, password, attempt)();
    if (E.isRight(verdict)) {
      if (verdict.right === 'ok') limiter.recordSuccess(username);
      else if (verdict.right === 'wrong' || verdict.right === 'unknown') limiter.recordFailure(username, attempt.peerAddress, attempt.now);
    }
    return verdict;
  },
  register: inner.register,
});

/** Options of {@link accountPolicy}. */
export interface AccountPolicyOptions {
  /** Store new and upgraded passwords as scrypt hashes (`--hash-passwords`). Default false (the spec's plain format). */
  readonly hashPasswords?: boolean;
  /** Throttling limits; `false` turns throttling off. Default `DEFAULT_LOGIN_RATE_LIMIT` (5 per account, 20 per host, per minute). */
  readonly rateLimit?: LoginRateLimitOptions | false;
}

/** The policy a server uses: plain or hashed, throttled unless told otherwise. Make one per server. */
export const accountPolicy = (options: AccountPolicyOptions = {}): AccountPolicy => {
  const base = options.hashPasswords === true ? hashedAccounts() : plainTextAccounts;
  return options.rateLimit === false ? base : rateLimitedAccounts(base, createLoginRateLimiter(options.rateLimit ?? {}));
};
