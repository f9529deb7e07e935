/**
 * The data-directory store keeps every thread in memory, and a line costs
 * about 60 bytes of heap apart from its text: bounded by bytes alone,
 * one-character MSGs filled `maxThreadBytes` (256 MiB by default) with
 * 6 to 9 times its memory (attack round 25: 231 MiB of such lines took a
 * server to 1.41 GiB, over its 1 GiB memory budget, also after a restart).
 * `maxThreadLines` bounds the lines of all threads (by default one per 128
 * bytes of `maxThreadBytes`).
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileStore, type ForumStore } from '../src/index.js';
import { lines, run, upload } from './helpers.js';
import { heldWrite } from './held-write.js';

// 2,560 bytes: 20 lines by default (one per 128 bytes).
const FULL = 'The forum is full: its threads hold at most 20 lines (delete messages or threads to make room)';
const open = async (dir: string): Promise<ForumStore> => {
  const s = await openFileStore(dir, { maxThreadBytes: 2560, writeBudget: false })();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};
const posted = (replies: readonly (readonly string[])[]): number => replies.filter((r) => r[0]?.startsWith('Message posted') === true).length;

describe('data-directory store: lines of all threads', () => {
  it('one-character MSGs racing on 3 threads stop at the line limit, far under the byte limit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-lines-'));
    const s = await open(dir);
    for (const t of ['t1', 't2', 't3']) await run(s, 'alice', `CRT ${t}`);
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => lines(run(s, 'bob', `MSG t${(i % 3) + 1} x`, `m${i}`))));
    // `N bob: x\n` is 9 or 10 bytes: 30 lines are some 300 bytes, well within 2,560, and only 20 are taken.
    expect(posted(replies)).toBe(20);
    expect(replies.filter((r) => r[0] === FULL)).toHaveLength(10);
    const held = await Promise.all(['t1', 't2', 't3'].map(async (t) => (await lines(run(s, 'bob', `RDT ${t}`))).filter((l) => / bob: x$/.test(l)).length));
    expect(held.reduce((a, b) => a + b, 0)).toBe(20);
  });

  it('counts upload lines, gives lines back on DLT and RMV, and keeps the count across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-lines-'));
    const s = await open(dir);
    await run(s, 'alice', 'CRT t1');
    await run(s, 'alice', 'CRT t2');
    expect(E.isRight(await upload(s, 't1', 'a.bin', 'bob', Buffer.from('a')))).toBe(true);
    for (let i = 0; i < 19; i++) expect(await lines(run(s, 'bob', 'MSG t2 y'))).toEqual(['Message posted to t2 thread']);
    expect(await lines(run(s, 'bob', 'MSG t1 y'))).toEqual([FULL]);
    // Refused before a token is issued, and at the upload's start.
    expect(await lines(run(s, 'bob', 'UPD t1 b.bin'))).toEqual([FULL]);
    expect(await s.beginUpload('t1', 'b.bin', 'bob')()).toEqual(E.left({ kind: 'threadStorageFull', limit: 20, unit: 'lines' }));
    // An edit adds no line: still taken.
    expect(await lines(run(s, 'bob', 'EDT t2 1 longer'))).toEqual(['The message has been edited']);
    expect(await lines(run(s, 'bob', 'DLT t2 1'))).toEqual(['The message has been deleted']);
    expect(await lines(run(s, 'bob', 'MSG t1 y'))).toEqual(['Message posted to t1 thread']);
    expect(await lines(run(s, 'bob', 'MSG t1 y'))).toEqual([FULL]);

    const reopened = await open(dir);
    expect(await lines(run(reopened, 'bob', 'MSG t1 y'))).toEqual([FULL]);
    expect(await lines(run(reopened, 'alice', 'RMV t2'))).toEqual(['Thread t2 removed']);
    expect(E.isRight(await upload(reopened, 't1', 'b.bin', 'bob', Buffer.from('b')))).toBe(true);
    expect(await lines(run(reopened, 'bob', 'MSG t1 y'))).toEqual(['Message posted to t1 thread']);
    expect(readdirSync(dir).filter((n) => n.includes('-')).sort()).toEqual(['t1-a.bin', 't1-b.bin']);
  });

  it('gives a DLT\'s line back only once written: a MSG elsewhere meanwhile cannot pass the limit when the DLT fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-lines-'));
    // The DLT's thread write is held, then answered false (its write fails).
    const held = heldWrite();
    const opened = await openFileStore(dir, { maxThreadBytes: 2560, writeBudget: false, owned: held.owned })();
    if (E.isLeft(opened)) throw new Error(opened.left.message);
    const s = opened.right;
    await run(s, 'alice', 'CRT t1');
    await run(s, 'alice', 'CRT t2');
    for (let i = 0; i < 10; i++) for (const t of ['t1', 't2']) expect(await lines(run(s, 'bob', `MSG ${t} x`))).toEqual([`Message posted to ${t} thread`]);
    const asked = held.arm();
    const dlt = lines(run(s, 'bob', 'DLT t1 1'));
    await asked;
    // The DLT's write is under way: its line is not free yet.
    expect(await lines(run(s, 'bob', 'MSG t2 x'))).toEqual([FULL]);
    held.answer(false);
    expect((await dlt)[0]).not.toBe('The message has been deleted');
    const kept = await Promise.all(['t1', 't2'].map(async (t) => (await lines(run(s, 'bob', `RDT ${t}`))).filter((l) => / bob: x$/.test(l)).length));
    expect(kept).toEqual([10, 10]);
  });

  it('refuses a bad line limit when the store opens', async () => {
    expect(await openFileStore(mkdtempSync(join(tmpdir(), 'forum-lines-')), { maxThreadLines: 0 })()).toEqual(
      E.left({ kind: 'io', message: 'maxThreadLines must be a whole number from 1 (got 0)' }),
    );
  });
});
