import { describe, expect, it } from 'vitest';
import { createMemoryStore, MAX_THREAD_ENTRIES, type ThreadEntry } from '../src/index.js';
import { lines, run } from './helpers.js';

describe('lines per thread', () => {
  it(`MSG is refused once a thread holds ${MAX_THREAD_ENTRIES} lines, however short; EDT still works, and DLT makes room`, async () => {
    const entries: ThreadEntry[] = Array.from({ length: MAX_THREAD_ENTRIES }, (_, i) => ({ kind: 'message', author: 'mallory', text: String(i % 10) }));
    const s = createMemoryStore({ threads: [{ title: 't', creator: 'mallory', entries }] });
    const full = ['Thread t is full: it cannot grow any longer (delete or shorten messages, or start a new thread)'];
    expect(await lines(run(s, 'mallory', 'MSG t x'))).toEqual(full);
    expect(await lines(run(s, 'bob', 'MSG t y'))).toEqual(full);
    expect(await lines(run(s, 'mallory', 'EDT t 1 edited'))).toEqual(['The message has been edited']);
    expect(await lines(run(s, 'mallory', 'DLT t 2'))).toEqual(['The message has been deleted']);
    expect(await lines(run(s, 'bob', 'MSG t y'))).toEqual(['Message posted to t thread']);
    expect(await lines(run(s, 'bob', 'MSG t z'))).toEqual(full);
    const rdt = await lines(run(s, 'bob', 'RDT t'));
    expect(rdt).toHaveLength(MAX_THREAD_ENTRIES);
    expect(rdt[0]).toBe('1 mallory: edited');
    expect(rdt.at(-1)).toBe(`${MAX_THREAD_ENTRIES} bob: y`);
  });
});
