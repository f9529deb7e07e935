/**
 * The data-directory store's intent records: written (atomically) before a
 * change that touches two names, and acted on at the next open if a crash
 * left one (see below).
 */
import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { randomBytes } from 'node:crypto';
import { access, lstat, readdir, readFile, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PUBLIC_FILE_MODE, TEMP_PREFIX, syncDir, writeFileAtomic } from './atomic-write.js';
import { errorCode, isEnoent, unlinkIfPresent } from './file-errors.js';
import { storedNameProblem } from './stored-name.js';
import { utf8Name } from './utf8-name.js';
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
  await writeFileAtomic(dir, name, JSON.stringify(intent), PUBLIC_FILE_MODE);
  return name;
};

/**
 * Ends record `name`: true once it is gone for good (its directory synced); false if it could not be
 * deleted or the deletion made durable. Then the record stays for the next open, which acts on it (see
 * below) however long after, so the caller keeps the names it covers taken until then: a file made
 * meanwhile under one of them would be deleted by that open.
 */
export const clearIntent = async (dir: string, name: string): Promise<boolean> => {
  const file = join(dir, name);
  try {
    await unlinkIfPresent(file);
  } catch {
    // An unlink may report a failure after it landed (an I/O error after the directory changed): a record gone is
    // gone. Taken at its word, an RMV was answered done with no record left to finish it, and came back at a restart.
    if (!(await lstat(file).then(() => false, (e: unknown) => isEnoent(e)))) return false;
  }
  await syncDir(dir);
  return true;
};

// The store's own name rule, not the request layer's: a record for a name the store accepted is always acted on.
const plainName = (kind: 'thread title' | 'file name', name: string): boolean =>
  storedNameProblem(name) === undefined && (kind === 'thread title' || wordProblem('the file name', name) === undefined);

/**
 * Reads an intent record; `undefined` when it is not one this store wrote (then it is only deleted).
 * Throws when it cannot be read (an I/O error): not knowing what it names, the open cannot go on safely.
 */
const readIntent = async (file: string): Promise<Intent | undefined> => {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    // Deleted as not this store's, a record of an upload cut short left its file without a line, read as a
    // thread of its own (made of the uploaded bytes); started without it, a file made under a name it covers
    // would be deleted by a later open that could read it.
    throw new Error(
      `intent record ${file} cannot be read (${errorCode(e)}): it may name an upload file without its thread line, ` +
        `which would be served as a thread, so the store does not open. Make it readable (repair the disk); or delete ` +
        `it, after deleting any upload file TITLE-FILENAME that its thread TITLE does not list`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
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

/** The names in the directory that `intent`'s record, while it exists, tells an open to delete. */
const coveredNames = (intent: Intent): string[] =>
  intent.op === 'upload'
    ? [uploadFileName(intent.thread, intent.filename)]
    : [...(intent.op === 'remove' ? [intent.thread] : []), ...intent.filenames.map((f) => uploadFileName(intent.thread, f))];

/** What a record describes, for the log. */
const describe = (intent: Intent): string =>
  intent.op === 'upload' ? `the upload of ${intent.filename} to ${intent.thread}` : `the removal of thread ${intent.thread}`;

/** Acts on `intent`; what it did, or `undefined` if a step failed (said in `warnings`): its record then stays. */
const actOn = async (dir: string, intent: Intent, warnings: string[]): Promise<string | undefined> => {
  /** Deletes `file` (`what` it is, for the log), or says in `warnings` why not (and returns false). */
  const remove = (file: string, what: string): Promise<boolean> =>
    unlinkIfPresent(join(dir, file)).then(
      () => true,
      (e: unknown) => {
        warnings.push(`${file} ${what} could not be deleted (${errorCode(e)})`);
        return false;
      },
    );
  if (intent.op !== 'upload') {
    // Roll forward: the RMV may already have removed some of it. The thread's file only while the
    // RMV held its lock (`remove`): once it let go (`removeUploads`) the title may be a new thread's.
    let whole = intent.op === 'remove' ? await remove(intent.thread, '(a removed thread)') : true;
    for (const f of intent.filenames) whole = (await remove(uploadFileName(intent.thread, f), `of removed thread ${intent.thread}`)) && whole;
    return whole ? `finished the removal of thread ${intent.thread}, cut short by a crash` : undefined;
  }
  // The rename never happened, nothing else changed; the temp is swept with the others.
  if (await exists(join(dir, intent.temp))) return `undid the upload of ${intent.filename} to ${intent.thread}, cut short by a crash before its file was in place`;
  // The bytes were renamed into place; keep them only if the thread line made it too.
  let committed = false;
  try {
    const thread = parseThreadFile(intent.thread, await readFile(join(dir, intent.thread), 'utf8'));
    committed = thread !== undefined && hasUpload(thread, intent.filename);
  } catch (e) {
    if (!isEnoent(e)) {
      warnings.push(`thread ${intent.thread} could not be read (${errorCode(e)}) to tell whether its upload ${intent.filename} was whole`);
      return undefined;
    }
  }
  if (committed) return `kept the upload of ${intent.filename} to ${intent.thread}: it was whole when a crash came`;
  const file = uploadFileName(intent.thread, intent.filename);
  if (!(await remove(file, `(an upload to ${intent.thread} cut short before its thread line)`))) return undefined;
  return `undid the upload of ${intent.filename} to ${intent.thread}, cut short by a crash before its thread line`;
};

/**
 * Finishes or undoes what a process killed part way through an UPD commit or an RMV left; says what in `done`
 * (for the log). A step that fails (a failing disk) does not stop the store from opening: the record is acted on
 * as far as it can be and kept, to act on again at the next open, and the names it covers are answered (`held`):
 * the open must not serve them (an upload without its line is not a thread; a removed thread stays removed),
 * nor the store give them to a new file meanwhile, which that next open would delete. Throws only for a record
 * that cannot be read (see readIntent). Also answers the temporary files the upload records name (`temps`): this
 * store's, whatever their name, for the open to delete with its other leftovers.
 */
export const recoverIntents = async (
  dir: string,
  warnings: string[],
  done: string[],
): Promise<{ readonly held: ReadonlySet<string>; readonly temps: ReadonlySet<string> }> => {
  const held = new Set<string>();
  const temps = new Set<string>();
  // As bytes: a name that is not UTF-8 is no record of this store's (it names them in hex), and read as a string it came
  // back with U+FFFD, a name no file has: its read failed the open (ENOENT). The open warns of it and leaves it alone.
  const names = (await readdir(dir, { encoding: 'buffer' })).flatMap((b) => {
    const n = utf8Name(b);
    return n?.startsWith(INTENT_PREFIX) === true ? [n] : [];
  });
  for (const name of names) {
    const intent = await readIntent(join(dir, name));
    if (intent === undefined) {
      // Not this store's: nothing it says is acted on, so nothing to hold if it stays.
      await unlink(join(dir, name)).then(
        () => warnings.push(`${name} is not a valid intent record and was deleted`),
        (e: unknown) => warnings.push(`${name} is not a valid intent record and could not be deleted (${errorCode(e)}); ignored`),
      );
      continue;
    }
    if (intent.op === 'upload') temps.add(intent.temp);
    const did = await actOn(dir, intent, warnings);
    const ended = did !== undefined && (await unlink(join(dir, name)).then(() => true, (e: unknown) => {
      warnings.push(`intent record ${name} (${describe(intent)}) could not be deleted (${errorCode(e)})`);
      return false;
    }));
    if (did !== undefined) done.push(did);
    if (ended) continue;
    const covered = coveredNames(intent);
    for (const n of covered) held.add(n);
    warnings.push(
      `intent record ${name} (${describe(intent)}) kept, to act on again at the next start; until then ` +
        `${covered.join(', ')} ${covered.length === 1 ? 'is' : 'are'} not served and taken`,
    );
  }
  if (names.length > 0) await syncDir(dir);
  return { held, temps };
};

/** Replaces record `name` with `intent` in one step (a rename), so the old one is never acted on after it. */
export const replaceIntent = (dir: string, name: string, intent: Intent): Promise<void> => writeFileAtomic(dir, name, JSON.stringify(intent), PUBLIC_FILE_MODE);
