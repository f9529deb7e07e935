/**
 * RMV of a thread one of whose upload files cannot be deleted: the server runs
 * on, the title is free again, and a restart deletes the leftover file but
 * never the thread's file again (by then maybe a newer thread of that title,
 * with acknowledged messages). The failed unlink is real: the upload's name
 * is made a directory, which unlink refuses (EISDIR on Linux, EPERM on macOS),
 * as it refuses an immutable file (the finding used `chattr +i`, root only).
 */
import * as E from 'fp-ts/lib/Either.js';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { openFileStore, type ForumStore } from '../src/index.js';
import { intentRecords, lines, run, upload, openStoreIn } from './helpers.js';

/** Upload files whose unlink fails with EACCES, as a file the server may not delete would (a regular file, unlike the directory above). */
const refusedUnlinks = vi.hoisted(() => new Set<string>());
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    unlink: (path: string) =>
      [...refusedUnlinks].some((name) => path.endsWith(`/${name}`)) ? Promise.reject(Object.assign(new Error(`EACCES: unlink ${path}`), { code: 'EACCES' })) : fs.unlink(path),
  };
});

/** A store where alice made thread T with upload f.txt, whose file then could not be deleted (a directory now), and removed T. */
const removedWithLeftover = async (): Promise<{ dir: string; s: ForumStore }> => {
  const dir = mkdtempSync(join(tmpdir(), 'forum-rmv-leftover-'));
  const s = await openStoreIn(dir);
  expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
  expect(E.isRight(await upload(s, 'T', 'f.txt', 'alice', Buffer.from('hello')))).toBe(true);
  unlinkSync(join(dir, 'T-f.txt'));
  mkdirSync(join(dir, 'T-f.txt'));
  expect(await lines(run(s, 'alice', 'RMV T'))).toEqual(['Thread T removed']);
  return { dir, s };
};

describe('RMV whose upload file cannot be deleted', () => {
  it('a newer thread of the same title, and its messages, survive the restart; the leftover file does not', async () => {
    const { dir, s } = await removedWithLeftover();
    // A record of the leftover stays for the next open, naming the upload only.
    const left = intentRecords(dir);
    expect(left).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(dir, left[0] as string), 'utf8'))).toEqual({ op: 'removeUploads', thread: 'T', filenames: ['f.txt'] });
    // The leftover becomes an ordinary file again (the admin lifted what blocked it): the next open deletes it.
    rmdirSync(join(dir, 'T-f.txt'));
    writeFileSync(join(dir, 'T-f.txt'), 'hello');
    // Meanwhile the title is taken again, by another user, and written to: both acknowledged.
    expect(await lines(run(s, 'bob', 'CRT T'))).toEqual(['Thread T created']);
    expect(await lines(run(s, 'bob', 'MSG T my important message'))).toEqual(['Message posted to T thread']);
    // The leftover's name stays taken until then: no upload or thread can claim it.
    expect(await lines(run(s, 'bob', 'UPD T f.txt'))).toEqual(['File already exists in Thread T']);

    const reopened = await openStoreIn(dir);
    expect(await lines(run(reopened, 'bob', 'RDT T'))).toEqual(['1 bob: my important message']);
    expect(existsSync(join(dir, 'T-f.txt'))).toBe(false);
    expect(intentRecords(dir)).toEqual([]);
  });

  it('a leftover that still cannot be deleted at the next start: the forum starts, says so, keeps the record and the newer thread', async () => {
    const { dir, s } = await removedWithLeftover();
    expect(await lines(run(s, 'bob', 'CRT T'))).toEqual(['Thread T created']);
    expect(await lines(run(s, 'bob', 'MSG T still here'))).toEqual(['Message posted to T thread']);

    const reopened = await openStoreIn(dir);
    expect(reopened.warnings.join('\n')).toMatch(/T-f\.txt of removed thread T could not be deleted \(EISDIR\)/);
    expect(await lines(run(reopened, 'bob', 'RDT T'))).toEqual(['1 bob: still here']);
    expect(intentRecords(dir)).toHaveLength(1);
    expect(await lines(run(reopened, 'bob', 'UPD T f.txt'))).toEqual(['File already exists in Thread T']);
  });
});


describe('RMV tells the disk quota what it freed', () => {
  it('reports the bytes of each upload file before deleting it, not those of one it could not delete', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-rmv-freed-'));
    const freed: number[] = [];
    // Which upload files were still on disk at each report: a walk of the directory between an unlink
    // and a report made after it would miss the file and still have it counted off (an undercount).
    const present: string[][] = [];
    const opened = await openFileStore(dir, {
      onUploadsRemoved: (bytes) => {
        freed.push(bytes);
        present.push(['T-a.bin', 'T-b.bin'].filter((n) => existsSync(join(dir, n))));
      },
    })();
    if (E.isLeft(opened)) throw new Error(opened.left.message);
    const s = opened.right;
    expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
    expect(E.isRight(await upload(s, 'T', 'a.bin', 'alice', Buffer.alloc(6_000, 1)))).toBe(true);
    expect(E.isRight(await upload(s, 'T', 'b.bin', 'alice', Buffer.alloc(700, 2)))).toBe(true);
    expect(E.isRight(await upload(s, 'T', 'c.txt', 'alice', Buffer.from('hello')))).toBe(true);
    unlinkSync(join(dir, 'T-c.txt'));
    mkdirSync(join(dir, 'T-c.txt'));
    // A link put at an upload's name by hand: the quota's walk counts no link, nor what it points to.
    expect(E.isRight(await upload(s, 'T', 'd.bin', 'alice', Buffer.from('x')))).toBe(true);
    writeFileSync(join(dir, 'elsewhere.bin'), Buffer.alloc(9_000));
    unlinkSync(join(dir, 'T-d.bin'));
    symlinkSync(join(dir, 'elsewhere.bin'), join(dir, 'T-d.bin'));
    expect(await lines(run(s, 'alice', 'RMV T'))).toEqual(['Thread T removed']);
    expect(freed).toEqual([6_000, 700]);
    expect(present).toEqual([['T-a.bin', 'T-b.bin'], ['T-b.bin']]);
    // A thread without uploads frees no upload bytes: nothing is said.
    expect(await lines(run(s, 'alice', 'CRT U'))).toEqual(['Thread U created']);
    expect(await lines(run(s, 'alice', 'RMV U'))).toEqual(['Thread U removed']);
    expect(freed).toEqual([6_000, 700]);
  });

  it('takes back the bytes of an upload file whose unlink failed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-rmv-freed-'));
    const freed: number[] = [];
    const opened = await openFileStore(dir, { onUploadsRemoved: (bytes) => void freed.push(bytes) })();
    if (E.isLeft(opened)) throw new Error(opened.left.message);
    const s = opened.right;
    expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
    expect(E.isRight(await upload(s, 'T', 'a.bin', 'alice', Buffer.alloc(6_000, 1)))).toBe(true);
    expect(E.isRight(await upload(s, 'T', 'b.bin', 'alice', Buffer.alloc(700, 2)))).toBe(true);
    refusedUnlinks.add('T-b.bin');
    try {
      expect(await lines(run(s, 'alice', 'RMV T'))).toEqual(['Thread T removed']);
    } finally {
      refusedUnlinks.clear();
    }
    expect(existsSync(join(dir, 'T-b.bin'))).toBe(true);
    expect(freed).toEqual([6_000, 700, -700]);
  });
});
