import { describe, expect, it } from 'vitest';
import {
  createMemoryStore,
  encodeServerMessage,
  MAX_NAME_BYTES,
  MAX_SERVER_MESSAGE_BYTES,
  MAX_THREADS,
  resolveThreadLimits,
  DEFAULT_THREADS_PER_USER,
  ORIGIN_SHARES,
  type Thread,
} from '../src/index.js';
import { replyOf, run } from './helpers.js';

describe('thread limits', () => {
  it('a forum at MAX_THREADS of the worst titles (every byte a quote, escaped twice as long) still answers LST, and refuses one more', async () => {
    const titles = Array.from({ length: MAX_THREADS }, (_, i) => `${'"'.repeat(MAX_NAME_BYTES - 5)}${String(i).padStart(5, '0')}`);
    expect(titles.every((t) => Buffer.byteLength(t) === MAX_NAME_BYTES)).toBe(true);
    const threads: Thread[] = titles.map((title, i) => ({ title, creator: `u${i % 1000}`, entries: [] }));
    const store = createMemoryStore({ threads });
    const reply = replyOf(await run(store, 'alice', 'LST'));
    expect(reply.status).toBe('ok');
    expect(reply.lines).toHaveLength(1 + MAX_THREADS);
    const bytes = encodeServerMessage(reply);
    expect(bytes.length).toBeLessThanOrEqual(MAX_SERVER_MESSAGE_BYTES / 2 + 1024);
    expect(replyOf(await run(store, 'alice', 'CRT one-more')).lines).toEqual([`The forum is full (at most ${MAX_THREADS} threads): no thread can be created until one is removed`]);
  });

  it('limits are checked when a store opens', () => {
    expect(resolveThreadLimits()).toEqual({ maxThreads: MAX_THREADS, maxThreadsPerUser: DEFAULT_THREADS_PER_USER, originShares: ORIGIN_SHARES });
    expect(resolveThreadLimits({ maxThreadsPerUser: 3, originShares: 0 })).toEqual({ maxThreads: MAX_THREADS, maxThreadsPerUser: 3, originShares: 0 });
    for (const bad of [{ maxThreads: 0 }, { maxThreads: MAX_THREADS + 1 }, { maxThreadsPerUser: 1.5 }, { maxThreadsPerUser: Number.NaN }, { originShares: -1 }, { originShares: 0.5 }]) {
      expect(() => resolveThreadLimits(bad)).toThrow(RangeError);
    }
    expect(() => createMemoryStore({}, { threadLimits: { maxThreadsPerUser: 0 } })).toThrow(/maxThreadsPerUser must be a whole number from 1/);
  });
});
