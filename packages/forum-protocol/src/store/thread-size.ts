/**
 * What appending a line to a thread needs to know of it, without its lines:
 * how many lines and messages it has (the next message's number) and its
 * RDT reply size. A store that keeps these beside the thread (PostgreSQL)
 * appends without reading the thread, however long it is.
 */
import { jsonBytes, lineBytes, threadReplyBytes } from './thread-reply-size.js';
import { entryLine, messageCount, type Thread, type ThreadEntry } from './thread.js';

/** A thread's size. */
export interface ThreadSize {
  readonly title: string;
  readonly creator: string;
  /** Lines after the creator line (messages and upload lines). */
  readonly entries: number;
  /** Messages among them: the last message's number. */
  readonly messages: number;
  /** {@link threadReplyBytes} of the thread. */
  readonly replyBytes: number;
}

/** The size of `thread` (its reply size remembered or counted, see thread-reply-size.ts). */
export const threadSize = (thread: Thread): ThreadSize => {
  return { title: thread.title, creator: thread.creator, entries: thread.entries.length, messages: messageCount(thread), replyBytes: threadReplyBytes(thread) };
};

/** Bytes `entry` adds to a thread's reply when appended to a thread of `messages` messages. */
export const appendedEntryBytes = (messages: number, entry: ThreadEntry): number =>
  lineBytes(entryLine(entry, entry.kind === 'message' ? messages + 1 : messages));

/** The size of a thread of size `before` once `entry` is appended. */
export const appendedSize = (before: ThreadSize, entry: ThreadEntry): ThreadSize => ({
  ...before,
  entries: before.entries + 1,
  messages: before.messages + (entry.kind === 'message' ? 1 : 0),
  replyBytes: before.replyBytes + appendedEntryBytes(before.messages, entry),
});

/**
 * The size of a thread of size `before` once one message's text changes from
 * `oldText` to `newText`: its line keeps its number and author, so only the
 * two texts' JSON sizes differ (each sits inside its line's quotes).
 */
export const editedSize = (before: ThreadSize, oldText: string, newText: string): ThreadSize => ({
  ...before,
  replyBytes: before.replyBytes + jsonBytes(newText) - jsonBytes(oldText),
});

/**
 * The size of a thread of size `before` without message number `n`, by
 * `author` with `text`: its line goes, and each later message's number drops
 * by one, which shortens those numbers by as many digits in all as the last
 * number has more than `n`.
 */
export const deletedSize = (before: ThreadSize, deleted: { readonly n: number; readonly author: string; readonly text: string }): ThreadSize => ({
  ...before,
  entries: before.entries - 1,
  messages: before.messages - 1,
  replyBytes: before.replyBytes - lineBytes(`${deleted.n} ${deleted.author}: ${deleted.text}`) - (String(before.messages).length - String(deleted.n).length),
});
