/**
 * How many bytes of thread writes the data directory takes per second:
 * one bucket per account and one for the whole store. Editing or deleting an
 * early message of a full thread rewrites megabytes (about 16 ms of CPU and
 * 4 MiB of synced writes for a 4 MiB thread), so a few accounts looping such
 * commands kept a core and the disk busy (55 rewrites a second from three
 * accounts). The data directory charges a change the bytes it puts on disk
 * (a rewritten tail twice: the undo journal keeps the old one), counted
 * before it is formatted so a refusal is cheap. A MSG (an append) and an
 * edit near a thread's end write a few KiB and are never charged: the
 * request rate bounds them like any command.
 *
 * A bucket lets a write start while it holds any bytes at all, then takes the
 * write's whole size, going into debt if need be: a write larger than the
 * burst (a 16 MiB hand-written thread) is slowed, never refused forever.
 * Pure state with the clock passed in.
 */
import { TokenBuckets } from '../limits/token-buckets.js';

/** Limits of {@link createWriteBudget}. */
export interface WriteBudgetOptions {
  /** Bytes a second each account earns back. Default 4 MiB. */
  readonly accountBytesPerSecond?: number;
  /** Bytes a second the whole store earns back (every account together). Default 32 MiB. */
  readonly storeBytesPerSecond?: number;
  /** Most bytes an account's bucket saves up (its burst). Default 16 MiB: one rewrite of the largest thread file. */
  readonly burstBytes?: number;
  /** Most bytes the store's bucket saves up. Default 64 MiB (several accounts' bursts at once). */
  readonly storeBurstBytes?: number;
  /** Writes smaller than this are never charged (nor refused). Default 4 KiB. */
  readonly minChargedBytes?: number;
  /** Most accounts tracked; beyond, the one charged longest ago is forgotten (see {@link TokenBuckets}). Default 10,000. */
  readonly maxTracked?: number;
}

/** The defaults (see {@link WriteBudgetOptions}). */
export const DEFAULT_WRITE_BUDGET: Required<WriteBudgetOptions> = {
  accountBytesPerSecond: 4 * 1024 * 1024,
  storeBytesPerSecond: 32 * 1024 * 1024,
  burstBytes: 16 * 1024 * 1024,
  storeBurstBytes: 64 * 1024 * 1024,
  minChargedBytes: 4 * 1024,
  maxTracked: 10_000,
};

/** A write refused for now: whose bucket is empty, and when it holds bytes again. */
export interface WriteRefusal {
  readonly who: 'account' | 'store';
  readonly retryAfterMs: number;
}

/** Takes writes out of per-account and store-wide buckets. */
export interface WriteBudget {
  /** Charges a write of `bytes` by `account` at `now`, or says why not (nothing is charged then). */
  take(account: string, bytes: number, now: number): WriteRefusal | undefined;
}

/** The store's one bucket's key. */
const STORE = 'store';

/** A budget with `options` over {@link DEFAULT_WRITE_BUDGET}. Throws `RangeError` on a limit that is not a positive number. */
export const createWriteBudget = (options: WriteBudgetOptions = {}): WriteBudget => {
  const o = { ...DEFAULT_WRITE_BUDGET, ...options };
  for (const [name, v] of Object.entries(o)) {
    if (!Number.isFinite(v) || v < (name === 'minChargedBytes' ? 0 : 1)) throw new RangeError(`write budget: ${name} must be a positive number (got ${String(v)})`);
  }
  const accounts = new TokenBuckets(o.accountBytesPerSecond, o.burstBytes, o.maxTracked);
  const store = new TokenBuckets(o.storeBytesPerSecond, o.storeBurstBytes, 1);
  return {
    take: (account, bytes, now) => {
      if (bytes < o.minChargedBytes) return undefined;
      // A write starts while its buckets hold any bytes at all; the account's first: one account's debt is its own.
      if (accounts.level(account, now) <= 0) return { who: 'account', retryAfterMs: accounts.waitFor(account, 1, now) };
      if (store.level(STORE, now) <= 0) return { who: 'store', retryAfterMs: store.waitFor(STORE, 1, now) };
      accounts.take(account, bytes, now);
      store.take(STORE, bytes, now);
      return undefined;
    },
  };
};
