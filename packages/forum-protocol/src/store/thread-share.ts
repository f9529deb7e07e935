/**
 * What one account may hold of a thread it did not create. MSG and UPD may
 * go to any thread and only a line's author may delete it, so without a
 * share one account filled another user's thread to its limits in 40 s,
 * after which its creator could only read it or remove it whole (attack
 * round 27). An account other than the creator may hold at most
 * 1/{@link THREAD_SHARE_DIVISOR} of a thread's limits (its lines' reply bytes
 * and their count, messages and upload lines alike); the creator is exempt
 * (it can remove the thread). Counted from the thread's lines under the
 * thread's lock, as its growth is, never kept beside them: a DLT or a
 * shorter EDT gives room back as it changes the lines.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { ThreadShareFullError } from './errors.js';
import { MAX_THREAD_ENTRIES, MAX_THREAD_REPLY_BYTES } from '../protocol/limits.js';
import { lineBytes } from './thread-reply-size.js';
import { appendedEntryBytes, type ThreadSize } from './thread-size.js';
import { entryLine, type Thread, type ThreadEntry } from './thread.js';

/** An account other than a thread's creator may hold one part in this many of its limits. */
export const THREAD_SHARE_DIVISOR = 8;

/** Most reply bytes the lines of one account other than the creator may hold in a thread. */
export const MAX_USER_THREAD_REPLY_BYTES = Math.floor(MAX_THREAD_REPLY_BYTES / THREAD_SHARE_DIVISOR);

/** Most lines (messages and upload lines) one account other than the creator may hold in a thread. */
export const MAX_USER_THREAD_ENTRIES = Math.floor(MAX_THREAD_ENTRIES / THREAD_SHARE_DIVISOR);

/** What one account's lines hold of a thread: how many, and their bytes in its RDT reply (each line's JSON and comma, as thread-growth.ts counts them). */
export interface ThreadHolding {
  readonly entries: number;
  readonly bytes: number;
}

/** The account a line counts for: a message's author, an upload line's uploader; a hand-written line of no known form counts for no one. */
export const entryAccount = (e: ThreadEntry): string | undefined => (e.kind === 'message' ? e.author : e.kind === 'upload' ? e.uploader : undefined);

/**
 * Whether `account`'s holding in a thread of size `size` needs counting: it
 * is not the creator, and the thread holds more than a share (no account's
 * lines can hold more than the thread, so a smaller thread is never read
 * line by line for it).
 */
export const holdingCounted = (size: ThreadSize, account: string | undefined): account is string =>
  account !== undefined && account !== size.creator && (size.entries > MAX_USER_THREAD_ENTRIES || size.replyBytes - 2 > MAX_USER_THREAD_REPLY_BYTES);

// Reply bytes of an entry's line numbered 1, per entry: the stores keep an entry's object while it is unchanged, so a
// walk of a large thread for one account's share (every MSG of it there) costs a lookup a line, not encoding its lines.
const numberedOne = new WeakMap<ThreadEntry, number>();

/** Reply bytes of entry `e`'s line numbered `n` (the number is ASCII digits, in place of `1`). */
const lineBytesAt = (e: ThreadEntry, n: number): number => {
  let one = numberedOne.get(e);
  if (one === undefined) {
    one = lineBytes(entryLine(e, 1));
    numberedOne.set(e, one);
  }
  return e.kind === 'message' ? one + String(n).length - 1 : one;
};

/** What `account`'s lines hold of `thread`, each numbered as RDT numbers it. */
export const holdingIn = (thread: Thread, account: string): ThreadHolding => {
  let n = 0;
  let entries = 0;
  let bytes = 0;
  for (const e of thread.entries) {
    if (e.kind === 'message') n += 1;
    if (entryAccount(e) !== account) continue;
    entries += 1;
    bytes += lineBytesAt(e, n);
  }
  return { entries, bytes };
};

/**
 * `held`, an account's lines in a thread of size `before`, with its line `entry` appended: one line more, its
 * bytes as numbered there. The stores read `held` their own way (the thread's lines, or its rows).
 */
export const withAppended = (held: ThreadHolding, before: ThreadSize, entry: ThreadEntry): ThreadHolding => ({
  entries: held.entries + 1,
  bytes: held.bytes + appendedEntryBytes(before.messages, entry),
});

/**
 * Refuses a change that leaves the account making it holding more of thread
 * `title` than its share: `mine` is its holding after the change, absent when
 * not counted ({@link holdingCounted}: the creator, a small thread).
 */
export const threadShareGuard =
  (title: string) =>
  (mine: ThreadHolding | undefined): E.Either<ThreadShareFullError, void> => {
    if (mine === undefined) return E.right(undefined);
    if (mine.bytes > MAX_USER_THREAD_REPLY_BYTES) return E.left({ kind: 'threadShareFull', title, limit: MAX_USER_THREAD_REPLY_BYTES });
    if (mine.entries > MAX_USER_THREAD_ENTRIES) return E.left({ kind: 'threadShareFull', title, limit: MAX_USER_THREAD_ENTRIES, unit: 'lines' });
    return E.right(undefined);
  };
