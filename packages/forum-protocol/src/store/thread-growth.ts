/**
 * The limits on a line appended to a thread, a message (MSG) or an upload's
 * line (UPD) alike: every store checks them under the thread's lock, so no
 * mix of concurrent commands can take a thread past them. An upload that
 * skipped them let one account grow a thread by many small files until its
 * RDT reply no longer fit, or cost every change of it more CPU.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { ThreadFullError, ThreadShareFullError } from './errors.js';
import { MAX_THREAD_ENTRIES, MAX_THREAD_REPLY_BYTES } from '../protocol/limits.js';
import type { AppendGuard } from './store.js';
import { rememberReplyBytes } from './thread-reply-size.js';
import { entryAccount, holdingCounted, holdingIn, threadShareGuard, withAppended, type ThreadHolding } from './thread-share.js';
import { appendedSize, threadSize, type ThreadSize } from './thread-size.js';
import type { Thread, ThreadEntry } from './thread.js';

/**
 * Refuses a thread growing past {@link MAX_THREAD_ENTRIES} lines or an RDT
 * reply of {@link MAX_THREAD_REPLY_BYTES}, with `threadFull` naming `title`
 * (the title as the user typed it); then the line's account holding more of
 * it than its share (`threadShareFull`, thread-share.ts). A full thread is
 * said first: it is full whoever asks.
 */
export const threadGrowthGuard =
  (title: string): AppendGuard<ThreadFullError | ThreadShareFullError> =>
  (after, mine) =>
    overThreadLimits(after) ? E.left({ kind: 'threadFull', title }) : threadShareGuard(title)(mine);

/**
 * Whether a thread of size `after` is past its limits: {@link threadGrowthGuard} refuses it as full whoever
 * asks, so an append's share is not read for it (on PostgreSQL a read of the thread's lines, under its row's
 * lock, for every MSG to a full thread: attack round 28).
 */
export const overThreadLimits = (after: ThreadSize): boolean =>
  // A line more past MAX_THREAD_ENTRIES would make every change of the thread cost more CPU, however short its lines.
  after.entries > MAX_THREAD_ENTRIES || after.replyBytes > MAX_THREAD_REPLY_BYTES;

/**
 * What the account of `entry` holds of `thread` once `entry` is appended (the thread of size `before`,
 * `after`), if counted (thread-share.ts): its lines before, read from the thread, and the new one.
 */
const holdingAfter = (thread: Thread, before: ThreadSize, after: ThreadSize, entry: ThreadEntry): ThreadHolding | undefined => {
  const account = entryAccount(entry);
  if (overThreadLimits(after) || !holdingCounted(after, account)) return undefined;
  return withAppended(holdingIn(thread, account), before, entry);
};

/** What `guard` says of `thread` grown by `entry`, from its size (and the entry's account's lines, if counted); its lines are not copied. */
export const checkAppend = <Err>(thread: Thread, entry: ThreadEntry, guard: AppendGuard<Err>): E.Either<Err, void> => {
  const before = threadSize(thread);
  const after = appendedSize(before, entry);
  return guard(after, holdingAfter(thread, before, after, entry));
};

/**
 * `thread` with `entry` appended, if `guard` allows the size it grows to.
 * The new thread's reply size is remembered, so the next append or edit of
 * it costs one line's work.
 */
export const appendGuarded = <Err>(thread: Thread, entry: ThreadEntry, guard: AppendGuard<Err>): E.Either<Err, Thread> => {
  const before = threadSize(thread);
  const after = appendedSize(before, entry);
  return E.map(() => {
    const next: Thread = { ...thread, entries: [...thread.entries, entry] };
    rememberReplyBytes(next, after.replyBytes);
    return next;
  })(guard(after, holdingAfter(thread, before, after, entry)));
};
