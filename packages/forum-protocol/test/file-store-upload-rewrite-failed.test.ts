/**
 * An upload to a hand-written thread (CRLF line ends: its line cannot be
 * appended as the store writes, so the whole file is rewritten, temporary
 * file + rename) on a failing disk. An upload answered stored must have
 * its file, and one answered failed must leave no line, now and after a
 * restart. The rename of the thread file may report a failure after it
 * landed (a network file system retrying it, an I/O error after the
 * directory changed): the line is then on disk, and the commit's undo
 * deleted the upload's file, so the thread listed an upload that was gone.
 */
import * as E from 'fp-ts/lib/Either.js';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { intentRecords, lines, openStoreIn, run, upload } from './helpers.js';

/** Faults of the rename onto thread file T (after it landed, or instead) and of directory syncs, as on a failing disk. */
const fault = vi.hoisted(() => ({ renameLanded: false, renameRefused: false, dirSync: false, readThread: false, dirSyncsFailed: 0 }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const eio = (what: string): Error => Object.assign(new Error(`EIO: ${what}`), { code: 'EIO' });
  return {
    ...fs,
    rename: async (from: string, to: string) => {
      if (to.endsWith('/T') && fault.renameRefused) throw eio(`rename ${to}`);
      await fs.rename(from, to);
      if (to.endsWith('/T') && fault.renameLanded) throw eio(`rename ${to}`);
    },
    open: async (path: string, ...rest: Parameters<typeof fs.open> extends [unknown, ...infer R] ? R : never) => {
      const h = await fs.open(path, ...rest);
      // The data directory itself, opened to sync a rename: its fsync fails.
      if (!fault.dirSync || !path.includes('forum-upload-rewrite-') || /forum-upload-rewrite-[^/]*\/./.test(path)) return h;
      const sync = (): Promise<void> => {
        fault.dirSyncsFailed++;
        return Promise.reject(eio(`fsync ${path}`));
      };
      return Object.assign(Object.create(h) as typeof h, { sync, close: () => h.close() });
    },
    readFile: (path: string, ...rest: unknown[]) =>
      fault.readThread && typeof path === 'string' && path.endsWith('/T') ? Promise.reject(eio(`read ${path}`)) : (fs.readFile as (...a: unknown[]) => Promise<unknown>)(path, ...rest),
  };
});

afterEach(() => {
  fault.renameLanded = fault.renameRefused = fault.dirSync = fault.readThread = false;
});

/** A data directory holding alice's hand-written thread T (CRLF). */
const handWritten = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'forum-upload-rewrite-'));
  writeFileSync(join(dir, 'T'), 'alice\r\n1 alice: hi\r\n');
  return dir;
};

/** What RDT T answers, and whether T-f.txt exists, now and after a reopen. */
const state = async (dir: string, s: Awaited<ReturnType<typeof openStoreIn>>): Promise<unknown> => ({
  rdt: await lines(run(s, 'bob', 'RDT T')),
  file: existsSync(join(dir, 'T-f.txt')),
});

describe('an upload to a hand-written thread on a failing disk', () => {
  it('whose thread rename reports a failure after it landed: answered stored, its file kept, the same after a restart', async () => {
    const dir = handWritten();
    const s = await openStoreIn(dir);
    fault.renameLanded = true;
    const stored = await upload(s, 'T', 'f.txt', 'bob', Buffer.from('bytes'));
    fault.renameLanded = false;
    expect(readFileSync(join(dir, 'T'), 'utf8')).toBe('alice\n1 alice: hi\nbob uploaded f.txt\n');
    // Before: answered failed and its file deleted, while the line was on disk (RDT listed it after a restart, DWN had no file).
    expect(stored).toEqual(E.right(undefined));
    const lineAndFile = { rdt: ['1 alice: hi', 'bob uploaded f.txt'], file: true };
    expect(await state(dir, s)).toEqual(lineAndFile);
    expect(intentRecords(dir)).toEqual([]);
    expect(await state(dir, await openStoreIn(dir))).toEqual(lineAndFile);
  });

  it('whose rename fails and the thread then cannot be read: its file and record are kept, and the next open keeps the upload the line lists', async () => {
    const dir = handWritten();
    const s = await openStoreIn(dir);
    fault.renameLanded = true;
    fault.readThread = true;
    const stored = await upload(s, 'T', 'f.txt', 'bob', Buffer.from('bytes'));
    fault.renameLanded = fault.readThread = false;
    expect(E.isLeft(stored)).toBe(true);
    // Not known whether the line landed: the file stays, its name taken, and the record lets the next open decide.
    expect(existsSync(join(dir, 'T-f.txt'))).toBe(true);
    expect(intentRecords(dir)).toHaveLength(1);
    expect(await lines(run(s, 'bob', 'CRT T-f.txt'))).toEqual(['Thread T-f.txt exists']);
    expect(await state(dir, await openStoreIn(dir))).toEqual({ rdt: ['1 alice: hi', 'bob uploaded f.txt'], file: true });
  });

  it('whose thread rename fails: answered failed, no line, no file', async () => {
    const dir = handWritten();
    const s = await openStoreIn(dir);
    fault.renameRefused = true;
    const stored = await upload(s, 'T', 'f.txt', 'bob', Buffer.from('bytes'));
    fault.renameRefused = false;
    expect(E.isLeft(stored)).toBe(true);
    const nothing = { rdt: ['1 alice: hi'], file: false };
    expect(await state(dir, s)).toEqual(nothing);
    expect(await state(dir, await openStoreIn(dir))).toEqual(nothing);
  });

  // Not a fault of the store's: a directory sync is best effort (atomic-write.ts's syncDir), so its failure
  // after the rename fails nothing, and the upload is stored with its file (passes on the code before too).
  it('whose directory syncs fail: answered stored, line and file both there, the same after a restart', async () => {
    const dir = handWritten();
    const s = await openStoreIn(dir);
    fault.dirSync = true;
    const stored = await upload(s, 'T', 'f.txt', 'bob', Buffer.from('bytes'));
    fault.dirSync = false;
    // The intent record's, the thread file's and the record's deletion.
    expect(fault.dirSyncsFailed).toBeGreaterThanOrEqual(3);
    expect(stored).toEqual(E.right(undefined));
    const lineAndFile = { rdt: ['1 alice: hi', 'bob uploaded f.txt'], file: true };
    expect(await state(dir, s)).toEqual(lineAndFile);
    expect(await state(dir, await openStoreIn(dir))).toEqual(lineAndFile);
  });
});
