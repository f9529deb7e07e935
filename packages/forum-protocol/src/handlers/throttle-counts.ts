/**
 * Where the login throttle and the account-creation limit keep their counts:
 * the port between the account policy (`throttledAccounts`) and its state.
 * In this process's memory (one server, the data directory) the limiters of
 * rate-limit.ts answer at once; with PostgreSQL the counts are the
 * database's (postgres-throttles.ts), so they hold over every server of it.
 * Both go through this one interface, so the policy's code path is the same.
 */
import * as E from 'fp-ts/lib/Either.js';
import type * as TE from 'fp-ts/lib/TaskEither.js';
import type { StoreError } from '../store/errors.js';
import {
  createAccountCreationLimiter,
  createLoginRateLimiter,
  type AccountCreationLimiter,
  type AccountCreationLimitOptions,
  type AttemptOutcome,
  type LoginRateLimiter,
  type LoginRateLimitOptions,
  type ReserveResult,
  type ThrottleCause,
} from '../limits/rate-limit.js';

/** A throttle's answer: refused (and for how long), or a slot to settle exactly once (later calls do nothing). */
export type ThrottleSlot =
  | { readonly kind: 'throttled'; readonly retryAfterMs: number; readonly cause?: ThrottleCause }
  | {
      readonly kind: 'reserved';
      /** See `Reservation.settle`. Never rejects: a slot that could not be settled counts until its window ends. */
      settle(outcome: AttemptOutcome): Promise<void>;
    };

/** Login throttling per account and per client host (see `createLoginRateLimiter`). */
export interface LoginThrottle {
  /** A slot for one password check of `username` from `address`; a store error (the database) refuses the login. */
  reserve(username: string, address: string | undefined, now: number): TE.TaskEither<StoreError, ThrottleSlot>;
}

/** Account creation per client host (see `createAccountCreationLimiter`). */
export interface CreationThrottle {
  /** A slot for one account creation from `address` (`success` counts it). */
  reserve(address: string | undefined, now: number): TE.TaskEither<StoreError, ThrottleSlot>;
}

/** Makes the throttles of one account policy, their counts kept in one place (this process, or a database). */
export interface ThrottleCounts {
  /** The login throttle with these limits (one per server: it holds the counts, or reaches them). */
  login(options: LoginRateLimitOptions): LoginThrottle;
  /** The account-creation limit with these limits (one per server, as `login`). */
  creation(options: AccountCreationLimitOptions): CreationThrottle;
}

const slotOf = (r: ReserveResult): ThrottleSlot => {
  if (r.kind === 'throttled') return r;
  return {
    kind: 'reserved',
    settle: (outcome) => {
      r.reservation.settle(outcome);
      return Promise.resolve();
    },
  };
};

/** `limiter` (this process's counts) as a {@link LoginThrottle}. */
export const memoryLoginThrottle = (limiter: LoginRateLimiter): LoginThrottle => ({
  reserve: (username, address, now) => () => Promise.resolve(E.right(slotOf(limiter.reserve(username, address, now)))),
});

/** `limiter` (this process's counts) as a {@link CreationThrottle}. */
export const memoryCreationThrottle = (limiter: AccountCreationLimiter): CreationThrottle => ({
  reserve: (address, now) => () => Promise.resolve(E.right(slotOf(limiter.reserve(address, now)))),
});

/** Counts in this process's memory: right for one server; several servers would each count apart. */
export const memoryThrottleCounts: ThrottleCounts = {
  login: (options) => memoryLoginThrottle(createLoginRateLimiter(options)),
  creation: (options) => memoryCreationThrottle(createAccountCreationLimiter(options)),
};
