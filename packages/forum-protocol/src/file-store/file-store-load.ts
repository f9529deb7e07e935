import { mkdir, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isOwnTempName } from './atomic-write.js';
import { ACCOUNT_ORIGINS_FILE, parseAccountOrigins } from './account-origins.js';
import { parseCredentials } from './credentials.js';
import { readFileIfPresent } from './file-errors.js';
import { recoverIntents } from './intent-records.js';
import { CREDENTIALS_FILE } from '../protocol/names.js';
import type { Account } from '../store/store.js';
import { storedNameProblem } from './stored-name.js';
import type { StoredThread } from '../store/thread-change.js';
import { formatThreadFile, parseThreadFile, uploadFileName } from '../store/thread.js';
import { recoverJournal } from './undo-journal.js';
import { escapedName, utf8Name } from './utf8-name.js';

/** A data directory as {@link loadDataDirectory} found it, after recovery. */
export interface LoadedDirectory {
  /** `credentials.txt` as read, `undefined` if there is none. */
  readonly credentials: Buffer | undefined;
  /** `.forum-account-origins` as read (account-origins.ts), `undefined` if there is none. */
  readonly origins: Buffer | undefined;
  /** The accounts, each with its recorded origin if it has one. */
  readonly accounts: readonly Account[];
  /** Names of malformed credentials lines no account has, with the line's number (`ParsedCredentials.damaged`). */
  readonly damagedAccounts: ReadonlyMap<string, number>;
  readonly threads: ReadonlyMap<string, StoredThread>;
  /** Names in the directory that are neither threads nor recorded uploads. */
  readonly otherNames: readonly string[];
  /** Bytes of each upload file a thread lists, by directory name (for each account's share of uploads, upload-shares.ts). */
  readonly uploadBytes: ReadonlyMap<string, number>;
  readonly warnings: readonly string[];
  /** What recovery did: changes a crash cut short undone or finished, temporary files deleted (for the log). */
  readonly recovered: readonly string[];
}

/** Reads `path` as a thread file, or says why it is not one (too big, not UTF-8, a NUL, not the thread format). */
export const readThreadFile = async (path: string, title: string, maxBytes: number): Promise<StoredThread | string> => {
  const size = (await stat(path)).size;
  if (size > maxBytes) return `larger than ${maxBytes} bytes`;
  const bytes = await readFile(path);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return 'not UTF-8';
  }
  if (text.includes('\u0000')) return 'holds a NUL byte';
  const thread = parseThreadFile(title, text);
  if (thread === undefined) return 'not in the thread format';
  // Canonical by its bytes, not its text: the decoder drops a leading byte order mark (Notepad saves one), and a file
  // taken for the store's own is edited in place at offsets 3 bytes short (its creator line cut, unreadable after).
  return { thread, bytes: bytes.length, canonical: Buffer.from(formatThreadFile(thread), 'utf8').equals(bytes) };
};

/**
 * Opens the data directory `dir` (creating it if needed) as the file store
 * starts: a change a crash cut short is undone (the journal), an UPD commit
 * or RMV cut short undone or finished (the intent records), leftover
 * temporary files deleted; then credentials and threads are read, files of
 * up to `maxThreadFileBytes`. Rejects with `signal`'s reason once it aborts,
 * between steps (a recovery under way is finished first). `onRecovered` is
 * told once the recovery is over (done or failed).
 */
export const loadDataDirectory = async (dir: string, maxThreadFileBytes: number, signal?: AbortSignal, onRecovered?: () => void): Promise<LoadedDirectory> => {
  signal?.throwIfAborted();
  const warnings: string[] = [];
  const recovered: string[] = [];
  // Names an intent record that could not be ended still covers: not served, kept taken (recoverIntents).
  let held: ReadonlySet<string> = new Set();
  // Temporary files the intent records name: this store's, to delete with the ones named as only it names them.
  let recordTemps: ReadonlySet<string> = new Set();
  try {
    await mkdir(dir, { recursive: true });
    // The journal first: it puts back files an unfinished change touched, which the intent records then read.
    const journal = await recoverJournal(dir);
    warnings.push(...journal.warnings);
    recovered.push(...journal.restored.map((f) => `undid a change to ${f} cut short by a crash`));
    ({ held, temps: recordTemps } = await recoverIntents(dir, warnings, recovered));
  } finally {
    onRecovered?.();
  }
  signal?.throwIfAborted();
  const credentials = await readFileIfPresent(join(dir, CREDENTIALS_FILE));
  const creds = parseCredentials(credentials?.toString('utf8') ?? '');
  warnings.push(...creds.warnings);
  const origins = await readFileIfPresent(join(dir, ACCOUNT_ORIGINS_FILE));
  const parsedOrigins = parseAccountOrigins(origins?.toString('utf8') ?? '');
  warnings.push(...parsedOrigins.warnings);
  const originOf = parsedOrigins.origins;
  const accounts = creds.accounts.map((a) => {
    const origin = originOf.get(a.username);
    return origin === undefined ? a : { ...a, origin };
  });

  const names: string[] = [];
  const otherNames: string[] = [];
  // Names as bytes: one that is not UTF-8 (a Latin-1 `café` copied in) read as a string came back with U+FFFD
  // in place of its bytes, a name no file has, and its stat failed the whole start with ENOENT.
  for (const entry of await readdir(dir, { withFileTypes: true, encoding: 'buffer' })) {
    const name = utf8Name(entry.name);
    if (name === undefined) {
      // No request can name it (names travel as Unicode, and the store writes them as UTF-8), so it takes no name.
      warnings.push(`a file whose name is not UTF-8 (${escapedName(entry.name)}) is not served, left as it is`);
      continue;
    }
    if (isOwnTempName(name) || recordTemps.has(name)) {
      // Left by a process killed mid-write; the real file is intact. Only names this store makes: another
      // program's `.forum-tmp-notes` (or anything of the prefix) was deleted at every start.
      await unlink(join(dir, name)).then(
        () => recovered.push(`deleted ${name}, the temporary file of a write cut short by a crash`),
        () => undefined,
      );
      continue;
    }
    if (name === CREDENTIALS_FILE || name === ACCOUNT_ORIGINS_FILE) continue;
    if (held.has(name)) continue;
    if (entry.isFile() && storedNameProblem(name) === undefined) names.push(name);
    else otherNames.push(name);
  }
  // Which files are uploads is said by the upload lines of the threads, and only
  // of real threads: an upload whose bytes read like a thread file naming
  // uploads must not claim anything. Upload `T-F` is always longer than its
  // thread `T`, so going from short names to long ones, every thread is known
  // for what it is before any name it could claim comes up.
  names.sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
  const claimed = new Set<string>();
  const threads = new Map<string, StoredThread>();
  const uploadBytes = new Map<string, number>();
  for (const name of names) {
    if (claimed.has(name)) {
      // Its uploader's share counts it from here (a file that vanished meanwhile: nothing).
      uploadBytes.set(name, await stat(join(dir, name)).then((st) => st.size, () => 0));
      continue;
    }
    signal?.throwIfAborted();
    const stored = await readThreadFile(join(dir, name), name, maxThreadFileBytes);
    if (typeof stored === 'string') {
      // A thread file edited by hand (or cut short outside the store) would otherwise just be gone from LST.
      warnings.push(`${name} is neither a thread file (${stored}) nor an upload of one: not served, left as it is, its name taken`);
      otherNames.push(name);
      continue;
    }
    threads.set(name, stored);
    for (const e of stored.thread.entries) if (e.kind === 'upload') claimed.add(uploadFileName(name, e.filename));
  }
  // With or without a file (deleted already, the record not), taken all the same.
  otherNames.push(...held);
  return { credentials, origins, accounts, damagedAccounts: creds.damaged, threads, otherNames, uploadBytes, warnings, recovered };
};
