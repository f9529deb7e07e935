import { lineBytes, threadReplyBytes } from '../src/store/thread-reply-size.js';
import type { Thread, ThreadEntry } from '../src/index.js';

/** A thread of `count` one-character messages by `creator`. */
export const threadOfLines = (title: string, creator: string, count: number): Thread => ({
  title,
  creator,
  entries: Array.from({ length: count }, (_, i): ThreadEntry => ({ kind: 'message', author: creator, text: String(i % 10) })),
});

/** A thread of messages by `creator` whose RDT reply is exactly `replyBytes` long (long messages, then one cut to fit). */
export const threadOfReplyBytes = (title: string, creator: string, replyBytes: number): Thread => {
  const long = 'x'.repeat(3900);
  const entries: ThreadEntry[] = [];
  let bytes = 2;
  const lineOf = (text: string): number => lineBytes(`${entries.length + 1} ${creator}: ${text}`);
  // Stop with room for one message of 100 to 4,000 characters, which fills it exactly.
  while (replyBytes - bytes > lineOf(long) + 100) {
    bytes += lineOf(long);
    entries.push({ kind: 'message', author: creator, text: long });
  }
  const head = lineOf('');
  entries.push({ kind: 'message', author: creator, text: 'x'.repeat(replyBytes - bytes - head) });
  const thread: Thread = { title, creator, entries };
  if (threadReplyBytes(thread) !== replyBytes) throw new Error(`seeded ${threadReplyBytes(thread)} reply bytes, not ${replyBytes}`);
  return thread;
};
