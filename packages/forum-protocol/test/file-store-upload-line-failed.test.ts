/**
 * An upload whose thread line cannot be written (the append fails: a
 * failing disk) and whose file, already renamed into place, cannot be
 * deleted either. Its intent record is then all that tells the next open
 * the file has no line: deleted with the file still there, the upload
 * (answered as failed) stayed on disk without its thread, and the next open
 * read it as a thread of its own, `T-f.txt`, made by whoever the file's
 * first line names.
 */
import * as E from 'fp-ts/lib/Either.js';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { lines, openStoreIn, run, upload } from './helpers.js';

/** Whether opening thread file T to change it, and deleting T-f.txt, fail with EIO (as on a failing disk). */
const refuse = vi.hoisted(() => ({ on: false }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const eio = (path: string): Promise<never> => Promise.reject(Object.assign(new Error(`EIO: ${path}`), { code: 'EIO' }));
  return {
    ...fs,
    open: (path: string, ...rest: Parameters<typeof fs.open> extends [unknown, ...infer R] ? R : never) =>
      refuse.on && path.endsWith('/T') && rest[0] === 'r+' ? eio(path) : fs.open(path, ...rest),
    unlink: (path: string) => (refuse.on && path.endsWith('/T-f.txt') ? eio(path) : fs.unlink(path)),
  };
});

describe('an upload whose thread line failed and whose file could not be deleted', () => {
  it('leaves its intent record, so the next open deletes the file rather than read it as a thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-upload-line-failed-'));
    const s = await openStoreIn(dir);
    expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
    refuse.on = true;
    let stored: E.Either<unknown, void>;
    try {
      // The bytes of a thread file: creator mallory, one message.
      stored = await upload(s, 'T', 'f.txt', 'mallory', Buffer.from('mallory\n1 mallory: planted\n'));
    } finally {
      refuse.on = false;
    }
    expect(E.isLeft(stored)).toBe(true);
    expect(existsSync(join(dir, 'T-f.txt'))).toBe(true);
    expect(readdirSync(dir).filter((n) => n.startsWith('.forum-intent-'))).toHaveLength(1);
    // Until then its name is taken: a thread of that name would be deleted with the file.
    expect(await lines(run(s, 'bob', 'CRT T-f.txt'))).toEqual(['Thread T-f.txt exists']);

    const reopened = await openStoreIn(dir);
    expect(existsSync(join(dir, 'T-f.txt'))).toBe(false);
    expect(await lines(run(reopened, 'bob', 'RDT T-f.txt'))).toEqual(['Thread T-f.txt does not exist']);
    expect(await lines(run(reopened, 'bob', 'RDT T'))).toEqual(['Thread T is empty']);
  });
});
