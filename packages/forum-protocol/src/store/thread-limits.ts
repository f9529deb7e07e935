/**
 * How many threads a forum, and one account in it, may hold. Without a bound
 * a few accounts could create threads until the LST reply no longer fits in
 * a server message (about 41,000 long titles), after which LST failed for
 * everyone. The stores enforce these limits in CRT, under the same lock (or
 * transaction) that creates the thread, so concurrent CRTs cannot pass them.
 */
import { MAX_NAME_BYTES, MAX_THREAD_REPLY_BYTES } from '../protocol/limits.js';
import type { HostLevel } from '../limits/host-of.js';
import { levelPassed, ORIGIN_SHARES, originLimit } from './origin-shares.js';

/** Limits on thread creation. */
export interface ThreadLimits {
  /** Most threads in the forum. At most {@link MAX_THREADS}. */
  readonly maxThreads: number;
  /** Most threads one account may have created and not removed. */
  readonly maxThreadsPerUser: number;
  /**
   * How many accounts' shares the accounts one host created hold together (origin-shares.ts): of the threads
   * (`maxThreadsPerUser` times it), and in the stores that keep them, of the threads' bytes and lines and of
   * the uploads' room. `0`: no bound by origin. Default {@link ORIGIN_SHARES}.
   */
  readonly originShares: number;
}

/**
 * Most threads a forum may hold: an LST reply of that many of the longest
 * titles (each JSON-escaped at worst to twice its bytes, plus quotes and a
 * comma) stays within {@link MAX_THREAD_REPLY_BYTES}, half the reply limit.
 */
export const MAX_THREADS = Math.floor(MAX_THREAD_REPLY_BYTES / (2 * MAX_NAME_BYTES + 3) / 1000) * 1000;

/** Default of {@link ThreadLimits.maxThreadsPerUser}. */
export const DEFAULT_THREADS_PER_USER = 100;

/** The limits a store applies unless given others. */
export const DEFAULT_THREAD_LIMITS: ThreadLimits = Object.freeze({ maxThreads: MAX_THREADS, maxThreadsPerUser: DEFAULT_THREADS_PER_USER, originShares: ORIGIN_SHARES });

/** Why a CRT was refused by a limit. */
export type ThreadLimitError =
  /**
   * `who: 'origin'`: the threads of the accounts the asking account's host created (origin-shares.ts); with
   * `network`, of those its IPv6 /56 or /48 created.
   */
  | { readonly kind: 'tooManyThreads'; readonly limit: number; readonly who?: 'origin'; readonly network?: true }
  | { readonly kind: 'forumFull'; readonly limit: number };

/** How many threads the accounts of each level of the user's origin created (origin-shares.ts `originLevels`), finest first. */
export interface LevelThreads {
  readonly levels: readonly HostLevel[];
  /** Threads of the accounts of level `key`. */
  readonly threads: (key: string) => number;
}

/**
 * A count of threads per level of `levels` (a creator's origin's), to which each thread's creator's levels are
 * added ({@link LevelThreads}): a thread counts for each level its creator shares with them.
 */
export const levelThreadCounts = (levels: readonly HostLevel[]): LevelThreads & { readonly count: (theirs: readonly HostLevel[]) => void } => {
  const counts = new Map(levels.map((l) => [l.key, 0]));
  return {
    levels,
    threads: (key) => counts.get(key) ?? 0,
    count: (theirs) => {
      for (const l of theirs) {
        const n = counts.get(l.key);
        if (n !== undefined) counts.set(l.key, n + 1);
      }
    },
  };
};

/**
 * The limit a new thread by a user would pass, given the forum's thread count
 * `total`, how many of them the user created, `mine`, and how many the accounts
 * of each level of the user's origin created, `ours` (absent: the account has
 * no recorded origin); `undefined` if none.
 */
export const threadLimitProblem = (limits: ThreadLimits, total: number, mine: number, ours?: LevelThreads): ThreadLimitError | undefined => {
  if (mine >= limits.maxThreadsPerUser) return { kind: 'tooManyThreads', limit: limits.maxThreadsPerUser };
  const passed = ours === undefined ? undefined : levelPassed(ours.levels, ours.threads, 1, originLimit(limits.maxThreadsPerUser, limits.originShares));
  if (passed !== undefined) return { kind: 'tooManyThreads', limit: passed.limit, who: 'origin', ...(passed.network ? { network: true } : {}) };
  if (total >= limits.maxThreads) return { kind: 'forumFull', limit: limits.maxThreads };
  return undefined;
};

/** `given` over the defaults; throws a `RangeError` naming the field if one is not a whole number from 1 (`maxThreads` at most {@link MAX_THREADS}; `originShares` from 0). */
export const resolveThreadLimits = (given: Partial<ThreadLimits> = {}): ThreadLimits => {
  const limits = { ...DEFAULT_THREAD_LIMITS, ...given };
  if (!Number.isSafeInteger(limits.originShares) || limits.originShares < 0) throw new RangeError(`thread limits: originShares must be a whole number from 0 (got ${String(limits.originShares)})`);
  for (const [field, value, max] of [
    ['maxThreads', limits.maxThreads, MAX_THREADS],
    ['maxThreadsPerUser', limits.maxThreadsPerUser, Number.MAX_SAFE_INTEGER],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1 || value > max) throw new RangeError(`thread limits: ${field} must be a whole number from 1 to ${max} (got ${String(value)})`);
  }
  return Object.freeze(limits);
};
