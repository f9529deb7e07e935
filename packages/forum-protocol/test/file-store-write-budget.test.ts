import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandErrorText, openFileStore, type ForumStore, type WriteBudgetOptions } from '../src/index.js';
import { lines, run, upload } from './helpers.js';

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

/**
 * Writes a hand-written thread `title` by `user` (CRLF line ends) of 40 messages of 4,000 bytes, about 160 KB:
 * not as the store writes it, so its first change rewrites it whole, an appended line too.
 */
const handWrittenThread = (dir: string, title: string, user: string): string => {
  const text = [user, ...Array.from({ length: 40 }, (_, i) => `${i + 1} ${user}: ${String(i).padStart(4000, 'x')}`)].join('\r\n') + '\r\n';
  writeFileSync(join(dir, title), text);
  return text;
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

  it("an upload's line is charged as a MSG's: refused with the MSG's line when the account's bytes are spent, and nothing of it kept", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-wb-'));
    for (const t of ['a', 'b']) handWrittenThread(dir, t, 'mallory');
    const before = handWrittenThread(dir, 'c', 'mallory');
    let now = 0;
    const s = await open(dir, { accountBytesPerSecond: 100 * KiB, burstBytes: 200 * KiB, storeBytesPerSecond: 10_000 * KiB }, () => now);
    // Each first change rewrites a 160 KB file: the first two take the 200 KiB burst and put the account in debt.
    expect(await lines(run(s, 'mallory', 'MSG a one'))).toEqual(['Message posted to a thread']);
    expect(await lines(run(s, 'mallory', 'MSG b one'))).toEqual(['Message posted to b thread']);
    const spent = 'You are rewriting large threads too fast: try again in 2 s';
    expect(await lines(run(s, 'mallory', 'MSG c one'))).toEqual([spent]);
    // An upload to c would rewrite it whole as well: refused at commit, as the MSG was.
    const refused = await upload(s, 'c', 'f.bin', 'mallory', Buffer.from('bytes'));
    expect(refused).toEqual(E.left({ kind: 'writeRate', who: 'account', retryAfterMs: expect.any(Number) }));
    if (E.isRight(refused)) return;
    expect(commandErrorText(refused.left)).toBe(spent);
    // Nothing of it stays: no upload file, no temporary file or intent record, the thread as it was.
    expect(readdirSync(dir).sort()).toEqual(['a', 'b', 'c']);
    expect(readFileSync(join(dir, 'c'), 'utf8')).toBe(before);
    expect(await lines(run(s, 'mallory', 'DWN c f.bin'))).toEqual(['File does not exist in Thread c']);
    // An upload to a thread the store wrote appends its line, which no MSG pays for either: free even in debt.
    expect(await lines(run(s, 'mallory', 'MSG a two'))).toEqual(['Message posted to a thread']);
    expect(await upload(s, 'a', 'g.bin', 'mallory', Buffer.from('bytes'))).toEqual(E.right(undefined));
    // Once the account has bytes again, the same upload goes through.
    now = 2_000;
    expect(await upload(s, 'c', 'f.bin', 'mallory', Buffer.from('bytes'))).toEqual(E.right(undefined));
    expect((await lines(run(s, 'bob', 'RDT c'))).at(-1)).toBe('mallory uploaded f.bin');
    expect(readFileSync(join(dir, 'c-f.bin'), 'utf8')).toBe('bytes');
  });

  it("an upload's line spends the account's bytes as a MSG's does: a rewrite after it waits", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-wb-'));
    for (const t of ['a', 'b', 'c']) handWrittenThread(dir, t, 'mallory');
    const s = await open(dir, { accountBytesPerSecond: 100 * KiB, burstBytes: 200 * KiB, storeBytesPerSecond: 10_000 * KiB }, () => 0);
    expect(await upload(s, 'a', 'f.bin', 'mallory', Buffer.from('bytes'))).toEqual(E.right(undefined));
    expect(await lines(run(s, 'mallory', 'MSG b one'))).toEqual(['Message posted to b thread']);
    expect(await lines(run(s, 'mallory', 'MSG c one'))).toEqual(['You are rewriting large threads too fast: try again in 2 s']);
  });

  it('`writeBudget: false` lets every write through', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-wb-'));
    const s = await open(dir, false, () => 0);
    await bigThread(s, 'a', 't');
    for (let i = 0; i < 10; i++) expect(await lines(run(s, 'a', `EDT t 1 edit ${i}`))).toEqual(['The message has been edited']);
  });
});
