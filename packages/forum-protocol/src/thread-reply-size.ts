/**
 * How large a thread's RDT reply is: its lines as a JSON array, in UTF-8
 * bytes. MSG and EDT check it against `MAX_THREAD_REPLY_BYTES` on every
 * write, so it is remembered per thread value (threads are immutable: the
 * store hands back the value the last write made) and a MSG or EDT costs one
 * line's size instead of re-encoding a thread of megabytes (an EDT loop on a
 * full thread cost about a tenth of a second of CPU each, and slowed every
 * other user).
 */
import { threadLines, type Thread } from './thread.js';

const known = new WeakMap<Thread, number>();

/** Bytes `text` takes in JSON: the string with its escapes and quotes. */
const jsonBytes = (text: string): number => Buffer.byteLength(JSON.stringify(text));

/** Bytes `line` adds to a JSON array of strings: the string with its escapes and quotes, and a comma. */
export const lineBytes = (line: string): number => jsonBytes(line) + 1;

/** Bytes of `thread`'s RDT lines as a JSON array (an upper bound by one comma). */
export const threadReplyBytes = (thread: Thread): number => {
  const cached = known.get(thread);
  if (cached !== undefined) return cached;
  const bytes = threadLines(thread).reduce((sum, line) => sum + lineBytes(line), 2);
  known.set(thread, bytes);
  return bytes;
};

/**
 * Remembers that `thread`'s size is `bytes`, for a store that keeps the size
 * beside the thread (or has just computed it): the next MSG, EDT or DLT of
 * this value then costs one line's work. `bytes` must be exact.
 */
export const rememberReplyBytes = (thread: Thread, bytes: number): void => {
  known.set(thread, bytes);
};

/**
 * {@link threadReplyBytes} of `next`, which is `thread` with one message's
 * text changed from `oldText` to `newText`: its line keeps its number and
 * author, so only the two texts' JSON sizes differ.
 */
export const editedReplyBytes = (thread: Thread, next: Thread, oldText: string, newText: string): number => {
  const before = known.get(thread);
  if (before === undefined) return threadReplyBytes(next);
  // Each text sits inside its line's JSON string with its own escapes; the quotes, the line's, cancel out.
  const bytes = before + jsonBytes(newText) - jsonBytes(oldText);
  known.set(next, bytes);
  return bytes;
};

/**
 * {@link threadReplyBytes} of `next`, which is `thread` without message
 * number `n` (of `messages` in `thread`), by `author` with `text`: its line
 * goes, and each later message's number drops by one, which shortens those
 * numbers by as many digits in all as `messages` has more than `n`.
 */
export const deletedReplyBytes = (thread: Thread, next: Thread, deleted: { readonly n: number; readonly messages: number; readonly author: string; readonly text: string }): number => {
  const before = known.get(thread);
  if (before === undefined) return threadReplyBytes(next);
  const { n, messages, author, text } = deleted;
  const bytes = before - lineBytes(`${n} ${author}: ${text}`) - (String(messages).length - String(n).length);
  known.set(next, bytes);
  return bytes;
};
