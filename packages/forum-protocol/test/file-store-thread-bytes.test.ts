/**
 * The data-directory store keeps every thread in memory: `maxThreadBytes`
 * bounds all thread files together, so MSG/EDT from a few accounts cannot
 * grow the server without end (an attack filled 665 MiB of RSS in four
 * minutes, and the memory budget then refused every login, even after a
 * restart).
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileStore, type ForumStore } from '../src/index.js';
import { lines, run } from './helpers.js';

const FULL = /^The forum is full: its threads hold at most 2000 bytes \(delete messages or threads to make room\)$/;
const open = async (dir: string, maxThreadBytes = 2000): Promise<ForumStore> => {
  const s = await openFileStore(dir, { maxThreadBytes })();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};
const threadFileBytes = (dir: string): number => readdirSync(dir).filter((n) => n.startsWith('t')).reduce((n, f) => n + statSync(join(dir, f)).size, 0);

describe('data-directory store: bytes of all threads', () => {
  it('refuses a MSG or a longer EDT past the limit, takes what shrinks, and makes room on DLT and RMV; the count survives a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-bytes-'));
    const s = await open(dir);
    await run(s, 'alice', 'CRT t1');
    await run(s, 'alice', 'CRT t2');
    const text = 'x'.repeat(400);
    const replies: string[] = [];
    for (let i = 0; i < 6; i++) replies.push(...(await lines(run(s, 'bob', `MSG ${i % 2 === 0 ? 't1' : 't2'} ${text}`))));
    expect(replies.filter((l) => l.startsWith('Message posted'))).toHaveLength(4);
    expect(replies.filter((l) => FULL.test(l))).toHaveLength(2);
    expect(threadFileBytes(dir)).toBeLessThanOrEqual(2000);
    expect((await lines(run(s, 'bob', `EDT t1 1 ${text}${text}`)))[0]).toMatch(FULL);
    expect(await lines(run(s, 'bob', 'EDT t1 1 short'))).toEqual(['The message has been edited']);
    // The edit gave back about 395 bytes: two more 300-byte messages fit, a third does not.
    expect(await lines(run(s, 'alice', `MSG t2 ${'z'.repeat(300)}`))).toEqual(['Message posted to t2 thread']);
    expect(await lines(run(s, 'alice', `MSG t2 ${'z'.repeat(300)}`))).toEqual(['Message posted to t2 thread']);
    expect((await lines(run(s, 'alice', `MSG t2 ${'z'.repeat(300)}`)))[0]).toMatch(FULL);

    const reopened = await open(dir);
    expect((await lines(run(reopened, 'alice', `MSG t2 ${'z'.repeat(300)}`)))[0]).toMatch(FULL);
    expect(await lines(run(reopened, 'alice', 'RMV t2'))).toEqual(['Thread t2 removed']);
    expect(await lines(run(reopened, 'alice', `MSG t1 ${'z'.repeat(300)}`))).toEqual(['Message posted to t1 thread']);
  });

  it('holds under concurrency: MSGs racing on 20 threads at once never take the files past the limit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-bytes-'));
    const s = await open(dir);
    for (let i = 0; i < 20; i++) await run(s, 'alice', `CRT t${i}`);
    const base = threadFileBytes(dir);
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => lines(run(s, 'bob', `MSG t${i % 20} ${'m'.repeat(90)}`, `r${i}`))));
    const posted = replies.filter((r) => r[0]?.startsWith('Message posted')).length;
    expect(posted).toBeGreaterThan(0);
    expect(replies.filter((r) => FULL.test(r[0] ?? '')).length).toBe(60 - posted);
    expect(threadFileBytes(dir)).toBeLessThanOrEqual(2000);
    // Each line is `N bob: m…\n`, about 100 bytes: the limit was filled, not left half empty.
    expect(threadFileBytes(dir)).toBeGreaterThan(2000 - 110);
    expect(base).toBeLessThan(2000);
  });

  it('refuses a bad limit when the store opens', async () => {
    expect(await openFileStore(mkdtempSync(join(tmpdir(), 'forum-bytes-')), { maxThreadBytes: 0 })()).toEqual(
      E.left({ kind: 'io', message: 'maxThreadBytes must be a whole number from 1 (got 0)' }),
    );
  });
});
