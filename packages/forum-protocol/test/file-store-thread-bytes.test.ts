/**
 * The data-directory store keeps every thread in memory: `maxThreadBytes`
 * bounds all thread files together, so MSG/EDT from a few accounts cannot
 * grow the server without end (an attack filled 665 MiB of RSS in four
 * minutes, and the memory budget then refused every login, even after a
 * restart).
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileStore, type ForumStore, type UploadWriter } from '../src/index.js';
import { lines, readAll, run, upload } from './helpers.js';
import { heldWrite } from './held-write.js';

const FULL = /^The forum is full: its threads hold at most 2000 bytes \(delete messages or threads to make room\)$/;
const open = async (dir: string, maxThreadBytes = 2000): Promise<ForumStore> => {
  // The lines' own limit (one per 128 bytes by default: 15 here) out of the way: these count bytes.
  const s = await openFileStore(dir, { maxThreadBytes, maxThreadLines: 10_000 })();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};
/** Begins an upload that must be accepted and writes `bytes` to it (not yet committed). */
const begin = async (s: ForumStore, title: string, filename: string, user: string, bytes: string): Promise<UploadWriter> => {
  const w = await s.beginUpload(title, filename, user)();
  if (E.isLeft(w)) throw new Error(`beginUpload ${filename}: ${JSON.stringify(w.left)}`);
  await new Promise<void>((resolve, reject) => w.right.stream.write(bytes, (err) => (err ? reject(err) : resolve())));
  return w.right;
};
// Titles here have no '-': a name with one is an upload.
const threadFileBytes = (dir: string): number => readdirSync(dir).filter((n) => n.startsWith('t') && !n.includes('-')).reduce((n, f) => n + statSync(join(dir, f)).size, 0);

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

  it('an upload whose line would take the files past the limit is refused as it begins and at commit, and leaves no file; the count stays exact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-bytes-'));
    const s = await open(dir);
    await run(s, 'alice', 'CRT t1');
    await run(s, 'alice', 'CRT t2');
    // `bob uploaded a.bin\n`: 19 bytes, 31 with the two creator lines.
    expect(E.isRight(await upload(s, 't1', 'a.bin', 'bob', Buffer.from('a')))).toBe(true);
    const late = await begin(s, 't1', 'late.bin', 'bob', 'late');
    // `1 bob: …\n` of 1,959 bytes leaves 10, too few for `bob uploaded late.bin\n`.
    expect(await lines(run(s, 'bob', `MSG t2 ${'m'.repeat(1951)}`))).toEqual(['Message posted to t2 thread']);
    expect(threadFileBytes(dir)).toBe(1990);
    // Refused by the command already, before a transfer token: the client sends no byte of it.
    const upd = await run(s, 'bob', 'UPD t1 f.bin');
    expect(upd.kind).toBe('reply');
    expect((await lines(Promise.resolve(upd)))[0]).toMatch(FULL);
    expect(upd.log).toEqual(['bob issued UPD command']);
    expect(await s.beginUpload('t1', 'f.bin', 'bob')()).toEqual(E.left({ kind: 'threadStorageFull', limit: 2000 }));
    expect(await late.commit()).toEqual(E.left({ kind: 'threadStorageFull', limit: 2000 }));
    // Nothing of the refused upload stays: no file, no temporary file, no intent record.
    expect(readdirSync(dir).sort()).toEqual(['t1', 't1-a.bin', 't2']);
    expect(await lines(run(s, 'bob', 'DWN t1 late.bin'))).toEqual(['File does not exist in Thread t1']);
    // The count is exact: the last 10 bytes are still there to take, and no more.
    expect(await lines(run(s, 'bob', 'MSG t2 ab'))).toEqual(['Message posted to t2 thread']);
    expect((await lines(run(s, 'bob', 'MSG t2 c')))[0]).toMatch(FULL);
    expect(threadFileBytes(dir)).toBe(2000);
    // RMV makes room for the upload again.
    expect(await lines(run(s, 'alice', 'RMV t2'))).toEqual(['Thread t2 removed']);
    expect(E.isRight(await upload(s, 't1', 'late.bin', 'bob', Buffer.from('late')))).toBe(true);
  });

  it('holds under concurrency: uploads and MSGs racing on 20 threads at once never take the files past the limit, and refused uploads leave nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-bytes-'));
    const s = await open(dir);
    for (let i = 0; i < 20; i++) await run(s, 'alice', `CRT t${i}`);
    for (let i = 0; i < 16; i++) await run(s, 'bob', `MSG t${i} ${'m'.repeat(100)}`);
    // 152 bytes are left: room for 8 upload lines (19 bytes each) or MSGs (18), or a mix.
    const writers = await Promise.all(Array.from({ length: 20 }, (_, i) => begin(s, `t${i}`, `f${i}.bin`, `u${i}`, `f${i}`)));
    const [commits, posts] = await Promise.all([
      Promise.all(writers.map((w) => w.commit())),
      Promise.all(Array.from({ length: 20 }, (_, i) => lines(run(s, 'bob', `MSG t${(i + 10) % 20} ${'z'.repeat(10)}`, `r${i}`)))),
    ]);
    const committed = commits.flatMap((c, i) => (E.isRight(c) ? [i] : []));
    expect(commits.filter(E.isLeft)).toEqual(Array.from({ length: 20 - committed.length }, () => E.left({ kind: 'threadStorageFull', limit: 2000 })));
    expect(posts.filter((r) => !(r[0]?.startsWith('Message posted') ?? false)).every((r) => FULL.test(r[0] ?? ''))).toBe(true);
    expect(threadFileBytes(dir)).toBeLessThanOrEqual(2000);
    expect(threadFileBytes(dir)).toBeGreaterThan(2000 - 19);
    const names = readdirSync(dir).sort();
    expect(names.filter((n) => n.includes('-'))).toEqual(committed.map((i) => `t${i}-f${i}.bin`).sort());
    expect(names.filter((n) => n.startsWith('.'))).toEqual([]);
    for (const i of committed) {
      const d = await s.openDownload(`t${i}`, `f${i}.bin`)();
      expect(E.isRight(d) && (await readAll(d.right.stream)).toString()).toBe(`f${i}`);
    }
  });

  it('an upload being committed holds its bytes: a MSG of another thread checked while its line is written sees them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-bytes-'));
    const s = await open(dir);
    await run(s, 'alice', 'CRT t1');
    await run(s, 'alice', 'CRT t2');
    // 12 bytes of creator lines and 1,958 of message leave 30: one line, `bob uploaded f.bin\n` (19) or `2 bob: zzzzzzzzzz\n` (18), not both.
    expect(await lines(run(s, 'bob', `MSG t2 ${'m'.repeat(1950)}`))).toEqual(['Message posted to t2 thread']);
    const w = await begin(s, 't1', 'f.bin', 'bob', 'f');
    let settled = false;
    const commit = w.commit().finally(() => {
      settled = true;
    });
    // The intent record exists from just before the bytes move into place until the line is written
    // (a commit finished before the record was seen just makes this run check less, not hang).
    while (!settled && !readdirSync(dir).some((n) => n.startsWith('.forum-intent-'))) await new Promise((resolve) => setImmediate(resolve));
    const post = lines(run(s, 'bob', `MSG t2 ${'z'.repeat(10)}`));
    expect(await commit).toEqual(E.right(undefined));
    expect((await post)[0]).toMatch(FULL);
    expect(threadFileBytes(dir)).toBe(1989);
  });

  it('gives the bytes of a DLT back only once written: a MSG elsewhere meanwhile cannot pass the limit when the DLT fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-bytes-'));
    // The DLT's thread write is held, then answered false (its write fails).
    const held = heldWrite();
    const opened = await openFileStore(dir, { maxThreadBytes: 2000, maxThreadLines: 10_000, writeBudget: false, owned: held.owned })();
    if (E.isLeft(opened)) throw new Error(opened.left.message);
    const s = opened.right;
    await run(s, 'alice', 'CRT t1');
    await run(s, 'alice', 'CRT t2');
    // Two creator lines `alice\n` (12 bytes) and two of `1 bob: ` + 983 characters + `\n` (991 bytes each): 1,994 bytes.
    for (const t of ['t1', 't2']) expect(await lines(run(s, 'bob', `MSG ${t} ${'x'.repeat(983)}`))).toEqual([`Message posted to ${t} thread`]);
    expect(threadFileBytes(dir)).toBe(1994);
    const asked = held.arm();
    const dlt = lines(run(s, 'bob', 'DLT t1 1'));
    await asked;
    // The DLT's write is under way: its bytes are not free yet.
    expect(await lines(run(s, 'bob', `MSG t2 ${'y'.repeat(500)}`))).toEqual([expect.stringMatching(FULL)]);
    held.answer(false);
    expect((await dlt)[0]).not.toBe('The message has been deleted');
    expect(threadFileBytes(dir)).toBe(1994);
  });

  it('an upload commit that shrinks a hand-written file gives those bytes back only once written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-bytes-'));
    // CRLF lines: the upload's commit rewrites the file with LF, 50 bytes shorter, its line 19 bytes longer.
    writeFileSync(join(dir, 't1'), `alice\r\n${Array.from({ length: 50 }, (_, i) => `${i + 1} bob: x\r\n`).join('')}`);
    writeFileSync(join(dir, 't2'), 'alice\n');
    const limit = threadFileBytes(dir);
    const held = heldWrite();
    const opened = await openFileStore(dir, { maxThreadBytes: limit, maxThreadLines: 10_000, writeBudget: false, owned: held.owned })();
    if (E.isLeft(opened)) throw new Error(opened.left.message);
    const s = opened.right;
    const asked = held.arm();
    const committed = upload(s, 't1', 'a.bin', 'bob', Buffer.from('a'));
    await asked;
    // The commit's writes are under way: the bytes its rewrite saves are not free yet.
    expect(await lines(run(s, 'bob', 'MSG t2 y'))).toEqual([`The forum is full: its threads hold at most ${limit} bytes (delete messages or threads to make room)`]);
    held.answer(false);
    expect(E.isLeft(await committed)).toBe(true);
    expect(threadFileBytes(dir)).toBe(limit);
  });

  it('refuses a bad limit when the store opens', async () => {
    expect(await openFileStore(mkdtempSync(join(tmpdir(), 'forum-bytes-')), { maxThreadBytes: 0 })()).toEqual(
      E.left({ kind: 'io', message: 'maxThreadBytes must be a whole number from 1 (got 0)' }),
    );
  });
});
