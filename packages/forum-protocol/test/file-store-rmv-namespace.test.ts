/**
 * RMV of a thread with many uploads deletes their files without the namespace
 * lock (attack round 15: 3,000 uploads held another account's CRT 2.6 s), but
 * the files' names, and the title, stay taken until its intent record ends:
 * the next open would delete a file made meanwhile under one of them. The
 * same through `withNameIdentity` (the server's wrapper), whose own lock RMV
 * held as long before.
 *
 * Paced by `onUploadsRemoved`, which RMV calls (and awaits) before each
 * upload file's unlink: the other operation starts there, at the first file.
 * The CRT of another title holds RMV there until it has answered, so that it
 * answered first is a lock step, not a margin (one of 2,000 unlinks against
 * the CRT's few writes failed on a loaded machine).
 */
import * as E from 'fp-ts/lib/Either.js';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { openFileStore, withNameIdentity, type ForumStore, type UploadError } from '../src/index.js';
import { intentRecords, lines, run, upload } from './helpers.js';

/** The uploads of the thread removed where the other operation races RMV's unlinks: they are its margin. */
const UPLOADS = 2_000;
/**
 * The uploads of the thread removed where RMV is held at its first unlink until the other operation answered (a lock
 * step, `heldUntil`): the count is no margin there, and 2,000 files made and deleted cost each test 2.5 s, most of it
 * the kernel's.
 */
const HELD_UPLOADS = 100;
const fileName = (i: number): string => `f${String(i)}.bin`;

/** A data directory holding thread `title` by alice with `uploads` one-byte uploads, written by hand. */
const directoryWithUploads = (title: string, uploads = UPLOADS): string => {
  const dir = mkdtempSync(join(tmpdir(), 'forum-rmv-namespace-'));
  // Made in a test, removed at its end: 2,000 files a directory were left behind every run.
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const uploadLines = Array.from({ length: uploads }, (_, i) => `alice uploaded ${fileName(i)}\n`).join('');
  writeFileSync(join(dir, title), `alice\n${uploadLines}`);
  for (let i = 0; i < uploads; i++) writeFileSync(join(dir, `${title}-${fileName(i)}`), 'x');
  return dir;
};

/**
 * Opens `dir` with `onFirstUnlink` run (once) as RMV is about to delete its first upload file, the unlink
 * waiting for what it returns; `named`: wrapped in `withNameIdentity`, as the server's store is (its own lock
 * every CRT takes).
 */
const openPaced = async (dir: string, onFirstUnlink: () => Promise<unknown> | void, named = false): Promise<{ s: ForumStore }> => {
  let told = 0;
  const s = await openFileStore(dir, {
    onUploadsRemoved: (bytes) => {
      if (bytes > 0 && ++told === 1) return onFirstUnlink()?.then(() => undefined);
      return undefined;
    },
  })();
  if (E.isLeft(s)) throw new Error(s.left.message);
  if (!named) return { s: s.right };
  const wrapped = await withNameIdentity(s.right)();
  if (E.isLeft(wrapped)) throw new Error(wrapped.left.kind);
  return { s: wrapped.right };
};

/** `answered`, or 5 s if it never comes: how long RMV is held at its first file (bounded: the old code deadlocked). */
const heldUntil = (answered: Promise<unknown>): Promise<unknown> =>
  Promise.race([answered, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);

describe('RMV of a thread with many uploads', () => {
  it.each([
    ['the file store', false],
    ['the file store in withNameIdentity (the server\'s)', true],
  ])("lets another title's CRT through while it deletes the upload files: %s", async (_, named) => {
    const dir = directoryWithUploads('many', HELD_UPLOADS);
    let rmvDone = false;
    let crt: Promise<{ readonly reply: readonly string[]; readonly rmvDone: boolean; readonly left: number }> | undefined;
    const { s } = await openPaced(dir, () => {
      crt = lines(run(s, 'bob', 'CRT other')).then((reply) => ({
        reply,
        rmvDone,
        left: readdirSync(dir).filter((n) => n.startsWith('many-')).length,
      }));
      // RMV held at its first file until the CRT answered; on the old code, whose RMV held the lock the CRT
      // waits for, until the bound.
      return heldUntil(crt);
    }, named);
    const rmv = lines(run(s, 'alice', 'RMV many')).then((reply) => {
      rmvDone = true;
      return reply;
    });
    expect(await rmv).toEqual(['Thread many removed']);
    expect(crt).toBeDefined();
    const seen = await crt;
    expect(seen?.reply).toEqual(['Thread other created']);
    // Answered while RMV was held before its first unlink: on the old code only after RMV's answer.
    expect(seen?.rmvDone).toBe(false);
    expect(seen?.left).toBe(HELD_UPLOADS);
    expect(readdirSync(dir).filter((n) => n.startsWith('many-'))).toEqual([]);
    expect(intentRecords(dir)).toEqual([]);
  });

  it("refuses a CRT of one of the upload files' names until RMV has ended, then allows it", async () => {
    const dir = directoryWithUploads('many');
    // The first file's: RMV is about to unlink it as the CRT is sent.
    const taken = `many-${fileName(0)}`;
    let rmvDone = false;
    let crt: Promise<{ readonly reply: readonly string[]; readonly rmvDone: boolean }> | undefined;
    const { s } = await openPaced(dir, () => {
      crt = lines(run(s, 'bob', `CRT ${taken}`)).then((reply) => ({ reply, rmvDone }));
    });
    const rmv = lines(run(s, 'alice', 'RMV many')).then((reply) => {
      rmvDone = true;
      return reply;
    });
    expect(await rmv).toEqual(['Thread many removed']);
    const seen = await crt;
    if (seen?.reply[0] === `Thread ${taken} created`) {
      // Allowed only by waiting for RMV (the old code): its file then survives RMV.
      expect(seen.rmvDone).toBe(true);
    } else {
      expect(seen?.reply).toEqual([`Thread ${taken} exists`]);
      expect(existsSync(join(dir, taken))).toBe(false);
      expect(await lines(run(s, 'bob', `CRT ${taken}`))).toEqual([`Thread ${taken} created`]);
    }
    expect(existsSync(join(dir, taken))).toBe(true);
    expect(await lines(run(s, 'bob', `RDT ${taken}`))).toEqual([`Thread ${taken} is empty`]);
  });

  it('through withNameIdentity, refuses a CRT of another spelling of an upload file name until RMV has answered', async () => {
    const dir = directoryWithUploads('many');
    const other = `MANY-${fileName(0).toUpperCase()}`;
    let rmvDone = false;
    let crt: Promise<{ readonly reply: readonly string[]; readonly rmvDone: boolean }> | undefined;
    const { s } = await openPaced(
      dir,
      () => {
        crt = lines(run(s, 'bob', `CRT ${other}`)).then((reply) => ({ reply, rmvDone }));
      },
      true,
    );
    const rmv = lines(run(s, 'alice', 'RMV many')).then((reply) => {
      rmvDone = true;
      return reply;
    });
    expect(await rmv).toEqual(['Thread many removed']);
    const seen = await crt;
    // Refused, or (the old code, whose RMV held the index's lock) created only once RMV had answered.
    if (seen?.reply[0] === `Thread ${other} created`) expect(seen.rmvDone).toBe(true);
    else {
      expect(seen?.reply).toEqual([`Thread ${other} exists`]);
      expect(await lines(run(s, 'bob', `CRT ${other}`))).toEqual([`Thread ${other} created`]);
    }
  });

  it("through withNameIdentity, an upload commit to the thread RMV is deleting does not hold the index's lock while it waits: another title's CRT answers before RMV, the commit is refused as to a missing thread and leaves nothing", async () => {
    const dir = directoryWithUploads('many', HELD_UPLOADS);
    let rmvDone = false;
    let committed: Promise<{ readonly result: E.Either<UploadError, void>; readonly rmvDone: boolean }> | undefined;
    let crt: Promise<{ readonly reply: readonly string[]; readonly rmvDone: boolean }> | undefined;
    const { s } = await openPaced(
      dir,
      () => {
        // The commit first (its bytes already synced and closed, so it reaches the index's lock within this turn),
        // then the CRT, once the commit has had that turn: before, the commit held the index's lock while it waited
        // for the thread's, which RMV holds to its last unlink, and the CRT waited behind it.
        committed = commit().then((result) => ({ result, rmvDone }));
        // RMV held at its first file until the CRT answered (on the old code, until the bound).
        return new Promise((resolve) => {
          setImmediate(() => {
            crt = lines(run(s, 'bob', 'CRT other')).then((reply) => ({ reply, rmvDone }));
            resolve(heldUntil(crt));
          });
        });
      },
      true,
    );
    const begun = await s.beginUpload('many', 'late.bin', 'bob')();
    if (E.isLeft(begun)) throw new Error(begun.left.kind);
    const writer = begun.right;
    await new Promise<void>((resolve) => writer.stream.once('close', () => resolve()).end(Buffer.from('late')));
    const commit = writer.commit;
    const rmv = lines(run(s, 'alice', 'RMV many')).then((reply) => {
      rmvDone = true;
      return reply;
    });
    expect(await rmv).toEqual(['Thread many removed']);
    const seenCrt = await crt;
    expect(seenCrt?.reply).toEqual(['Thread other created']);
    expect(seenCrt?.rmvDone).toBe(false);
    // What a commit to a missing thread is answered: the thread it was sent to is gone.
    const seenCommit = await committed;
    expect(seenCommit?.result).toEqual(E.left({ kind: 'noThread', title: 'many' }));
    expect(readdirSync(dir).filter((n) => n.startsWith('many') || n.startsWith('.forum-tmp') || n.startsWith('.forum-intent-'))).toEqual([]);
    // And the index was left as the store: the name is free, the thread gone.
    expect(await lines(run(s, 'bob', 'CRT many'))).toEqual(['Thread many created']);
    expect(await lines(run(s, 'bob', 'RDT many'))).toEqual(['Thread many is empty']);
  });

  it('keeps the removed title from an upload of the same directory name until its intent record has ended', async () => {
    // Thread "a" with upload "b-c" is stored as "a-b-c", the name of the thread being removed.
    const dir = directoryWithUploads('a-b-c');
    writeFileSync(join(dir, 'a'), 'bob\n');
    let committed: Promise<{ readonly ok: boolean; readonly intentsLeft: number }> | undefined;
    const { s } = await openPaced(dir, () => {
      committed = upload(s, 'a', 'b-c', 'bob', Buffer.from('mine')).then((r) => ({ ok: E.isRight(r), intentsLeft: intentRecords(dir).length }));
    });
    expect(await lines(run(s, 'alice', 'RMV a-b-c'))).toEqual(['Thread a-b-c removed']);
    const seen = await committed;
    // Refused, or (the old code) committed only once RMV's record was gone: a crash before then would have
    // had the next open delete the new upload as the removed thread's file.
    if (seen?.ok === true) expect(seen.intentsLeft).toBe(0);
    else expect(E.isRight(await upload(s, 'a', 'b-c', 'bob', Buffer.from('mine')))).toBe(true);
    expect(existsSync(join(dir, 'a-b-c'))).toBe(true);
  });
});
