/**
 * Login throttling and account-creation limits: sliding windows of counted
 * events per account and per source host. Pure state with the clock passed
 * in, so it is tested with a fake clock and the server only supplies `now`.
 *
 * An attempt *in flight* counts: a caller reserves a slot before the slow
 * part (the scrypt hash takes 50–100 ms) and settles it afterwards. Without
 * that, 200 guesses sent at once all pass the check before the first one is
 * counted (issue 15, finding 1).
 *
 * Failures alone do not bound the work: a right password used to clear the
 * account's count, so 64 connections of one account racing to log in (the
 * winner logging out, the losers retrying) ran 45 scrypt hashes a second and
 * made everyone's requests wait (attack finding 1). So every password check,
 * right or wrong, is also counted in a second, looser window per account
 * and per host.
 */
import { type HostLevel, hostLevelsOf } from './host-of.js';
import { HostWindowLog } from './host-window-log.js';
import { SlidingWindowLog } from './sliding-window-log.js';

/** Limits of {@link createLoginRateLimiter}. */
export interface LoginRateLimitOptions {
  /** Failed (or in-flight) attempts per account within the window before it is throttled. Default 5. */
  readonly maxFailuresPerAccount?: number;
  /** Failed (or in-flight) attempts per source host (an IPv6 /56: 4 times this, a /48: 16 times) within the window before it is throttled. Default 20. */
  readonly maxFailuresPerAddress?: number;
  /** Password checks of any outcome (or in flight) per account within the window. Default 10. */
  readonly maxChecksPerAccount?: number;
  /** Password checks of any outcome (or in flight) per source host (an IPv6 /56: 4 times this, a /48: 16 times) within the window. Default 60. */
  readonly maxChecksPerAddress?: number;
  /** Window length, ms. Default 60,000. */
  readonly windowMs?: number;
  /** Most accounts and most hosts (and of each IPv6 prefix length) tracked, each; beyond, the stalest entry is forgotten. Default 10,000. */
  readonly maxTracked?: number;
}

/**
 * The defaults: 5 failures per account and 20 per host per minute; 10 checks
 * of any outcome per account and 60 per host per minute (a person logs in a
 * few times a minute at most; each check may be a 16 MiB scrypt hash).
 */
export const DEFAULT_LOGIN_RATE_LIMIT: Required<LoginRateLimitOptions> = {
  maxFailuresPerAccount: 5,
  maxFailuresPerAddress: 20,
  maxChecksPerAccount: 10,
  maxChecksPerAddress: 60,
  windowMs: 60_000,
  maxTracked: 10_000,
};

/** How a reserved attempt ended. */
export type AttemptOutcome = 'failure' | 'success' | 'cancel';

/** A slot held by an attempt in flight; settle it exactly once (later calls do nothing). */
export interface Reservation {
  /**
   * `failure` counts it as a failure and a check (at the time it was reserved); `success` counts it as a
   * check and clears the account's failures; `cancel` frees it uncounted.
   */
  settle(outcome: AttemptOutcome): void;
}

/** Why an attempt was throttled: too many failures, or too many checks of any outcome. */
export type ThrottleCause = 'failures' | 'checks';

/** The answer to {@link LoginRateLimiter.reserve}. */
export type ReserveResult =
  | { readonly kind: 'throttled'; readonly retryAfterMs: number; readonly cause?: ThrottleCause }
  | { readonly kind: 'reserved'; readonly reservation: Reservation };

/** Counts failed logins and says when to refuse more. */
export interface LoginRateLimiter {
  /**
   * Takes a slot for one password check of `username` from `address`, or
   * says how long to wait. A slot counts against both limits until settled.
   */
  reserve(username: string, address: string | undefined, now: number): ReserveResult;
  /** Milliseconds until a new attempt for `username` from `address` is allowed; 0 if it is allowed now. */
  blockedFor(username: string, address: string | undefined, now: number): number;
  /** Records a wrong password (an attempt that was not reserved). */
  recordFailure(username: string, address: string | undefined, now: number): void;
  /** Records a right password: the account's failures are forgotten (the host's are not). */
  recordSuccess(username: string): void;
}

/**
 * A sliding-window limiter: once an account has `maxFailuresPerAccount`
 * failures and attempts in flight (or a host `maxFailuresPerAddress`) within
 * `windowMs`, further attempts are refused until the oldest of them leaves
 * the window; likewise once it has `maxChecksPerAccount` checks of any
 * outcome (a host `maxChecksPerAddress`), which a right password does not
 * clear. State is bounded by `maxTracked` accounts and hosts per window plus
 * the attempts in flight, which the limits themselves bound per key.
 */
export const createLoginRateLimiter = (options: LoginRateLimitOptions = {}): LoginRateLimiter & { readonly tracked: () => number } => {
  const o = { ...DEFAULT_LOGIN_RATE_LIMIT, ...options };
  const accounts = new SlidingWindowLog(o.maxFailuresPerAccount, o.windowMs, o.maxTracked);
  // Per host and per coarser IPv6 prefix (a /56 4 times the host's limit, a /48 16 times): a spray of guesses or
  // of 16 MiB hashes from one customer's /48 must not get 65,536 hosts' budgets.
  const hosts = new HostWindowLog(o.maxFailuresPerAddress, o.windowMs, o.maxTracked);
  const accountChecks = new SlidingWindowLog(o.maxChecksPerAccount, o.windowMs, o.maxTracked);
  const hostChecks = new HostWindowLog(o.maxChecksPerAddress, o.windowMs, o.maxTracked);
  const failuresWait = (username: string, host: readonly HostLevel[] | undefined, now: number): number =>
    Math.max(accounts.blockedFor(username, now), host === undefined ? 0 : hosts.blockedFor(host, now));
  const checksWait = (username: string, host: readonly HostLevel[] | undefined, now: number): number =>
    Math.max(accountChecks.blockedFor(username, now), host === undefined ? 0 : hostChecks.blockedFor(host, now));
  const hostLevelsOfAddress = (address: string | undefined): readonly HostLevel[] | undefined => (address === undefined ? undefined : hostLevelsOf(address));
  return {
    reserve: (username, address, now) => {
      const host = hostLevelsOfAddress(address);
      const failures = failuresWait(username, host, now);
      if (failures > 0) return { kind: 'throttled', retryAfterMs: failures, cause: 'failures' };
      const checks = checksWait(username, host, now);
      if (checks > 0) return { kind: 'throttled', retryAfterMs: checks, cause: 'checks' };
      const ends = [accounts.begin(username, now), ...(host === undefined ? [] : [hosts.begin(host, now)])];
      const checkEnds = [accountChecks.begin(username, now), ...(host === undefined ? [] : [hostChecks.begin(host, now)])];
      let settled = false;
      return {
        kind: 'reserved',
        reservation: {
          settle: (outcome) => {
            if (settled) return;
            settled = true;
            ends.forEach((end) => end(outcome === 'failure'));
            // A check that ran costs its hash whatever it found; only one that never ran (a store error) is free.
            checkEnds.forEach((end) => end(outcome !== 'cancel'));
            if (outcome === 'success') accounts.forget(username);
          },
        },
      };
    },
    blockedFor: (username, address, now) => {
      const host = hostLevelsOfAddress(address);
      return Math.max(failuresWait(username, host, now), checksWait(username, host, now));
    },
    recordFailure: (username, address, now) => {
      const host = hostLevelsOfAddress(address);
      accounts.record(username, now);
      accountChecks.record(username, now);
      if (host !== undefined) {
        hosts.record(host, now);
        hostChecks.record(host, now);
      }
    },
    recordSuccess: (username) => accounts.forget(username),
    tracked: () => accounts.size + hosts.size + accountChecks.size + hostChecks.size,
  };
};

/** Limits of {@link createAccountCreationLimiter}. */
export interface AccountCreationLimitOptions {
  /** New accounts one client host may create (or have in creation) within the window; an IPv6 /56 4 times this, a /48 16 times. Default 10. */
  readonly maxPerHost?: number;
  /** Window length, ms. Default 600,000 (10 minutes). */
  readonly windowMs?: number;
  /** Most hosts (and of each IPv6 prefix length) tracked; beyond, the stalest is forgotten. Default 10,000. */
  readonly maxTracked?: number;
}

/** The defaults: 10 new accounts per host per 10 minutes. */
export const DEFAULT_ACCOUNT_CREATION_LIMIT: Required<AccountCreationLimitOptions> = { maxPerHost: 10, windowMs: 600_000, maxTracked: 10_000 };

/** Counts accounts created per client host (any port). */
export interface AccountCreationLimiter {
  /** Takes a slot for one account creation from `address` (`success` counts it, anything else frees it), or says how long to wait. */
  reserve(address: string | undefined, now: number): ReserveResult;
}

/**
 * Limits account creation per client host: each new account costs a line in
 * `credentials.txt` (and a hash with `--hash-passwords`), so one host must
 * not create thousands. Creations in flight count, as for logins.
 */
export const createAccountCreationLimiter = (options: AccountCreationLimitOptions = {}): AccountCreationLimiter => {
  const o = { ...DEFAULT_ACCOUNT_CREATION_LIMIT, ...options };
  // Per host and per coarser IPv6 prefix (a /56 4 times the host's limit, a /48 16 times): each account is a line
  // on disk, and one customer's /48 must not create 65,536 hosts' worth.
  const hosts = new HostWindowLog(o.maxPerHost, o.windowMs, o.maxTracked);
  return {
    reserve: (address, now) => {
      const key = address === undefined ? [{ key: '', multiple: 1 }] : hostLevelsOf(address);
      const wait = hosts.blockedFor(key, now);
      if (wait > 0) return { kind: 'throttled', retryAfterMs: wait };
      const end = hosts.begin(key, now);
      return { kind: 'reserved', reservation: { settle: (outcome) => end(outcome === 'success') } };
    },
  };
};

const seconds = (n: number): string => (n === 1 ? '1 second' : `${n} seconds`);
const wholeSeconds = (ms: number): string => seconds(Math.max(1, Math.ceil(ms / 1000)));

/** The line shown when a login is throttled. */
export const throttledText = (retryAfterMs: number): string => `Too many failed login attempts, try again in ${wholeSeconds(retryAfterMs)}`;

/** The line shown when an account (or host) has had too many password checks, right or wrong. */
export const checksThrottledText = (retryAfterMs: number): string => `Too many login attempts, try again in ${wholeSeconds(retryAfterMs)}`;

/** The line shown when a host has created too many accounts. */
export const accountCreationThrottledText = (retryAfterMs: number): string =>
  `Too many new accounts from your address, try again in ${wholeSeconds(retryAfterMs)}`;
