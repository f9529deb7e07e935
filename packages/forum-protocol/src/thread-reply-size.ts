/**
 * How large a thread's RDT reply is: its lines as a JSON array, in UTF-8
 * bytes. MSG and EDT check it against `MAX_THREAD_REPLY_BYTES` on every
 * write, so it is remembered per thread value (threads are immutable: the
 * store hands back the value the last write made) and a MSG or EDT costs one
 * line's size instead of re-encoding a thread of megabytes (an EDT loop on a
 * full thread cost about a tenth of a second of CPU each, and slowed every
 * other user).
 */
import { formatEntriesFrom, threadLines, type Thread } from './thread.js';

const known = new WeakMap<Thread, number>();

/** Bytes `text` takes in JSON: the string with its escapes and quotes. */
const jsonBytes = (text: string): number => Buffer.byteLength(JSON.stringify(text));

/** Bytes `line` adds to a JSON array of strings: the string with its escapes and quotes, and a comma. */
const lineBytes = (line: string): number => jsonBytes(line) + 1;

/** Bytes of `thread`'s RDT lines as a JSON array (an upper bound by one comma). */
export const threadReplyBytes = (thread: Thread): number => {
  const cached = known.get(thread);
  if (cached !== undefined) return cached;
  const bytes = threadLines(thread).reduce((sum, line) => sum + lineBytes(line), 2);
  known.set(thread, bytes);
  return bytes;
};

/**
 * {@link threadReplyBytes} of `next`, which is `thread` with one entry
 * appended: one line's work when `thread`'s size is known.
 */
export const appendedReplyBytes = (thread: Thread, next: Thread): number => {
  const before = known.get(thread);
  if (before === undefined || next.entries.length !== thread.entries.length + 1) return threadReplyBytes(next);
  // The appended entry's line as the thread file has it (numbered after the messages before it), less its newline.
  const bytes = before + lineBytes(formatEntriesFrom(next, thread.entries.length).slice(0, -1));
  known.set(next, bytes);
  return bytes;
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
