import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import * as t from 'io-ts';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { TEMP_PREFIX, syncDir, tempPath, writeFileAtomic } from './atomic-write.js';
import { appendCredential, parseCredentials, replaceCredential } from './credentials.js';
import { toIoError, type FileExistsError, type IoError, type NoFileError, type StoreError } from './errors.js';
import { createKeyedMutex } from './keyed-mutex.js';
import { CREDENTIALS_FILE, validateName } from './names.js';
import type { Account, Download, ForumStore, ThreadUpdate, UploadWriter } from './store.js';
import { formatThreadFile, hasUpload, parseThreadFile, uploadFileName, type Thread } from './thread.js';

/** Options for {@link openFileStore}. */
export interface FileStoreOptions {
  /** Files larger than this are never read as threads when the directory is opened (they are taken to be uploads). Default 16 MiB. */
  readonly maxThreadFileBytes?: number;
}

// Lock taken (after the thread's own lock, never before) by every operation
// that gives a name in the directory to a new file, so a thread `a-b` and the
// upload `b` of thread `a` can never both claim `a-b`.
const NAMESPACE_LOCK = '\u0000namespace';

const isEnoent = (e: unknown): boolean => typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'ENOENT';

const unlinkIfPresent = (file: string): Promise<void> => unlink(file).catch((e: unknown) => (isEnoent(e) ? undefined : Promise.reject(e)));

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
]);
type Intent = t.TypeOf<typeof Intent>;

const writeIntent = async (dir: string, intent: Intent): Promise<string> => {
  const name = `${INTENT_PREFIX}${randomBytes(8).toString('hex')}`;
  await writeFileAtomic(dir, name, JSON.stringify(intent));
  return name;
};

/** Best effort: a record left behind is harmless until the next open, which acts on it (see below). */
const clearIntent = async (dir: string, name: string): Promise<void> => {
  await unlink(join(dir, name)).catch(() => undefined);
  await syncDir(dir);
};

const plainName = (kind: 'thread title' | 'file name', name: string): boolean => E.isRight(validateName(kind, name));

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
  if (intent.op === 'remove') return intent.filenames.every((f) => plainName('file name', f)) ? intent : undefined;
  return plainName('file name', intent.filename) && intent.temp.startsWith(TEMP_PREFIX) && basename(intent.temp) === intent.temp ? intent : undefined;
};

const exists = (file: string): Promise<boolean> => access(file).then(() => true, () => false);

/** Finishes or undoes what a process killed part way through an UPD commit or an RMV left. */
const recoverIntents = async (dir: string, warnings: string[]): Promise<void> => {
  const names = (await readdir(dir)).filter((n) => n.startsWith(INTENT_PREFIX));
  for (const name of names) {
    const intent = await readIntent(join(dir, name));
    if (intent === undefined) {
      warnings.push(`${name} is not a valid intent record and was deleted`);
    } else if (intent.op === 'remove') {
      // Roll forward: the RMV may already have removed some of it.
      await unlinkIfPresent(join(dir, intent.thread));
      for (const f of intent.filenames) await unlinkIfPresent(join(dir, uploadFileName(intent.thread, f)));
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
    }
    // (Temp file still there: the rename never happened, nothing else changed; the temp is swept below.)
    await unlink(join(dir, name));
  }
  if (names.length > 0) await syncDir(dir);
};

const attempt = <Err, A>(work: () => Promise<E.Either<Err, A>>): TE.TaskEither<Err | IoError, A> => async () => {
  try {
    return await work();
  } catch (e) {
    return E.left(toIoError(e));
  }
};

interface Loaded {
  readonly credentialsText: string;
  readonly accounts: readonly Account[];
  readonly threads: readonly Thread[];
  readonly otherNames: readonly string[];
  readonly warnings: readonly string[];
}

const load = async (dir: string, maxThreadFileBytes: number): Promise<Loaded> => {
  await mkdir(dir, { recursive: true });
  const warnings: string[] = [];
  await recoverIntents(dir, warnings);
  let credentialsText = '';
  try {
    credentialsText = await readFile(join(dir, CREDENTIALS_FILE), 'utf8');
  } catch (e) {
    if (!isEnoent(e)) throw e;
  }
  const creds = parseCredentials(credentialsText);
  warnings.push(...creds.warnings);

  const candidates: Thread[] = [];
  const otherNames: string[] = [];
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const name = entry.name;
    if (name.startsWith(TEMP_PREFIX)) {
      // Left by a process killed mid-write; the real file is intact.
      await unlink(join(dir, name)).catch(() => undefined);
      continue;
    }
    if (name === CREDENTIALS_FILE) continue;
    if (!entry.isFile() || E.isLeft(validateName('thread title', name))) {
      otherNames.push(name);
      continue;
    }
    const path = join(dir, name);
    const size = (await stat(path)).size;
    let thread: Thread | undefined;
    if (size <= maxThreadFileBytes) {
      try {
        const text = utf8.decode(await readFile(path));
        thread = text.includes('\u0000') ? undefined : parseThreadFile(name, text);
      } catch {
        thread = undefined;
      }
    }
    if (thread === undefined) otherNames.push(name);
    else candidates.push(thread);
  }
  // A text upload can look like a thread; the upload lines say which it is.
  const uploads = new Set(candidates.flatMap((th) => th.entries.flatMap((e) => (e.kind === 'upload' ? [uploadFileName(th.title, e.filename)] : []))));
  const threads = candidates.filter((th) => !uploads.has(th.title));
  otherNames.push(...candidates.filter((th) => uploads.has(th.title)).map((th) => th.title));
  return { credentialsText, accounts: creds.accounts, threads, otherNames, warnings };
};

/**
 * Opens (creating it if needed) a data directory in the format of
 * forum-spec.md: `credentials.txt`, one file per thread named by its title,
 * uploads as `TITLE-FILENAME`. Existing files, hand-written or left by the
 * original implementation, are read; leftover temporary files are deleted,
 * and an UPD commit or RMV that a crash cut short is undone or finished.
 *
 * The store then owns the directory: it caches its contents and writes
 * through, each write atomically (temporary file + rename), with a lock per
 * file so concurrent commands never interleave writes.
 */
export const openFileStore = (dir: string, options: FileStoreOptions = {}): TE.TaskEither<IoError, ForumStore> =>
  attempt(async () => E.right(makeStore(dir, await load(dir, options.maxThreadFileBytes ?? 16 * 1024 * 1024))));

const makeStore = (dir: string, loaded: Loaded): ForumStore => {
  const mutex = createKeyedMutex();
  let credentialsText = loaded.credentialsText;
  const accounts = new Map(loaded.accounts.map((a) => [a.username, a]));
  const threads = new Map(loaded.threads.map((th) => [th.title, th]));
  // Names in the directory that are neither threads nor recorded uploads: never overwritten by CRT.
  const otherNames = new Set(loaded.otherNames);
  const path = (name: string): string => join(dir, name);
  const noThread = (title: string): StoreError => ({ kind: 'noThread', title });
  const recordedUploads = (): Set<string> =>
    new Set([...threads.values()].flatMap((th) => th.entries.flatMap((e) => (e.kind === 'upload' ? [uploadFileName(th.title, e.filename)] : []))));

  const createAccount = (account: Account): TE.TaskEither<StoreError, boolean> =>
    attempt(() =>
      mutex.run(CREDENTIALS_FILE, async () => {
        if (accounts.has(account.username)) return E.right(false);
        const next = appendCredential(credentialsText, account);
        await writeFileAtomic(dir, CREDENTIALS_FILE, next);
        credentialsText = next;
        accounts.set(account.username, account);
        return E.right(true);
      }),
    );

  const replaceAccountSecret = (username: string, secret: string): TE.TaskEither<StoreError, boolean> =>
    attempt(() =>
      mutex.run(CREDENTIALS_FILE, async (): Promise<E.Either<StoreError, boolean>> => {
        if (!accounts.has(username)) return E.right(false);
        const next = replaceCredential(credentialsText, username, secret);
        if (next === undefined) return E.left({ kind: 'io', message: `credentials.txt has no line for ${username}` } satisfies IoError);
        await writeFileAtomic(dir, CREDENTIALS_FILE, next);
        credentialsText = next;
        accounts.set(username, { username, password: secret });
        return E.right(true);
      }),
    );

  const createThread = (title: string, creator: string): TE.TaskEither<StoreError, boolean> =>
    attempt(() =>
      mutex.run(title, () =>
        mutex.run(NAMESPACE_LOCK, async () => {
          if (threads.has(title) || otherNames.has(title) || recordedUploads().has(title) || title === CREDENTIALS_FILE) return E.right(false);
          const thread: Thread = { title, creator, entries: [] };
          await writeFileAtomic(dir, title, formatThreadFile(thread));
          threads.set(title, thread);
          return E.right(true);
        }),
      ),
    );

  const updateThread = <Err, A>(title: string, update: ThreadUpdate<Err, A>): TE.TaskEither<StoreError | Err, A> =>
    attempt(() =>
      mutex.run(title, async (): Promise<E.Either<StoreError | Err, A>> => {
        const thread = threads.get(title);
        if (thread === undefined) return E.left(noThread(title));
        const out = update(thread);
        if (E.isLeft(out)) return out;
        await writeFileAtomic(dir, title, formatThreadFile(out.right.thread));
        threads.set(title, out.right.thread);
        return E.right(out.right.result);
      }),
    );

  const removeThread = <Err>(title: string, guard: (thread: Thread) => E.Either<Err, void>): TE.TaskEither<StoreError | Err, void> =>
    attempt(() =>
      // The namespace lock too: once the thread is gone its upload names look free to CRT.
      mutex.run(title, () =>
        mutex.run(NAMESPACE_LOCK, async (): Promise<E.Either<StoreError | Err, void>> => {
          const thread = threads.get(title);
          if (thread === undefined) return E.left(noThread(title));
          const ok = guard(thread);
          if (E.isLeft(ok)) return ok;
          const filenames = thread.entries.flatMap((e) => (e.kind === 'upload' ? [e.filename] : []));
          // Without uploads the one unlink is atomic by itself.
          const intent = filenames.length === 0 ? undefined : await writeIntent(dir, { op: 'remove', thread: title, filenames });
          // The thread goes first, in one step; its uploads follow (a crash now is finished at the next open).
          try {
            await unlinkIfPresent(path(title));
          } catch (e) {
            if (intent !== undefined) await clearIntent(dir, intent);
            throw e;
          }
          threads.delete(title);
          let leftovers = false;
          for (const f of filenames) {
            await unlinkIfPresent(path(uploadFileName(title, f))).catch(() => {
              // Kept from CRT until the next open deletes it (the intent record stays for that).
              otherNames.add(uploadFileName(title, f));
              leftovers = true;
            });
          }
          await syncDir(dir);
          if (intent !== undefined && !leftovers) await clearIntent(dir, intent);
          return E.right(undefined);
        }),
      ),
    );

  const beginUpload = (title: string, filename: string, uploader: string): TE.TaskEither<StoreError | FileExistsError, UploadWriter> =>
    attempt(async (): Promise<E.Either<StoreError | FileExistsError, UploadWriter>> => {
      const thread = threads.get(title);
      if (thread === undefined) return E.left(noThread(title));
      if (hasUpload(thread, filename)) return E.left({ kind: 'fileExists', title, filename } satisfies FileExistsError);
      const tmp = tempPath(dir);
      const stream = createWriteStream(tmp, { flags: 'wx', mode: 0o644 });
      // Errors surface through commit(); a listener keeps them from crashing the process.
      stream.on('error', () => undefined);
      const closed = new Promise<Error | null>((resolve) => stream.once('close', () => resolve(stream.errored)));
      let aborted = false;
      const discard = async (): Promise<void> => {
        await unlink(tmp).catch(() => undefined);
      };
      const commit: TE.TaskEither<StoreError | FileExistsError, void> = attempt(async (): Promise<E.Either<StoreError | FileExistsError, void>> => {
        if (aborted) return E.left({ kind: 'io', message: 'upload was aborted' });
        if (!stream.writableEnded) stream.end();
        const err = await closed;
        if (err !== null) {
          await discard();
          return E.left(toIoError(err));
        }
        const h = await open(tmp, 'r+');
        try {
          await h.sync();
        } finally {
          await h.close();
        }
        return mutex.run(title, () =>
          mutex.run(NAMESPACE_LOCK, async (): Promise<E.Either<StoreError | FileExistsError, void>> => {
            const current = threads.get(title);
            const name = uploadFileName(title, filename);
            if (current === undefined) {
              await discard();
              return E.left(noThread(title));
            }
            if (hasUpload(current, filename) || threads.has(name) || recordedUploads().has(name) || name === CREDENTIALS_FILE) {
              await discard();
              return E.left({ kind: 'fileExists', title, filename });
            }
            const next: Thread = { ...current, entries: [...current.entries, { kind: 'upload', uploader, filename }] };
            // The bytes go in place first, then the line that makes them visible; the intent
            // record lets the next open remove the bytes if a crash comes between the two.
            const intent = await writeIntent(dir, { op: 'upload', thread: title, filename, temp: basename(tmp) });
            try {
              await rename(tmp, path(name));
              try {
                await writeFileAtomic(dir, title, formatThreadFile(next));
              } catch (e) {
                await unlink(path(name)).catch(() => undefined);
                throw e;
              }
            } catch (e) {
              await discard();
              await clearIntent(dir, intent);
              throw e;
            }
            await clearIntent(dir, intent);
            otherNames.delete(name);
            threads.set(title, next);
            return E.right(undefined);
          }),
        );
      });
      const abort = async (): Promise<void> => {
        aborted = true;
        stream.destroy();
        await closed;
        await discard();
      };
      return E.right({ stream, commit, abort });
    });

  const locateUpload = (title: string, filename: string): E.Either<StoreError | NoFileError, string> => {
    const thread = threads.get(title);
    if (thread === undefined) return E.left(noThread(title));
    if (!hasUpload(thread, filename)) return E.left({ kind: 'noFile', title, filename });
    return E.right(path(uploadFileName(title, filename)));
  };

  const statUpload = (title: string, filename: string): TE.TaskEither<StoreError | NoFileError, number> =>
    attempt(async (): Promise<E.Either<StoreError | NoFileError, number>> => {
      const located = locateUpload(title, filename);
      if (E.isLeft(located)) return located;
      try {
        return E.right((await stat(located.right)).size);
      } catch (e) {
        if (isEnoent(e)) return E.left({ kind: 'noFile', title, filename });
        throw e;
      }
    });

  const openDownload = (title: string, filename: string): TE.TaskEither<StoreError | NoFileError, Download> =>
    attempt(async (): Promise<E.Either<StoreError | NoFileError, Download>> => {
      const located = locateUpload(title, filename);
      if (E.isLeft(located)) return located;
      let h;
      try {
        h = await open(located.right, 'r');
      } catch (e) {
        if (isEnoent(e)) return E.left({ kind: 'noFile', title, filename });
        throw e;
      }
      let size: number;
      try {
        size = (await h.stat()).size;
      } catch (e) {
        await h.close();
        throw e;
      }
      // The stream owns the handle: a later RMV unlinks the name, not the bytes being read.
      const stream = h.createReadStream({ autoClose: true });
      return E.right({ stream, size });
    });

  return {
    warnings: loaded.warnings,
    getAccount: (username) => TE.right(O.fromNullable(accounts.get(username))),
    listAccounts: () => TE.right([...accounts.keys()]),
    createAccount,
    replaceAccountSecret,
    listThreads: () => TE.right([...threads.keys()].sort()),
    getThread: (title) => TE.right(O.fromNullable(threads.get(title))),
    createThread,
    updateThread,
    removeThread,
    beginUpload,
    statUpload,
    openDownload,
  };
};
