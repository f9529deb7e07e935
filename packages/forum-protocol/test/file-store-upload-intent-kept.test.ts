/**
 * An upload whose intent record cannot be deleted after its commit (the
 * unlink fails: a disk error, a file the server may no longer delete). The
 * record stays for the next open, which keeps the upload if its thread still
 * lists it and deletes a file of that name if not. So until then the name
 * must stay taken: a thread of the upload's file name (`T-f.txt`), made
 * after an RMV of T, was deleted by the next open, its messages with it.
 */
import * as E from 'fp-ts/lib/Either.js';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { ForumStore } from '../src/index.js';
import { intentRecords, lines, run, upload, openStoreIn } from './helpers.js';

/** Whether deleting an intent record fails with EIO (as on a failing disk). */
const refuse = vi.hoisted(() => ({ intents: false }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    unlink: (path: string) =>
      refuse.intents && path.includes('/.forum-intent-') ? Promise.reject(Object.assign(new Error(`EIO: unlink ${path}`), { code: 'EIO' })) : fs.unlink(path),
  };
});

/** A store where alice uploaded f.txt to T while intent records could not be deleted. */
const uploadedWithRecordLeft = async (): Promise<{ dir: string; s: ForumStore }> => {
  const dir = mkdtempSync(join(tmpdir(), 'forum-intent-kept-'));
  const s = await openStoreIn(dir);
  expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
  refuse.intents = true;
  try {
    // The line is on disk: the upload is stored, and said so.
    expect(E.isRight(await upload(s, 'T', 'f.txt', 'alice', Buffer.from('hello')))).toBe(true);
  } finally {
    refuse.intents = false;
  }
  expect(intentRecords(dir)).toHaveLength(1);
  return { dir, s };
};

describe('an upload whose intent record could not be deleted', () => {
  it('keeps its file name taken until the next open has acted on the record: a thread of that name is not made, so not deleted then', async () => {
    const { dir, s } = await uploadedWithRecordLeft();
    expect(await lines(run(s, 'alice', 'RDT T'))).toEqual(['alice uploaded f.txt']);
    expect(await lines(run(s, 'alice', 'RMV T'))).toEqual(['Thread T removed']);
    // The record still names T's upload: the next open would delete a file of that name.
    expect(await lines(run(s, 'bob', 'CRT T-f.txt'))).toEqual(['Thread T-f.txt exists']);
    expect(await lines(run(s, 'bob', 'CRT T'))).toEqual(['Thread T created']);
    expect(await lines(run(s, 'bob', 'UPD T f.txt'))).toEqual(['File already exists in Thread T']);

    const reopened = await openStoreIn(dir);
    expect(intentRecords(dir)).toEqual([]);
    // Acted on: the name is free again.
    expect(await lines(run(reopened, 'bob', 'CRT T-f.txt'))).toEqual(['Thread T-f.txt created']);
    expect(await lines(run(reopened, 'bob', 'MSG T-f.txt kept'))).toEqual(['Message posted to T-f.txt thread']);
    const again = await openStoreIn(dir);
    expect(await lines(run(again, 'bob', 'RDT T-f.txt'))).toEqual(['1 bob: kept']);
  });

  it('the upload itself survives the next open (its thread lists it)', async () => {
    const { dir } = await uploadedWithRecordLeft();
    const reopened = await openStoreIn(dir);
    expect(intentRecords(dir)).toEqual([]);
    expect(await lines(run(reopened, 'alice', 'RDT T'))).toEqual(['alice uploaded f.txt']);
    expect(existsSync(join(dir, 'T-f.txt'))).toBe(true);
  });
});
