/**
 * How many bytes of large thread writes the data directory takes per second:
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
  /** Most accounts tracked; beyond, the one charged longest ago is forgotten (its bucket has refilled by then but for a few seconds of debt). Default 10,000. */
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

/** Takes large writes out of per-account and store-wide buckets. */
export interface WriteBudget {
  /** Charges a write of `bytes` by `account` at `now`, or says why not (nothing is charged then). */
  take(account: string, bytes: number, now: number): WriteRefusal | undefined;
}

/** A token bucket that may go into debt: `level` bytes at time `at`. */
interface Bucket {
  level: number;
  at: number;
}

const refill = (b: Bucket, rate: number, burst: number, now: number): void => {
  b.level = Math.min(burst, b.level + (Math.max(0, now - b.at) * rate) / 1000);
  b.at = Math.max(b.at, now);
};

const wait = (b: Bucket, rate: number): number => Math.max(1, Math.ceil(((1 - b.level) * 1000) / rate));

/** A budget with `options` over {@link DEFAULT_WRITE_BUDGET}. Throws `RangeError` on a limit that is not a positive number. */
export const createWriteBudget = (options: WriteBudgetOptions = {}): WriteBudget => {
  const o = { ...DEFAULT_WRITE_BUDGET, ...options };
  for (const [name, v] of Object.entries(o)) {
    if (!Number.isFinite(v) || v < (name === 'minChargedBytes' ? 0 : 1)) throw new RangeError(`write budget: ${name} must be a positive number (got ${String(v)})`);
  }
  const store: Bucket = { level: o.storeBurstBytes, at: -Infinity };
  const accounts = new Map<string, Bucket>();
  return {
    take: (account, bytes, now) => {
      if (bytes < o.minChargedBytes) return undefined;
      refill(store, o.storeBytesPerSecond, o.storeBurstBytes, now);
      let mine = accounts.get(account);
      if (mine === undefined) mine = { level: o.burstBytes, at: now };
      else refill(mine, o.accountBytesPerSecond, o.burstBytes, now);
      // The account's own bucket first: one account's debt is its own, not everyone's.
      if (mine.level <= 0) return { who: 'account', retryAfterMs: wait(mine, o.accountBytesPerSecond) };
      if (store.level <= 0) return { who: 'store', retryAfterMs: wait(store, o.storeBytesPerSecond) };
      mine.level -= bytes;
      store.level -= bytes;
      accounts.delete(account);
      accounts.set(account, mine);
      if (accounts.size > o.maxTracked) {
        // A forgotten account starts full again: the one charged longest ago has refilled, or nearly.
        const oldest = accounts.keys().next().value;
        if (oldest !== undefined) accounts.delete(oldest);
      }
      return undefined;
    },
  };
};
