/**
 * The data-directory store's intent records: written (atomically) before a
 * change that touches two names, and acted on at the next open if a crash
 * left one (see below).
 */
import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { randomBytes } from 'node:crypto';
import { access, readdir, readFile, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { TEMP_PREFIX, syncDir, writeFileAtomic } from './atomic-write.js';
import { errorCode, isEnoent, unlinkIfPresent } from './file-errors.js';
import { storedNameProblem } from './stored-name.js';
import { hasUpload, parseThreadFile, uploadFileName, wordProblem } from '../store/thread.js';

// An intent record is written (atomically) before a change that touches two
// names, UPD's commit and RMV, and deleted after it. A crash in between leaves
// the record, and the next open finishes (RMV) or undoes (UPD) the change, so
// no thread ever lists an upload that is gone and no upload file is left
// without its thread (a text upload would then be read as a thread).
const INTENT_PREFIX = '.forum-intent-';
const Intent = t.union([
  /** Committing an upload: the bytes go from `temp` to `THREAD-FILENAME`, then the thread gets its line. */
  t.type({ op: t.literal('upload'), thread: t.string, filename: t.string, temp: t.string }),
  /** Removing a thread: its file goes first, then its uploads. */
  t.type({ op: t.literal('remove'), thread: t.string, filenames: t.array(t.string) }),
  /**
   * What a `remove` left when some upload files could not be deleted: those files only. The thread's
   * own file is gone already and its title free; a new thread of that title must not be deleted.
   */
  t.type({ op: t.literal('removeUploads'), thread: t.string, filenames: t.array(t.string) }),
]);
/** An intent record: what a two-name change (UPD's commit, RMV) was about to do. */
export type Intent = t.TypeOf<typeof Intent>;

/** Writes `intent` as a new record (atomically); its file name, to clear it by. */
export const writeIntent = async (dir: string, intent: Intent): Promise<string> => {
  const name = `${INTENT_PREFIX}${randomBytes(8).toString('hex')}`;
  await writeFileAtomic(dir, name, JSON.stringify(intent));
  return name;
};

/**
 * Ends record `name`: true once it is gone for good (its directory synced); false if it could not be
 * deleted or the deletion made durable. Then the record stays for the next open, which acts on it (see
 * below) however long after, so the caller keeps the names it covers taken until then: a file made
 * meanwhile under one of them would be deleted by that open.
 */
export const clearIntent = async (dir: string, name: string): Promise<boolean> => {
  try {
    await unlinkIfPresent(join(dir, name));
    await syncDir(dir);
    return true;
  } catch {
    return false;
  }
};

// The store's own name rule, not the request layer's: a record for a name the store accepted is always acted on.
const plainName = (kind: 'thread title' | 'file name', name: string): boolean =>
  storedNameProblem(name) === undefined && (kind === 'thread title' || wordProblem('the file name', name) === undefined);

/** Reads an intent record; `undefined` when it is not one this store wrote (then it is only deleted). */
const readIntent = async (file: string): Promise<Intent | undefined> => {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
  const decoded = Intent.decode(value);
  if (E.isLeft(decoded)) return undefined;
  const intent = decoded.right;
  if (!plainName('thread title', intent.thread)) return undefined;
  if (intent.op !== 'upload') return intent.filenames.every((f) => plainName('file name', f)) ? intent : undefined;
  return plainName('file name', intent.filename) && intent.temp.startsWith(TEMP_PREFIX) && basename(intent.temp) === intent.temp ? intent : undefined;
};

const exists = (file: string): Promise<boolean> => access(file).then(() => true, () => false);

/** Finishes or undoes what a process killed part way through an UPD commit or an RMV left; says what in `done` (for the log). */
export const recoverIntents = async (dir: string, warnings: string[], done: string[]): Promise<void> => {
  const names = (await readdir(dir)).filter((n) => n.startsWith(INTENT_PREFIX));
  for (const name of names) {
    const intent = await readIntent(join(dir, name));
    if (intent === undefined) {
      warnings.push(`${name} is not a valid intent record and was deleted`);
    } else if (intent.op !== 'upload') {
      // Roll forward: the RMV may already have removed some of it. The thread's file only while the
      // RMV held its lock (`remove`): once it let go (`removeUploads`) the title may be a new thread's.
      if (intent.op === 'remove') await unlinkIfPresent(join(dir, intent.thread));
      // An upload file that still cannot be deleted does not stop the forum from starting: it stays (its
      // name taken, as any file there is), and so does the record, to try again at the next open.
      let kept = false;
      for (const f of intent.filenames) {
        await unlinkIfPresent(join(dir, uploadFileName(intent.thread, f))).catch((e: unknown) => {
          warnings.push(`${uploadFileName(intent.thread, f)} of removed thread ${intent.thread} could not be deleted (${errorCode(e)}); tried again at the next start`);
          kept = true;
        });
      }
      if (kept) continue;
      done.push(`finished the removal of thread ${intent.thread}, cut short by a crash`);
    } else if (!(await exists(join(dir, intent.temp)))) {
      // The bytes were renamed into place; keep them only if the thread line made it too.
      let committed = false;
      try {
        const thread = parseThreadFile(intent.thread, await readFile(join(dir, intent.thread), 'utf8'));
        committed = thread !== undefined && hasUpload(thread, intent.filename);
      } catch (e) {
        if (!isEnoent(e)) throw e;
      }
      if (!committed) await unlinkIfPresent(join(dir, uploadFileName(intent.thread, intent.filename)));
      done.push(
        committed
          ? `kept the upload of ${intent.filename} to ${intent.thread}: it was whole when a crash came`
          : `undid the upload of ${intent.filename} to ${intent.thread}, cut short by a crash before its thread line`,
      );
    } else {
      // The rename never happened, nothing else changed; the temp is swept with the others.
      done.push(`undid the upload of ${intent.filename} to ${intent.thread}, cut short by a crash before its file was in place`);
    }
    await unlink(join(dir, name));
  }
  if (names.length > 0) await syncDir(dir);
};

/** Replaces record `name` with `intent` in one step (a rename), so the old one is never acted on after it. */
export const replaceIntent = (dir: string, name: string, intent: Intent): Promise<void> => writeFileAtomic(dir, name, JSON.stringify(intent));
