/**
 * The data directory's uploads were bounded only by the server's disk quota (`--max-data-bytes`), which is
 * the forum's: one account uploading to threads of its own filled it, and every other user's upload was
 * refused until it removed them (attack round 27, measured on PostgreSQL; the data directory had the same
 * shape). Each account's uploads now hold at most `maxUserUploadBytes`: its files, and the announced sizes of
 * its uploads in progress, counted from the directory at open and given back by RMV.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileStore, type ForumStore } from '../src/index.js';
import { uploadOutcomeText as text, uploadSized as sized } from './sized-upload.js';
import { lines, run, upload } from './helpers.js';

const KIB = 1024;
const SHARE = 100 * KIB;

const open = async (dir: string, maxUserUploadBytes: number | 'none' = SHARE): Promise<ForumStore> => {
  const s = await openFileStore(dir, { writeBudget: false, ...(maxUserUploadBytes === 'none' ? {} : { maxUserUploadBytes }) })();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};

const shareLine = (free: number, size: number): string =>
  `Your uploads hold as much of the forum as one user may: at most ${SHARE} bytes, ${free} are left to you, this file has ${size} (an upload goes with its thread: remove threads of yours, or ask the creators of the other threads you uploaded to)`;

describe("data-directory store: each account's share of the uploads", () => {
  it('uploads of one account begun at once never pass its share together; another account still uploads', async () => {
    const s = await open(mkdtempSync(join(tmpdir(), 'forum-upload-share-')));
    await run(s, 'mallory', 'CRT m');
    await run(s, 'victim', 'CRT v');
    // 6 uploads of 30 KiB at once under a 100 KiB share: 3 fit.
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => sized(s, 'm', `f${i}`, 'mallory', 30 * KIB)));
    expect(results.filter(E.isRight).length).toBe(3);
    for (const r of results.filter(E.isLeft)) expect(text(r)).toBe(shareLine(10 * KIB, 30 * KIB));
    // Uploads to another user's thread count for the uploader too.
    expect(text(await sized(s, 'v', 'g', 'mallory', 20 * KIB))).toBe(shareLine(10 * KIB, 20 * KIB));
    expect(text(await sized(s, 'v', 'g', 'mallory', 10 * KIB))).toBe('OK');
    expect(text(await sized(s, 'v', 'own', 'victim', 90 * KIB))).toBe('OK');
    expect(text(await sized(s, 'm', 'newcomer', 'newcomer', 60 * KIB))).toBe('OK');
  });

  it('bytes past the announced size (or with none announced) are checked at commit, and uploads committing at once never pass it together', async () => {
    const s = await open(mkdtempSync(join(tmpdir(), 'forum-upload-share-')));
    await run(s, 'mallory', 'CRT m');
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => upload(s, 'm', `u${i}`, 'mallory', new Uint8Array(40 * KIB))));
    expect(results.filter(E.isRight).length).toBe(2);
    for (const r of results.filter(E.isLeft)) expect(text(r)).toBe(shareLine(20 * KIB, 40 * KIB));
    expect(await lines(run(s, 'mallory', 'RDT m'))).toEqual(expect.arrayContaining([expect.stringMatching(/^mallory uploaded u\d$/)]));
  });

  it('an upload that ends without its file gives its hold back: aborted, refused, or stopped by RMV', async () => {
    const s = await open(mkdtempSync(join(tmpdir(), 'forum-upload-share-')));
    await run(s, 'mallory', 'CRT m');
    await run(s, 'mallory', 'CRT n');
    const aborted = await s.beginUpload('m', 'a', 'mallory', undefined, 80 * KIB)();
    if (E.isLeft(aborted)) throw new Error('not begun');
    expect(text(await sized(s, 'm', 'b', 'mallory', 80 * KIB))).toBe(shareLine(20 * KIB, 80 * KIB));
    await aborted.right.abort();
    const stopped = await s.beginUpload('n', 'c', 'mallory', undefined, 80 * KIB)();
    if (E.isLeft(stopped)) throw new Error('not begun');
    expect(text(await sized(s, 'm', 'b', 'mallory', 80 * KIB))).toBe(shareLine(20 * KIB, 80 * KIB));
    expect(await lines(run(s, 'mallory', 'RMV n'))).toEqual(['Thread n removed']);
    await stopped.right.stopped;
    expect(text(await sized(s, 'm', 'b', 'mallory', 80 * KIB))).toBe('OK');
  });

  it("is counted from the directory at open, per upload line's uploader, and RMV gives it back", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-upload-share-'));
    const s = await open(dir);
    await run(s, 'mallory', 'CRT m');
    await run(s, 'victim', 'CRT v');
    expect(text(await sized(s, 'm', 'a', 'mallory', 40 * KIB))).toBe('OK');
    expect(text(await sized(s, 'v', 'b', 'mallory', 40 * KIB))).toBe('OK');
    expect(text(await sized(s, 'm', 'c', 'victim', 90 * KIB))).toBe('OK');
    // A new process on the same directory: 80 KiB of mallory's, 90 of victim's, whatever thread they are in.
    const again = await open(dir);
    expect(text(await sized(again, 'm', 'd', 'mallory', 30 * KIB))).toBe(shareLine(20 * KIB, 30 * KIB));
    expect(text(await sized(again, 'm', 'd', 'victim', 20 * KIB))).toBe(shareLine(10 * KIB, 20 * KIB));
    // RMV of m gives back mallory's a (40 KiB) and victim's c (90 KiB), not mallory's b in v.
    expect(await lines(run(again, 'mallory', 'RMV m'))).toEqual(['Thread m removed']);
    expect(text(await sized(again, 'v', 'e', 'mallory', 70 * KIB))).toBe(shareLine(60 * KIB, 70 * KIB));
    expect(text(await sized(again, 'v', 'e', 'mallory', 60 * KIB))).toBe('OK');
    expect(text(await sized(again, 'v', 'f', 'victim', 100 * KIB))).toBe('OK');
  });

  it('without a share, none is kept (the option unset)', async () => {
    const s = await open(mkdtempSync(join(tmpdir(), 'forum-upload-share-')), 'none');
    await run(s, 'mallory', 'CRT m');
    expect(text(await sized(s, 'm', 'a', 'mallory', 300 * KIB))).toBe('OK');
  });
});
