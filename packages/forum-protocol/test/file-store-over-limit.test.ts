/**
 * A data directory whose threads already hold more than the store's limits
 * (written under an older version, a larger `--max-thread-bytes`, or by
 * hand): lines are treated as bytes are. Every thread is read and served;
 * what would add to the limit passed is refused, what does not is taken,
 * and deletions bring the threads back under it; the open says so once in
 * its warnings (the server prints them at start), for bytes and lines alike.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileStore, type FileStoreOptions, type ForumStore } from '../src/index.js';
import { lines, run, upload } from './helpers.js';

/** A directory with thread `t1` by alice holding `count` lines `N bob: TEXT`. */
function directory(count: number, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'forum-over-limit-'));
  writeFileSync(join(dir, 'credentials.txt'), 'alice pw-a\nbob pw-b\n');
  writeFileSync(join(dir, 't1'), `alice\n${Array.from({ length: count }, (_, i) => `${i + 1} bob: ${text}\n`).join('')}`);
  return dir;
}

const open = async (dir: string, options: FileStoreOptions): Promise<ForumStore> => {
  const s = await openFileStore(dir, { writeBudget: false, ...options })();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};

const messagesOf = async (s: ForumStore): Promise<number> => (await lines(run(s, 'bob', 'RDT t1'))).filter((l) => / bob: /.test(l)).length;

describe('data-directory store: threads already past a limit at the open', () => {
  it('30 lines under a limit of 20: all served, the open warns, a MSG or upload line is refused, an EDT taken, and DLTs make room below the limit', async () => {
    const s = await open(directory(30, 'x'), { maxThreadBytes: 2560 });
    expect(s.warnings).toEqual(['the threads hold 30 lines, more than the 20 they may: all are served, and a MSG or upload line is refused until DLT or RMV brings them under it']);
    expect(await messagesOf(s)).toBe(30);
    const full = 'The forum is full: its threads hold at most 20 lines (delete messages or threads to make room)';
    expect(await lines(run(s, 'bob', 'MSG t1 y'))).toEqual([full]);
    expect(await upload(s, 't1', 'a.bin', 'bob', Buffer.from('a'))).toEqual(E.left({ kind: 'threadStorageFull', limit: 20, unit: 'lines' }));
    expect(await lines(run(s, 'bob', 'EDT t1 1 edited'))).toEqual(['The message has been edited']);
    for (let i = 0; i < 10; i++) expect(await lines(run(s, 'bob', 'DLT t1 1'))).toEqual(['The message has been deleted']);
    // 20 lines: at the limit, still full.
    expect(await lines(run(s, 'bob', 'MSG t1 y'))).toEqual([full]);
    expect(await lines(run(s, 'bob', 'DLT t1 1'))).toEqual(['The message has been deleted']);
    expect(await lines(run(s, 'bob', 'MSG t1 y'))).toEqual(['Message posted to t1 thread']);
    expect(await messagesOf(s)).toBe(20);
  });

  it('the bytes limit alike: 3,000 bytes of threads under a limit of 2,000 are all served, the open warns, a MSG or longer EDT is refused and a shorter one taken', async () => {
    const dir = directory(10, 'z'.repeat(290));
    const s = await open(dir, { maxThreadBytes: 2000, maxThreadLines: 10_000 });
    expect(s.warnings).toHaveLength(1);
    expect(s.warnings[0]).toMatch(/^the threads hold \d+ bytes, more than the 2000 they may: all are served, and a MSG, longer EDT or upload line is refused until DLT or RMV brings them under it$/);
    expect(await messagesOf(s)).toBe(10);
    const full = 'The forum is full: its threads hold at most 2000 bytes (delete messages or threads to make room)';
    expect(await lines(run(s, 'bob', 'MSG t1 y'))).toEqual([full]);
    expect(await lines(run(s, 'bob', `EDT t1 1 ${'z'.repeat(300)}`))).toEqual([full]);
    expect(await lines(run(s, 'bob', 'EDT t1 1 short'))).toEqual(['The message has been edited']);
  });

  it('threads within both limits, or exactly at them, open without a word', async () => {
    expect((await open(directory(20, 'x'), { maxThreadBytes: 2560 })).warnings).toEqual([]);
    expect((await open(directory(5, 'x'), {})).warnings).toEqual([]);
  });
});
