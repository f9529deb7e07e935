import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { plainTextAccounts, withOrigin, type AccountPolicy, type PasswordVerdict, type RegisterVerdict } from './auth.js';
import { toIoError, type StoreError } from '../store/errors.js';
import { hashPassword, parsePasswordHash, plainPasswordsEqual, verifyPasswordHash } from './password-hash.js';
import {
  createLoginRateLimiter,
  type AccountCreationLimiter,
  type AccountCreationLimitOptions,
  type LoginRateLimiter,
  type LoginRateLimitOptions,
} from '../limits/rate-limit.js';
import {
  memoryCreationThrottle,
  memoryLoginThrottle,
  memoryThrottleCounts,
  type CreationThrottle,
  type LoginThrottle,
  type ThrottleCounts,
} from './throttle-counts.js';

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
  register: (store, username, password, attempt) =>
    TE.map((ok: boolean): RegisterVerdict => (ok ? 'created' : 'taken'))(TE.chain((h: string) => store.createAccount(withOrigin({ username, password: h }, attempt)))(hashTE(password))),
});

/**
 * Wraps a policy with login throttling: an attempt for a throttled account
 * or host is refused (`throttled`, the password is not even checked). The
 * slot is taken *before* the (slow, hashed) check, so attempts in flight
 * count: 200 guesses sent at once from one host get at most the host's limit
 * checked. A wrong password (or a vanished account) turns the slot into a
 * counted failure; a right one clears the account's failures; both count as
 * checks, which are limited too (a right password is as costly to check);
 * a store error frees it. With a `creation` throttle, new accounts are limited per host the
 * same way (a slot before the hash, counted once created). A throttle that
 * cannot answer (its database down) refuses: the store error is the verdict.
 * `login` null: logins are not throttled. One pair of throttles per server
 * (they hold the counts, or reach them).
 */
export const throttledAccounts = (inner: AccountPolicy, login: LoginThrottle | null, creation?: CreationThrottle): AccountPolicy => ({
  verify: (store, username, password, attempt) => async () => {
    if (login === null) return inner.verify(store, username, password, attempt)();
    const slot = await login.reserve(username, attempt.peerAddress, attempt.now)();
    if (E.isLeft(slot)) return slot;
    if (slot.right.kind === 'throttled') {
      return E.right<StoreError, PasswordVerdict>({ kind: 'throttled', retryAfterMs: slot.right.retryAfterMs, cause: slot.right.cause ?? 'failures' });
    }
    let verdict: E.Either<StoreError, PasswordVerdict> | undefined;
    try {
      verdict = await inner.verify(store, username, password, attempt)();
      return verdict;
    } finally {
      // In `finally`: a check that throws must still give its slot back.
      const r = verdict !== undefined && E.isRight(verdict) ? verdict.right : undefined;
      await slot.right.settle(r === 'ok' ? 'success' : r === 'wrong' || r === 'unknown' ? 'failure' : 'cancel');
    }
  },
  register: (store, username, password, attempt) => async () => {
    if (creation === undefined) return inner.register(store, username, password, attempt)();
    const slot = await creation.reserve(attempt.peerAddress, attempt.now)();
    if (E.isLeft(slot)) return slot;
    if (slot.right.kind === 'throttled') return E.right<StoreError, RegisterVerdict>({ kind: 'throttled', retryAfterMs: slot.right.retryAfterMs });
    let verdict: E.Either<StoreError, RegisterVerdict> | undefined;
    try {
      verdict = await inner.register(store, username, password, attempt)();
      return verdict;
    } finally {
      // A refusal for a full forum is counted as a creation: the password was hashed before the store refused
      // (hashed accounts), and given back it let one address have as many hashed as it sent.
      const made = verdict !== undefined && (E.isRight(verdict) ? verdict.right === 'created' : verdict.left.kind === 'accountsFull');
      await slot.right.settle(made ? 'success' : 'cancel');
    }
  },
});

/**
 * {@link throttledAccounts} with this process's limiters (their counts in memory).
 * `limiter` null: logins are not throttled. One limiter per server (it is the shared state).
 */
export const rateLimitedAccounts = (
  inner: AccountPolicy,
  // `null`, not `undefined`: passing undefined would pick up a default limiter.
  limiter: LoginRateLimiter | null = createLoginRateLimiter(),
  creation?: AccountCreationLimiter,
): AccountPolicy =>
  throttledAccounts(inner, limiter === null ? null : memoryLoginThrottle(limiter), creation === undefined ? undefined : memoryCreationThrottle(creation));

/** Options of {@link accountPolicy}. */
export interface AccountPolicyOptions {
  /** Store new and upgraded passwords as scrypt hashes (`--hash-passwords`). Default false (the spec's plain format). */
  readonly hashPasswords?: boolean;
  /** Throttling limits; `false` turns throttling off. Default `DEFAULT_LOGIN_RATE_LIMIT` (5 per account, 20 per host, per minute). */
  readonly rateLimit?: LoginRateLimitOptions | false;
  /** New accounts per client host; `false` turns the limit off. Default `DEFAULT_ACCOUNT_CREATION_LIMIT` (10 per host per 10 minutes). */
  readonly accountCreationLimit?: AccountCreationLimitOptions | false;
  /**
   * Where the throttles keep their counts. Default {@link memoryThrottleCounts}, this process's
   * memory; servers sharing a PostgreSQL database pass its counts (`createPostgresThrottleCounts`),
   * so that the limits hold over all of them.
   */
  readonly counts?: ThrottleCounts;
}

/** The policy a server uses: plain or hashed, throttled unless told otherwise. Make one per server. */
export const accountPolicy = (options: AccountPolicyOptions = {}): AccountPolicy => {
  const base = options.hashPasswords === true ? hashedAccounts() : plainTextAccounts;
  const counts = options.counts ?? memoryThrottleCounts;
  const creation = options.accountCreationLimit === false ? undefined : counts.creation(options.accountCreationLimit ?? {});
  if (options.rateLimit === false && creation === undefined) return base;
  // Login throttling off still leaves account creation limited, and vice versa.
  return throttledAccounts(base, options.rateLimit === false ? null : counts.login(options.rateLimit ?? {}), creation);
};
