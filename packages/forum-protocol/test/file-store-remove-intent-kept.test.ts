/**
 * An RMV whose thread file cannot be deleted (the unlink fails) after its
 * intent record was written, and whose record then cannot be deleted either
 * (a failing disk). The record names the thread and its uploads, and the
 * next open rolls it forward: it deletes the thread's file whatever was
 * added to it meanwhile. So the thread must not go on taking messages that
 * the next start deletes: it goes now, its name held until that open. And
 * since it is gone now and after any restart, the RMV is answered done (it
 * was answered failed, and a retry said the thread did not exist), with a
 * warning for the log.
 */
import * as E from 'fp-ts/lib/Either.js';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { openFileStore } from '../src/index.js';
import { intentRecords, lines, openStoreIn, run, upload } from './helpers.js';

/** Whether deleting the thread file `T` and intent records fails with EIO (as on a failing disk). */
const refuse = vi.hoisted(() => ({ on: false }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    unlink: (path: string) =>
      refuse.on && (path.endsWith('/T') || path.includes('/.forum-intent-'))
        ? Promise.reject(Object.assign(new Error(`EIO: unlink ${path}`), { code: 'EIO' }))
        : fs.unlink(path),
  };
});

describe('an RMV cut by a failed unlink whose intent record could not be deleted', () => {
  it('answers the removal done and acknowledges nothing more in the thread that the next open deletes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-remove-kept-'));
    const warnings: string[] = [];
    const opened = await openFileStore(dir, { onWarning: (w) => void warnings.push(w) })();
    if (E.isLeft(opened)) throw new Error(opened.left.message);
    const s = opened.right;
    expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
    expect(E.isRight(await upload(s, 'T', 'f.txt', 'alice', Buffer.from('hello')))).toBe(true);
    refuse.on = true;
    let answer: readonly string[];
    try {
      answer = await lines(run(s, 'alice', 'RMV T'));
    } finally {
      refuse.on = false;
    }
    // Answered 'The server could not complete the command, please try again' before, while the thread was gone.
    expect(answer).toEqual(['Thread T removed']);
    // The record is left, and names T: the next open will delete T's file (and its upload's, left till then).
    expect(intentRecords(dir)).toHaveLength(1);
    expect(existsSync(join(dir, 'T'))).toBe(true);
    expect(existsSync(join(dir, 'T-f.txt'))).toBe(true);
    expect(warnings).toEqual([
      `thread T removed, but neither its file nor its intent record ${intentRecords(dir)[0] ?? ''} could be deleted (EIO): its file and uploads are deleted at the next start; until then its title and its uploads' names are taken`,
    ]);
    expect(await lines(run(s, 'alice', 'RMV T'))).toEqual(['Thread T does not exist']);
    // A message acknowledged now would be deleted by the next open (the old code posted it, then lost it).
    expect(await lines(run(s, 'bob', 'MSG T acknowledged'))).toEqual(['Thread T does not exist']);
    // Nor is a thread of the title made: the record would delete it too.
    expect(await lines(run(s, 'bob', 'CRT T'))).toEqual(['Thread T exists']);

    const reopened = await openStoreIn(dir);
    expect(intentRecords(dir)).toEqual([]);
    expect(existsSync(join(dir, 'T-f.txt'))).toBe(false);
    expect(await lines(run(reopened, 'bob', 'RDT T'))).toEqual(['Thread T does not exist']);
    // Rolled forward: the title is free again.
    expect(await lines(run(reopened, 'bob', 'CRT T'))).toEqual(['Thread T created']);
  });
});
