import { describe, expect, it } from 'vitest';
import { appendedReplyBytes, editedReplyBytes, threadReplyBytes } from '../src/thread-reply-size.js';
import type { Thread } from '../src/thread.js';

/** A copy with the same content: its size is computed afresh, not remembered. */
const fresh = (t: Thread): Thread => JSON.parse(JSON.stringify(t)) as Thread;

describe('RDT reply size, kept per thread value', () => {
  it('an EDT changes it by the two texts alone, escapes included, and agrees with a full count', () => {
    const texts = ['plain', 'quote " and \\ backslash', 'é and 😀', '\u0001 control', '', 'x'.repeat(3000)];
    let thread: Thread = { title: 't', creator: 'alice', entries: [] };
    threadReplyBytes(thread);
    for (const text of texts) {
      const next: Thread = { ...thread, entries: [...thread.entries, { kind: 'message', author: 'bob', text }] };
      appendedReplyBytes(thread, next);
      thread = next;
    }
    thread = { ...thread, entries: [...thread.entries, { kind: 'upload', uploader: 'bob', filename: 'f' }] };
    threadReplyBytes(thread);
    for (let i = 0; i < texts.length; i++) {
      for (const text of [...texts].reverse()) {
        const old = thread.entries[i];
        if (old?.kind !== 'message') throw new Error('expected a message');
        const next: Thread = { ...thread, entries: thread.entries.map((e, j) => (j === i ? { ...old, text } : e)) };
        expect(editedReplyBytes(thread, next, old.text, text)).toBe(threadReplyBytes(fresh(next)));
        thread = next;
      }
    }
  });
});
