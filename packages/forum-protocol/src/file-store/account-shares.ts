/**
 * What each account's lines hold of all threads: the data directory's lines
 * and bytes are bounded forum-wide (`maxThreadLines`, `maxThreadBytes`), and
 * without a share of its own one account filled them in minutes, after which
 * every MSG and upload line of everyone else was refused until that account
 * deleted its messages (attack round 26). Counted per line's author (a
 * message's, an upload line's), not per thread, since anyone may post to any
 * thread; hand-written lines of no known form count for no one.
 */
import type { HostLevel } from '../limits/host-of.js';
import { entryLine, type ThreadEntry } from '../store/thread.js';

/** Lines and bytes one account's entries hold. */
export interface Share {
  readonly lines: number;
  readonly bytes: number;
}

/** Of the forum-wide `maxThreadBytes`, the share one account may hold by default: one part in this many. */
export const ACCOUNT_SHARE_DIVISOR = 64;

/** The least bytes an account may hold by default, however small `maxThreadBytes` is (but never more than it): small forums are not split 64 ways. */
export const MIN_ACCOUNT_THREAD_BYTES = 1024 * 1024;

/** Default of {@link FileStoreOptions.maxUserThreadBytes}: 1/{@link ACCOUNT_SHARE_DIVISOR} of `maxThreadBytes`, at least {@link MIN_ACCOUNT_THREAD_BYTES}, at most all of it. */
export const defaultMaxUserThreadBytes = (maxThreadBytes: number): number =>
  Math.min(maxThreadBytes, Math.max(MIN_ACCOUNT_THREAD_BYTES, Math.floor(maxThreadBytes / ACCOUNT_SHARE_DIVISOR)));

/** The least lines an account may hold by default (1 MiB of 128-byte lines), however small `maxThreadLines` is (but never more than it). */
export const MIN_ACCOUNT_THREAD_LINES = 8192;

/** Default of {@link FileStoreOptions.maxUserThreadLines}: 1/{@link ACCOUNT_SHARE_DIVISOR} of `maxThreadLines`, at least {@link MIN_ACCOUNT_THREAD_LINES}, at most all of it. */
export const defaultMaxUserThreadLines = (maxThreadLines: number): number =>
  Math.min(maxThreadLines, Math.max(MIN_ACCOUNT_THREAD_LINES, Math.floor(maxThreadLines / ACCOUNT_SHARE_DIVISOR)));

/**
 * The account an entry counts for, and its bytes: the line as a thread file
 * writes it, numbered 1 (the number of a message changes as earlier ones are
 * deleted; its share must not, or a DLT would change other accounts' shares).
 */
export const entryShare = (e: ThreadEntry): { readonly account: string; readonly bytes: number } | undefined => {
  if (e.kind === 'other') return undefined;
  return { account: e.kind === 'message' ? e.author : e.uploader, bytes: Buffer.byteLength(entryLine(e, 1), 'utf8') + 1 };
};

/** Per account, what `after[from…]` holds more than `before[from…]` (negative: less): a change's effect on the shares. */
export const shareChange = (before: readonly ThreadEntry[], after: readonly ThreadEntry[], from: number): Map<string, Share> => {
  const change = new Map<string, Share>();
  const count = (entries: readonly ThreadEntry[], sign: 1 | -1): void => {
    for (let i = from; i < entries.length; i++) {
      const e = entries[i];
      const s = e === undefined ? undefined : entryShare(e);
      if (s === undefined) continue;
      const held = change.get(s.account) ?? { lines: 0, bytes: 0 };
      change.set(s.account, { lines: held.lines + sign, bytes: held.bytes + sign * s.bytes });
    }
  };
  count(before, -1);
  count(after, 1);
  return change;
};

const addTo = (held: Map<string, Share>, key: string, by: Share): void => {
  const cur = held.get(key) ?? { lines: 0, bytes: 0 };
  const next = { lines: cur.lines + by.lines, bytes: cur.bytes + by.bytes };
  if (next.lines === 0 && next.bytes === 0) held.delete(key);
  else held.set(key, next);
};

/**
 * The shares of every account that holds lines, and of every origin level (store/origin-shares.ts: an origin,
 * and an IPv6 origin's /56 and /48): what the lines of the accounts of it hold together, kept with theirs in
 * the same step, so that a check of one is as current as the other's.
 */
export class AccountShares {
  private readonly held = new Map<string, Share>();
  private readonly byLevel = new Map<string, Share>();

  /** `levelsOf`: the levels of the origin an account records (`originLevels`), none if it has none (an account's never changes once it has one). */
  constructor(private readonly levelsOf: (account: string) => readonly HostLevel[] = () => []) {}

  /** What `account`'s lines hold now (with the growth of changes being written). */
  of(account: string): Share {
    return this.held.get(account) ?? { lines: 0, bytes: 0 };
  }

  /** What the lines of the accounts of origin level `key` (an origin, a /56, a /48) hold now, together. */
  ofLevel(key: string): Share {
    return this.byLevel.get(key) ?? { lines: 0, bytes: 0 };
  }

  /** Adds `by` (negative to take away) to `account`'s share, and each of its origin's levels'; an account back at nothing is forgotten. */
  add(account: string, by: Share): void {
    addTo(this.held, account, by);
    for (const level of this.levelsOf(account)) addTo(this.byLevel, level.key, by);
  }

  /**
   * Counts what `account` holds already for its origin, just recorded: lines by its name written before the
   * account was made (by hand) count for its origin from then on, as every later line of it does.
   */
  joined(account: string): void {
    for (const level of this.levelsOf(account)) addTo(this.byLevel, level.key, this.of(account));
  }

  /** Counts (`1`) or stops counting (`-1`) every entry of `entries`. */
  addEntries(entries: readonly ThreadEntry[], sign: 1 | -1): void {
    for (const [account, s] of shareChange([], entries, 0)) this.add(account, { lines: sign * s.lines, bytes: sign * s.bytes });
  }
}
