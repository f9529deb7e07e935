/**
 * The data directory's lines and bytes are bounded forum-wide, and without a
 * share per account one account filled them (attack round 26: 256 MiB of
 * 4,000-character MSGs from one account in minutes), after which every other
 * user's MSG and upload line was refused until that account deleted its own.
 * Each account's lines now hold at most `maxUserThreadBytes` (1/64 of
 * `maxThreadBytes`, at least 1 MiB) and `maxUserThreadLines`.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileStore, type FileStoreOptions, type ForumStore } from '../src/index.js';
import { lines, run, upload } from './helpers.js';
import { heldWrite } from './held-write.js';

const SHARE_BYTES = /^Your messages hold as much of the forum as one user may: at most (\d+) bytes of the forum's threads \(delete some of your messages to make room\)$/;
const SHARE_LINES = "Your messages hold as much of the forum as one user may: at most 10 lines of the forum's threads (delete some of your messages to make room)";
const open = async (dir: string, options: FileStoreOptions): Promise<ForumStore> => {
  const s = await openFileStore(dir, { writeBudget: false, ...options })();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};
const posted = (replies: readonly (readonly string[])[]): number => replies.filter((r) => r[0]?.startsWith('Message posted') === true).length;
/** Lines of `user` in the threads `titles`, as RDT shows them. */
const heldBy = async (s: ForumStore, user: string, titles: readonly string[]): Promise<number> =>
  (await Promise.all(titles.map(async (t) => (await lines(run(s, 'reader', `RDT ${t}`))).filter((l) => new RegExp(`^(\\d+ )?${user}[: ]`).test(l)).length))).reduce((a, b) => a + b, 0);

describe('data-directory store: each account\'s share of the threads', () => {
  it('by default one account fills at most 1/64 of the bytes (at least 1 MiB): racing long MSGs stop there, and another user still posts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-share-'));
    // 3 MiB forum-wide: the share is 1 MiB (the floor), some 261 MSGs of 4,000 characters.
    const s = await open(dir, { maxThreadBytes: 3 * 1024 * 1024 });
    for (const t of ['m1', 'm2']) await run(s, 'mallory', `CRT ${t}`);
    await run(s, 'victim', 'CRT v');
    const text = 'x'.repeat(4000);
    const replies: (readonly string[])[] = [];
    for (let round = 0; round < 40; round++)
      replies.push(...(await Promise.all(Array.from({ length: 8 }, (_, i) => lines(run(s, 'mallory', `MSG m${(i % 2) + 1} ${text}`, `r${round}-${i}`))))));
    const taken = posted(replies);
    // `N mallory: xxxx…\n` numbered 1 is 4,012 bytes: 1 MiB holds 261 of them.
    expect(taken).toBe(Math.floor((1024 * 1024) / 4012));
    const refused = replies.filter((r) => r[0] !== undefined && !r[0].startsWith('Message posted'));
    expect(refused.length).toBe(320 - taken);
    for (const r of refused) expect(r[0]).toMatch(SHARE_BYTES);
    expect(SHARE_BYTES.exec(refused[0]?.[0] ?? '')?.[1]).toBe(String(1024 * 1024));
    expect(await lines(run(s, 'victim', `MSG v ${text}`))).toEqual(['Message posted to v thread']);
    // A DLT makes room in her share again.
    expect(await lines(run(s, 'mallory', 'DLT m1 1'))).toEqual(['The message has been deleted']);
    expect(await lines(run(s, 'mallory', 'MSG m1 y'))).toEqual(['Message posted to m1 thread']);
  });

  it('counts lines per author under concurrency, wherever they post, and gives them back on DLT and RMV, across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-share-'));
    const options = { maxUserThreadLines: 10 };
    const s = await open(dir, options);
    for (const t of ['t1', 't2', 't3']) await run(s, 'alice', `CRT ${t}`);
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => lines(run(s, 'mallory', `MSG t${(i % 3) + 1} x`, `m${i}`))));
    expect(posted(replies)).toBe(10);
    expect(replies.filter((r) => r[0] === SHARE_LINES)).toHaveLength(20);
    expect(await heldBy(s, 'mallory', ['t1', 't2', 't3'])).toBe(10);
    // Others are not held back by mallory's share.
    expect(await lines(run(s, 'bob', 'MSG t1 y'))).toEqual(['Message posted to t1 thread']);
    // Upload lines count for their uploader.
    expect(await lines(run(s, 'mallory', 'UPD t1 f.bin'))).toEqual([SHARE_LINES]);
    expect(await s.beginUpload('t1', 'f.bin', 'mallory')()).toEqual(E.left({ kind: 'threadStorageFull', limit: 10, unit: 'lines', who: 'account' }));
    expect(E.isRight(await upload(s, 't1', 'g.bin', 'bob', Buffer.from('g')))).toBe(true);
    // A DLT gives one back; the count holds across a restart.
    const withHers = (await Promise.all(['t1', 't2', 't3'].map(async (t) => ({ t, line: (await lines(run(s, 'reader', `RDT ${t}`))).find((l) => / mallory: x$/.test(l)) })))).find((x) => x.line !== undefined);
    expect(await lines(run(s, 'mallory', `DLT ${withHers?.t ?? ''} ${withHers?.line?.split(' ')[0] ?? ''}`))).toEqual(['The message has been deleted']);
    const reopened = await open(dir, options);
    expect(await lines(run(reopened, 'mallory', 'MSG t2 x'))).toEqual(['Message posted to t2 thread']);
    expect(await lines(run(reopened, 'mallory', 'MSG t2 x'))).toEqual([SHARE_LINES]);
    // alice removes the thread with most of mallory's lines: they are mallory's to use again.
    const counts = await Promise.all(['t1', 't2', 't3'].map(async (t) => ({ t, n: await heldBy(reopened, 'mallory', [t]) })));
    const most = counts.reduce((a, b) => (b.n > a.n ? b : a));
    const other = counts.find((c) => c.t !== most.t)?.t ?? '';
    expect(most.n).toBeGreaterThan(0);
    expect(await lines(run(reopened, 'alice', `RMV ${most.t}`))).toEqual([`Thread ${most.t} removed`]);
    for (let i = 0; i < most.n; i++) expect(await lines(run(reopened, 'mallory', `MSG ${other} x`))).toEqual([`Message posted to ${other} thread`]);
    expect(await lines(run(reopened, 'mallory', `MSG ${other} x`))).toEqual([SHARE_LINES]);
  });

  it('counts an EDT that lengthens a message, and gives back a DLT\'s share only once written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-share-'));
    const held = heldWrite();
    // `1 mallory: ` and a newline are 12 bytes: 100 bytes hold 88 characters of text.
    const s = await open(dir, { maxUserThreadBytes: 100, owned: held.owned });
    await run(s, 'alice', 'CRT t1');
    await run(s, 'alice', 'CRT t2');
    expect(await lines(run(s, 'mallory', `MSG t1 ${'a'.repeat(40)}`))).toEqual(['Message posted to t1 thread']);
    expect(await lines(run(s, 'mallory', `EDT t1 1 ${'b'.repeat(89)}`))).toEqual([expect.stringMatching(SHARE_BYTES)]);
    expect(await lines(run(s, 'mallory', `EDT t1 1 ${'b'.repeat(88)}`))).toEqual(['The message has been edited']);
    expect(await lines(run(s, 'mallory', 'MSG t2 c'))).toEqual([expect.stringMatching(SHARE_BYTES)]);
    // The DLT's write is held: until it lands, its bytes are not mallory's to use elsewhere.
    const asked = held.arm();
    const dlt = lines(run(s, 'mallory', 'DLT t1 1'));
    await asked;
    expect(await lines(run(s, 'mallory', 'MSG t2 c'))).toEqual([expect.stringMatching(SHARE_BYTES)]);
    held.answer(true);
    expect(await dlt).toEqual(['The message has been deleted']);
    expect(await lines(run(s, 'mallory', 'MSG t2 c'))).toEqual(['Message posted to t2 thread']);
  });

  it('refuses a bad share when the store opens', async () => {
    expect(await openFileStore(mkdtempSync(join(tmpdir(), 'forum-share-')), { maxUserThreadBytes: 0 })()).toEqual(
      E.left({ kind: 'io', message: 'maxUserThreadBytes must be a whole number from 1 (got 0)' }),
    );
  });
});
