/**
 * The stores that keep uploads as files named `TITLE-FILENAME` (the data
 * directory, and the in-memory store that models it) refuse an upload whose
 * name another file holds. UPD says so at once, before a transfer token is
 * issued: the client must not send a file's bytes only to be told on arrival
 * that its name was taken.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMemoryStore, openFileStore, type ForumStore } from '../src/index.js';
import { lines, run } from './helpers.js';

const openDir = async (dir: string): Promise<ForumStore> => {
  const s = await openFileStore(dir)();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};

const stores: readonly (readonly [string, () => Promise<ForumStore>])[] = [
  ['in-memory', async () => createMemoryStore()],
  ['data-directory', () => openDir(mkdtempSync(join(tmpdir(), 'forum-names-')))],
];

describe.each(stores)('UPD of a name another thread holds (%s store)', (_name, make) => {
  it('is refused by the command with "File already exists in Thread T", as beginUpload refuses it', async () => {
    const s = await make();
    expect(await lines(run(s, 'alice', 'CRT c-d'))).toEqual(['Thread c-d created']);
    expect(await lines(run(s, 'alice', 'CRT c'))).toEqual(['Thread c created']);
    const upd = await run(s, 'alice', 'UPD c d');
    expect(upd.kind).toBe('reply');
    expect(await lines(Promise.resolve(upd))).toEqual(['File already exists in Thread c']);
    expect(upd.log).toEqual(['alice issued UPD command']);
    expect(await s.checkUpload('c', 'd', 'alice')()).toEqual(E.left({ kind: 'fileExists', title: 'c', filename: 'd' }));
    expect(await s.beginUpload('c', 'd', 'alice')()).toEqual(E.left({ kind: 'fileExists', title: 'c', filename: 'd' }));
    // Another name is approved.
    expect((await run(s, 'alice', 'UPD c e')).kind).toBe('transfer');
  });
});

describe('UPD in the data directory', () => {
  it('of a name a file that is no thread holds is refused by the command; nothing is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-names-'));
    writeFileSync(join(dir, 'notes'), 'alice\n');
    // Not a thread file (a NUL byte): kept as it is, and its name stays taken.
    writeFileSync(join(dir, 'notes-photo.jpg'), Buffer.from([0xff, 0xd8, 0x00, 0x01]));
    const s = await openDir(dir);
    expect(await lines(run(s, 'bob', 'UPD notes photo.jpg'))).toEqual(['File already exists in Thread notes']);
    expect(readdirSync(dir).sort()).toEqual(['notes', 'notes-photo.jpg']);
  });
});
