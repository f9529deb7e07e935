import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileStore, type ForumStore, type WriteBudgetOptions } from '../src/index.js';
import { lines, run } from './helpers.js';

const KiB = 1024;

const open = async (dir: string, writeBudget: WriteBudgetOptions | false, clock: () => number): Promise<ForumStore> => {
  const s = await openFileStore(dir, { writeBudget, clock })();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};

/** A thread `title` by `user` of 40 messages of 4,000 bytes: 160 KB, so an edit of message 1 rewrites it all. */
const bigThread = async (s: ForumStore, user: string, title: string): Promise<void> => {
  await run(s, user, `CRT ${title}`);
  for (let i = 0; i < 40; i++) await run(s, user, `MSG ${title} ${String(i).padStart(4000, 'x')}`);
};

describe('data-directory store: write budget', () => {
  it("an account rewriting large threads too fast is told when to retry; its small writes, and other accounts' writes, go on", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-wb-'));
    let now = 0;
    const s = await open(dir, { accountBytesPerSecond: 100 * KiB, burstBytes: 200 * KiB, storeBytesPerSecond: 10_000 * KiB }, () => now);
    await bigThread(s, 'mallory', 'big');
    await bigThread(s, 'ann', 'mine');
    // 160 KB of the 200 KB burst, then the account is in debt (-120 KB) until 1.2 s later.
    expect(await lines(run(s, 'mallory', 'EDT big 1 one'))).toEqual(['The message has been edited']);
    expect(await lines(run(s, 'mallory', 'EDT big 1 two'))).toEqual(['The message has been edited']);
    expect(await lines(run(s, 'mallory', 'EDT big 1 three'))).toEqual(['You are rewriting large threads too fast: try again in 2 s']);
    expect(await lines(run(s, 'mallory', 'DLT big 1'))).toEqual(['You are rewriting large threads too fast: try again in 2 s']);
    // Nothing of the refused changes reached the file.
    expect(readFileSync(join(dir, 'big'), 'utf8').split('\n')[1]).toBe('1 mallory: two');
    // Small writes are not charged: appends, and an edit near the end of the thread.
    expect(await lines(run(s, 'mallory', 'MSG big short'))).toEqual(['Message posted to big thread']);
    expect(await lines(run(s, 'mallory', 'EDT big 41 shorter'))).toEqual(['The message has been edited']);
    // Another account has its own budget.
    expect(await lines(run(s, 'ann', 'EDT mine 1 fine'))).toEqual(['The message has been edited']);
    expect(await lines(run(s, 'mallory', 'EDT big 1 three'))).toEqual(['You are rewriting large threads too fast: try again in 2 s']);
    now = 1_300;
    expect(await lines(run(s, 'mallory', 'EDT big 1 three'))).toEqual(['The message has been edited']);
    expect(readFileSync(join(dir, 'big'), 'utf8').split('\n')[1]).toBe('1 mallory: three');
  });

  it('a thread of short lines then long ones cannot make a rewrite of its long tail look small', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-wb-'));
    const s = await open(dir, { accountBytesPerSecond: 100 * KiB, burstBytes: 1000 * KiB }, () => 0);
    await run(s, 'mallory', 'CRT t');
    // Posted together, so the store writes each group at once.
    await Promise.all(Array.from({ length: 900 }, (_, i) => run(s, 'mallory', `MSG t ${i}`)));
    await Promise.all(Array.from({ length: 100 }, () => run(s, 'mallory', `MSG t ${'y'.repeat(4000)}`)));
    // Message 901 is a tenth of the entries but nearly all of the bytes: each edit rewrites a 400 KB tail,
    // which the undo journal copies first, 800 KB on disk. Two fit the 1,000 KiB burst; the third waits.
    expect(await lines(run(s, 'mallory', 'EDT t 901 a'))).toEqual(['The message has been edited']);
    expect(await lines(run(s, 'mallory', 'EDT t 901 b'))).toEqual(['The message has been edited']);
    expect(await lines(run(s, 'mallory', 'EDT t 901 c'))).toEqual([expect.stringMatching(/^You are rewriting large threads too fast: try again in \d+ s$/)]);
  });

  it('a change is charged what it writes, not a bound: edits near the end of a thread of short lines stay free', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-wb-'));
    const s = await open(dir, { accountBytesPerSecond: KiB, burstBytes: 10 * KiB }, () => 0);
    await run(s, 'ann', 'CRT t');
    await Promise.all(Array.from({ length: 2000 }, () => run(s, 'ann', 'MSG t x')));
    // Eleven short lines from message 1,990 on: about 260 bytes written, under the 4 KiB never charged.
    for (let i = 0; i < 20; i++) expect(await lines(run(s, 'ann', `EDT t 1990 e${i}`))).toEqual(['The message has been edited']);
  });

  it('the whole store is bounded too: when its bytes are spent every account waits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-wb-'));
    const s = await open(dir, { accountBytesPerSecond: 10_000 * KiB, burstBytes: 200 * KiB, storeBytesPerSecond: 100 * KiB, storeBurstBytes: 200 * KiB }, () => 0);
    await bigThread(s, 'a', 'one');
    await bigThread(s, 'b', 'two');
    expect(await lines(run(s, 'a', 'EDT one 1 x'))).toEqual(['The message has been edited']);
    expect(await lines(run(s, 'b', 'EDT two 1 y'))).toEqual(['The message has been edited']);
    expect(await lines(run(s, 'b', 'EDT two 1 z'))).toEqual(['The server is busy rewriting large threads: try again in 2 s']);
  });

  it('`writeBudget: false` lets every write through', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-wb-'));
    const s = await open(dir, false, () => 0);
    await bigThread(s, 'a', 't');
    for (let i = 0; i < 10; i++) expect(await lines(run(s, 'a', `EDT t 1 edit ${i}`))).toEqual(['The message has been edited']);
  });
});
