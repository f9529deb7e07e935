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
export const jsonBytes = (text: string): number => Buffer.byteLength(JSON.stringify(text));

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
