/**
 * An open whose recovery of intent records meets a failing disk: a file a
 * record says to delete, or the record itself, cannot be deleted. The forum
 * starts (the record acted on as far as it can be, kept for the next open,
 * a warning for the log) and what the record covers is neither served nor
 * given to a new file until an open can end it: an upload without its line
 * is not read as a thread, a removed thread stays removed, and nothing made
 * meanwhile under those names is deleted by that later open. Only a record
 * that cannot be read stops the open, saying which file and why.
 */
import * as E from 'fp-ts/lib/Either.js';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openFileStore } from '../src/index.js';
import { intentRecords, lines, openStoreIn, run, upload } from './helpers.js';

/** Names (last path part, or the intent records' prefix) whose unlink, or read, fails with EIO, as on a failing disk. */
const refuse = vi.hoisted(() => ({ unlink: [] as string[], read: [] as string[] }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  // A name ending in '-' is a prefix (the intent records').
  const hit = (list: readonly string[], path: unknown): boolean =>
    typeof path === 'string' && list.some((n) => (n.endsWith('-') ? path.includes(`/${n}`) : path.endsWith(`/${n}`)));
  const eio = (path: string): Promise<never> => Promise.reject(Object.assign(new Error(`EIO: ${path}`), { code: 'EIO' }));
  return {
    ...fs,
    unlink: (path: string) => (hit(refuse.unlink, path) ? eio(path) : fs.unlink(path)),
    readFile: (path: string, ...rest: unknown[]) => (hit(refuse.read, path) ? eio(path) : (fs.readFile as (...a: unknown[]) => Promise<unknown>)(path, ...rest)),
  };
});

const RECORDS = '.forum-intent-';
/** The bytes of a thread file: creator mallory, one message (what an upload can hold). */
const PLANTED = 'mallory\n1 mallory: planted\n';

afterEach(() => {
  refuse.unlink = [];
  refuse.read = [];
});

/** A directory where alice made thread T, and an upload of f.txt (bytes {@link PLANTED}) was cut short after its file was put in place, before its line. */
const uploadCutShort = async (): Promise<string> => {
  const dir = mkdtempSync(join(tmpdir(), 'forum-intent-recovery-'));
  expect(await lines(run(await openStoreIn(dir), 'alice', 'CRT T'))).toEqual(['Thread T created']);
  writeFileSync(join(dir, 'T-f.txt'), PLANTED);
  writeFileSync(join(dir, `${RECORDS}0123456789abcdef`), JSON.stringify({ op: 'upload', thread: 'T', filename: 'f.txt', temp: '.forum-tmp-0123456789abcdef' }));
  return dir;
};

/** A directory where alice made thread T with upload f.txt (bytes {@link PLANTED}) and an RMV of T was cut short right after its record. */
const removalCutShort = async (): Promise<string> => {
  const dir = mkdtempSync(join(tmpdir(), 'forum-intent-recovery-'));
  const s = await openStoreIn(dir);
  expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
  expect(await lines(run(s, 'alice', 'MSG T hello'))).toEqual(['Message posted to T thread']);
  expect(E.isRight(await upload(s, 'T', 'f.txt', 'alice', Buffer.from(PLANTED)))).toBe(true);
  writeFileSync(join(dir, `${RECORDS}fedcba9876543210`), JSON.stringify({ op: 'remove', thread: 'T', filenames: ['f.txt'] }));
  return dir;
};

describe('an upload record the open cannot finish', () => {
  it('whose file cannot be deleted: the forum starts, the file is not served as a thread nor its name given, a later open deletes it', async () => {
    const dir = await uploadCutShort();
    refuse.unlink = ['T-f.txt'];
    const s = await openStoreIn(dir);
    expect(s.warnings.join('\n')).toContain('T-f.txt (an upload to T cut short before its thread line) could not be deleted (EIO)');
    expect(s.warnings.join('\n')).toMatch(/intent record \.forum-intent-0123456789abcdef \(the upload of f\.txt to T\) kept, to act on again at the next start; until then T-f\.txt is not served and taken/);
    expect(intentRecords(dir)).toHaveLength(1);
    // The uploaded bytes read as a thread file: they must not become thread T-f.txt.
    expect(await lines(run(s, 'bob', 'RDT T-f.txt'))).toEqual(['Thread T-f.txt does not exist']);
    expect(await lines(run(s, 'bob', 'CRT T-f.txt'))).toEqual(['Thread T-f.txt exists']);
    expect(await lines(run(s, 'bob', 'UPD T f.txt'))).toEqual(['File already exists in Thread T']);
    expect(await lines(run(s, 'bob', 'RDT T'))).toEqual(['Thread T is empty']);

    refuse.unlink = [];
    const reopened = await openStoreIn(dir);
    expect(existsSync(join(dir, 'T-f.txt'))).toBe(false);
    expect(intentRecords(dir)).toEqual([]);
    expect(await lines(run(reopened, 'bob', 'CRT T-f.txt'))).toEqual(['Thread T-f.txt created']);
  });

  it('whose record cannot be deleted once acted on: the forum starts, the name stays taken until a later open ends the record', async () => {
    const dir = await uploadCutShort();
    refuse.unlink = [RECORDS];
    const s = await openStoreIn(dir);
    expect(existsSync(join(dir, 'T-f.txt'))).toBe(false);
    expect(s.recovered).toContain('undid the upload of f.txt to T, cut short by a crash before its thread line');
    expect(s.warnings.join('\n')).toContain('intent record .forum-intent-0123456789abcdef (the upload of f.txt to T) could not be deleted (EIO)');
    expect(intentRecords(dir)).toHaveLength(1);
    // A thread made under the name now would be deleted by the next open, which finds the record and no line for f.txt in T.
    expect(await lines(run(s, 'bob', 'CRT T-f.txt'))).toEqual(['Thread T-f.txt exists']);

    refuse.unlink = [];
    const reopened = await openStoreIn(dir);
    expect(intentRecords(dir)).toEqual([]);
    expect(await lines(run(reopened, 'bob', 'CRT T-f.txt'))).toEqual(['Thread T-f.txt created']);
  });
});

describe('a removal record the open cannot finish', () => {
  it("whose thread file cannot be deleted: the forum starts, the thread stays removed, its title taken, until a later open deletes it", async () => {
    const dir = await removalCutShort();
    refuse.unlink = ['T'];
    const s = await openStoreIn(dir);
    expect(s.warnings.join('\n')).toContain('T (a removed thread) could not be deleted (EIO)');
    expect(existsSync(join(dir, 'T'))).toBe(true);
    expect(existsSync(join(dir, 'T-f.txt'))).toBe(false);
    expect(await lines(run(s, 'bob', 'RDT T'))).toEqual(['Thread T does not exist']);
    // A thread T made now would be deleted by the next open, rolling the record forward.
    expect(await lines(run(s, 'bob', 'CRT T'))).toEqual(['Thread T exists']);

    refuse.unlink = [];
    const reopened = await openStoreIn(dir);
    expect(existsSync(join(dir, 'T'))).toBe(false);
    expect(intentRecords(dir)).toEqual([]);
    expect(await lines(run(reopened, 'bob', 'CRT T'))).toEqual(['Thread T created']);
  });

  it('whose upload file cannot be deleted: the file is not served as a thread, and the title stays taken', async () => {
    const dir = await removalCutShort();
    refuse.unlink = ['T-f.txt'];
    const s = await openStoreIn(dir);
    expect(s.warnings.join('\n')).toContain('T-f.txt of removed thread T could not be deleted (EIO)');
    expect(existsSync(join(dir, 'T'))).toBe(false);
    // The upload's bytes, read as a thread file, were served as mallory's thread T-f.txt (before: not held).
    expect(await lines(run(s, 'bob', 'RDT T-f.txt'))).toEqual(['Thread T-f.txt does not exist']);
    // The record still says remove T: a thread T made now would be deleted by the next open.
    expect(await lines(run(s, 'bob', 'CRT T'))).toEqual(['Thread T exists']);

    refuse.unlink = [];
    const reopened = await openStoreIn(dir);
    expect(existsSync(join(dir, 'T-f.txt'))).toBe(false);
    expect(intentRecords(dir)).toEqual([]);
    expect(await lines(run(reopened, 'bob', 'CRT T'))).toEqual(['Thread T created']);
  });
});

describe('a record the open cannot read or delete', () => {
  it('one not of this store that cannot be deleted is left, said, and the forum starts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-intent-recovery-'));
    writeFileSync(join(dir, `${RECORDS}garbage`), 'not json');
    refuse.unlink = [RECORDS];
    const s = await openStoreIn(dir);
    expect(s.warnings).toContain('.forum-intent-garbage is not a valid intent record and could not be deleted (EIO); ignored');
    expect(await lines(run(s, 'bob', 'CRT T'))).toEqual(['Thread T created']);
  });

  it('one that cannot be read stops the open, naming the file and why (it may name an upload without its line)', async () => {
    const dir = await uploadCutShort();
    refuse.read = [RECORDS];
    const opened = await openFileStore(dir)();
    // Deleted as not valid, the record let the uploaded bytes be served as thread T-f.txt.
    expect(E.isLeft(opened) && opened.left.message).toMatch(
      new RegExp(`intent record ${join(dir, `${RECORDS}0123456789abcdef`).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} cannot be read \\(EIO\\): it may name an upload file without its thread line`),
    );
    expect(intentRecords(dir)).toHaveLength(1);
    expect(existsSync(join(dir, 'T-f.txt'))).toBe(true);
  });
});
