import { describe, expect, it } from 'vitest';
import { rememberReplyBytes, threadReplyBytes } from '../src/store/thread-reply-size.js';
import { appendedSize, deletedSize, editedSize, threadSize } from '../src/store/thread-size.js';
import { messageCount, messageIndex, type Thread, type ThreadEntry } from '../src/store/thread.js';
import { prng } from './seeded-random.js';

/** A copy with the same content: its size is computed afresh, not remembered. */
const fresh = (t: Thread): Thread => JSON.parse(JSON.stringify(t)) as Thread;

const TEXTS = ['plain', 'quote " and \\ backslash', 'é and 😀', '\u0001 control', '\t tab', '', 'x'.repeat(3000)];

/** `thread` with `entry` appended, its size computed from the size before and remembered. */
const append = (thread: Thread, entry: ThreadEntry): Thread => {
  const next: Thread = { ...thread, entries: [...thread.entries, entry] };
  rememberReplyBytes(next, appendedSize(threadSize(thread), entry).replyBytes);
  return next;
};

describe('RDT reply size, kept per thread value', () => {
  it('an append adds its line alone, numbered after the messages before it, and agrees with a full count', () => {
    let thread: Thread = { title: 't', creator: 'alice', entries: [] };
    for (let i = 0; i < 120; i++) {
      const entry: ThreadEntry = i % 7 === 3 ? { kind: 'upload', uploader: 'bob', filename: `f${i}` } : { kind: 'message', author: 'bob', text: TEXTS[i % TEXTS.length] ?? '' };
      const after = appendedSize(threadSize(thread), entry);
      thread = append(thread, entry);
      expect(after).toEqual({ title: 't', creator: 'alice', entries: i + 1, messages: messageCount(thread), replyBytes: threadReplyBytes(fresh(thread)) });
    }
  });

  it('an EDT changes it by the two texts alone, escapes included, and agrees with a full count', () => {
    let thread: Thread = { title: 't', creator: 'alice', entries: [] };
    for (const text of TEXTS) thread = append(thread, { kind: 'message', author: 'bob', text });
    thread = append(thread, { kind: 'upload', uploader: 'bob', filename: 'f' });
    for (let i = 0; i < TEXTS.length; i++) {
      for (const text of [...TEXTS].reverse()) {
        const old = thread.entries[i];
        if (old?.kind !== 'message') throw new Error('expected a message');
        const next: Thread = { ...thread, entries: thread.entries.map((e, j) => (j === i ? { ...old, text } : e)) };
        const size = editedSize(threadSize(thread), old.text, text);
        expect(size).toEqual(threadSize(fresh(next)));
        // Remembered, so the next edit goes on from this size, as a store that keeps it does.
        rememberReplyBytes(next, size.replyBytes);
        thread = next;
      }
    }
  });

  it('a DLT takes its line and one digit for each power of ten the later numbers drop below, and agrees with a full count', () => {
    const random = prng(7);
    let thread: Thread = { title: 't', creator: 'alice', entries: [] };
    // Past 100 messages, so deletes renumber across both 100 and 10.
    for (let i = 0; i < 130; i++) thread = append(thread, i % 9 === 4 ? { kind: 'upload', uploader: 'bob', filename: `f${i}` } : { kind: 'message', author: 'bob', text: TEXTS[i % TEXTS.length] ?? '' });
    for (let messages = messageCount(thread); messages > 0; messages--) {
      const n = 1 + Math.floor(random() * messages);
      const i = messageIndex(thread, n);
      const old = thread.entries[i];
      if (old?.kind !== 'message') throw new Error('expected a message');
      const next: Thread = { ...thread, entries: thread.entries.filter((_, j) => j !== i) };
      const size = deletedSize(threadSize(thread), { n, author: old.author, text: old.text });
      expect(size).toEqual(threadSize(fresh(next)));
      rememberReplyBytes(next, size.replyBytes);
      thread = next;
    }
  });
});
