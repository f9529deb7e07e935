/**
 * An RMV whose unlink of the thread file reports a failure after it landed
 * (an I/O error after the directory changed), as the whole-file rewrite's
 * rename may (file-store-upload-rewrite-failed). Taken at its word, the RMV
 * failed and its intent record was deleted again ("nothing changed"): the
 * thread's file was gone, its upload files stayed with no thread and no
 * record, and the next open served an upload's bytes as a thread of its own.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { intentRecords, lines, openStoreIn, run, upload } from './helpers.js';

/** Whether deleting thread file `T` reports EIO after it landed; whether it fails, and an intent record's deletion reports EIO after it landed. */
const landed = vi.hoisted(() => ({ on: false, recordOnly: false }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const eio = (path: string): Error => Object.assign(new Error(`EIO: unlink ${path}`), { code: 'EIO' });
  return {
    ...fs,
    unlink: async (path: string) => {
      if (landed.recordOnly && path.endsWith('/T')) throw eio(path);
      await fs.unlink(path);
      if ((landed.on && path.endsWith('/T')) || (landed.recordOnly && path.includes('/.forum-intent-'))) throw eio(path);
    },
  };
});

describe('an RMV whose unlink of the thread file reports a failure after it landed', () => {
  it('is answered done and deletes the uploads: no upload file is left to be read as a thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-remove-landed-'));
    const s = await openStoreIn(dir);
    expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
    // An upload whose bytes read as a thread file.
    expect((await upload(s, 'T', 'f.txt', 'mallory', Buffer.from('mallory\n1 mallory: planted\n')))._tag).toBe('Right');
    landed.on = true;
    let answer: readonly string[];
    try {
      answer = await lines(run(s, 'alice', 'RMV T'));
    } finally {
      landed.on = false;
    }
    // Before: 'The server could not complete the command, please try again', T-f.txt kept, its record deleted.
    expect(answer).toEqual(['Thread T removed']);
    expect(existsSync(join(dir, 'T'))).toBe(false);
    expect(existsSync(join(dir, 'T-f.txt'))).toBe(false);
    expect(intentRecords(dir)).toEqual([]);
    expect(await lines(run(s, 'bob', 'LST'))).toEqual(['No threads to list']);
    // Before: the restart listed T-f.txt, mallory's thread.
    const again = await openStoreIn(dir);
    expect(await lines(run(again, 'bob', 'LST'))).toEqual(['No threads to list']);
  });

  it('whose thread file stayed and whose record was deleted though its unlink reported a failure: answered failed, the thread kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-remove-landed-'));
    const s = await openStoreIn(dir);
    expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
    expect((await upload(s, 'T', 'f.txt', 'bob', Buffer.from('bytes')))._tag).toBe('Right');
    landed.recordOnly = true;
    let answer: readonly string[];
    try {
      answer = await lines(run(s, 'alice', 'RMV T'));
    } finally {
      landed.recordOnly = false;
    }
    // Nothing changed: no record is left to roll the removal forward, so T is there after any restart.
    // Before: answered 'Thread T removed' (the record taken as kept), and the restart served T again.
    expect(intentRecords(dir)).toEqual([]);
    expect(answer).toEqual(['The server could not complete the command, please try again']);
    expect(await lines(run(s, 'bob', 'RDT T'))).toEqual(['bob uploaded f.txt']);
    const again = await openStoreIn(dir);
    expect(await lines(run(again, 'bob', 'RDT T'))).toEqual(['bob uploaded f.txt']);
  });
});
