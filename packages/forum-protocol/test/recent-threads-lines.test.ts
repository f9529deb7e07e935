/**
 * The PostgreSQL store keeps the large threads it read whole lately (postgres-recent-threads.ts),
 * bounded by 16 MiB. Counted by reply bytes alone, threads of one-character lines (some 13 bytes
 * of reply a line, some 60 bytes of heap) kept about 8 times the bound in memory (attack round 25):
 * each line now counts its entry's memory too.
 */
import { describe, expect, it } from 'vitest';
import { ENTRY_HEAP_BYTES, RecentThreads } from '../src/postgres-store/postgres-recent-threads.js';
import type { Thread, ThreadEntry } from '../src/store/thread.js';

/** A thread of `n` one-character messages; its reply is about 13 bytes a line. */
const tiny = (title: string, n: number): Thread => ({
  title,
  creator: 'a',
  entries: Array.from({ length: n }, (): ThreadEntry => ({ kind: 'message', author: 'a', text: 'x' })),
});

describe('recent threads of PostgreSQL: what they count', () => {
  it('counts each line as well as the reply bytes, so threads of one-character lines keep no more than the bound in memory', () => {
    const bound = 4 * 1024 * 1024;
    const recent = new RecentThreads(bound);
    // 10,000 lines: 130,000 bytes of reply, 960,000 of entries.
    for (let i = 0; i < 30; i++) recent.set({ id: String(i), version: '1' }, tiny(`t${i}`, 10_000), 130_000);
    const kept = Array.from({ length: 30 }, (_, i) => i).filter((i) => recent.has(`t${i}`));
    // Counted by bytes alone, all 30 (3.9 MB of reply, 28.5 MB of entries' heap) were kept.
    // 4 MiB ÷ (130,000 + 10,000 × 96) bytes: the newest 3.
    expect(ENTRY_HEAP_BYTES).toBe(96);
    expect(kept.length).toBe(3);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 30 - kept.length + i));
  });

  it('still keeps a full thread of long lines, and drops the oldest to make room', () => {
    const recent = new RecentThreads();
    const long: Thread = { title: 'big', creator: 'a', entries: Array.from({ length: 1000 }, (): ThreadEntry => ({ kind: 'message', author: 'a', text: 'y'.repeat(4000) })) };
    recent.set({ id: '1', version: '1' }, long, 4_010_000);
    expect(recent.get('big', { id: '1', version: '1' })).toBe(long);
    for (let i = 0; i < 4; i++) recent.set({ id: String(i + 2), version: '1' }, { ...long, title: `b${i}` }, 4_010_000);
    expect(recent.has('big')).toBe(false);
    expect(recent.has('b3')).toBe(true);
  });
});
