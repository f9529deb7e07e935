import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { appendByUpdate } from './append-by-update.js';
import { changeByUpdate } from './change-by-update.js';
import { TEMP_PREFIX, syncDir, tempPath, writeFileAtomic } from './atomic-write.js';
import { accountStoreProblem, parseCredentials, replaceCredentialAt } from './credentials.js';
import { toIoError, type FileExistsError, type IoError, type NoFileError, type StoreError, type WriteRateError } from './errors.js';
import { createBatcher } from './group-commit.js';
import { createKeyedMutex } from './keyed-mutex.js';
import { CREDENTIALS_FILE } from './names.js';
import type { Account, Download, ForumStore, ThreadUpdate, UploadError, UploadStat, UploadWriter } from './store.js';
import { storedNameProblem } from './stored-name.js';
import { locateChange, writtenBytes, type StoredThread } from './thread-change.js';
import { appendGuarded, threadGrowthGuard } from './thread-growth.js';
import { formatEntriesFrom, formatThreadFile, hasUpload, parseThreadFile, threadStoreProblem, uploadFileName, wordProblem, type Thread, type ThreadEntry } from './thread.js';
import { createUndoJournal, recoverJournal } from './undo-journal.js';
import { createWriteBudget, type WriteBudget, type WriteBudgetOptions } from './write-budget.js';
import { type ThreadLimitError, type ThreadLimits, resolveThreadLimits, threadLimitProblem } from './thread-limits.js';
import { ThreadIncarnations, threadGone, type ThreadIncarnation } from './thread-incarnations.js';
import { TransfersInFlight, TransferStop } from './transfers-in-flight.js';
import { isEnoent, unlinkIfPresent } from './file-errors.js';
import { clearIntent, recoverIntents, replaceIntent, writeIntent } from './intent-records.js';

/** Options for {@link openFileStore}. */
export interface FileStoreOptions {
  /** Files larger than this are never read as threads when the directory is opened, so no thread may grow past it (the change is refused). Default 16 MiB. */
  readonly maxThreadFileBytes?: number;
  /** Thread creation limits (CRT). Default {@link DEFAULT_THREAD_LIMITS}. */
  readonly threadLimits?: Partial<ThreadLimits>;
  /**
   * Most bytes all thread files together may hold: a MSG, EDT or upload line that
   * would add bytes past it is refused (`threadStorageFull`); removing makes room. The
   * store keeps every thread in memory, so this bounds its memory as well as
   * its disk. Default {@link DEFAULT_MAX_THREAD_BYTES}.
   */
  readonly maxThreadBytes?: number;
  /**
   * Bytes a second of thread writes (MSG, EDT, DLT, an upload's line) each
   * account, and the store, may put on disk (see write-budget.ts); `false`:
   * no limit. Default {@link DEFAULT_WRITE_BUDGET}.
   */
  readonly writeBudget?: WriteBudgetOptions | false;
  /** Milliseconds now, for the write budget; only differences count. Default `performance.now` (never goes back). */
  readonly clock?: () => number;
}

/** Default of {@link FileStoreOptions.maxThreadBytes}: 256 MiB, well inside the server's default 1 GiB memory budget. */
export const DEFAULT_MAX_THREAD_BYTES = 256 * 1024 * 1024;

// Lock taken (after the thread's own lock, never before) by every operation
// that gives a name in the directory to a new file, so a thread `a-b` and the
// upload `b` of thread `a` can never both claim `a-b`.
const NAMESPACE_LOCK = '\u0000namespace';

const attempt = <Err, A>(work: () => Promise<E.Either<Err, A>>): TE.TaskEither<Err | IoError, A> => async () => {
  try {
    return await work();
  } catch (e) {
    return E.left(toIoError(e));
  }
};

interface Loaded {
  /** `credentials.txt` as read, `undefined` if there is none. */
  readonly credentials: Buffer | undefined;
  readonly accounts: readonly Account[];
  readonly threads: ReadonlyMap<string, StoredThread>;
  readonly otherNames: readonly string[];
  readonly warnings: readonly string[];
}

const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Reads `path` as a thread file, or `undefined` if it is not one (too big, not UTF-8, a NUL, no creator line). */
const readThreadFile = async (path: string, title: string, maxBytes: number): Promise<StoredThread | undefined> => {
  const size = (await stat(path)).size;
  if (size > maxBytes) return undefined;
  const bytes = await readFile(path);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  if (text.includes('\u0000')) return undefined;
  const thread = parseThreadFile(title, text);
  return thread === undefined ? undefined : { thread, bytes: bytes.length, canonical: formatThreadFile(thread) === text };
};

const load = async (dir: string, maxThreadFileBytes: number): Promise<Loaded> => {
  await mkdir(dir, { recursive: true });
  const warnings: string[] = [];
  // The journal first: it puts back files an unfinished change touched, which the intent records then read.
  warnings.push(...(await recoverJournal(dir)).warnings);
  await recoverIntents(dir, warnings);
  let credentials: Buffer | undefined;
  try {
    credentials = await readFile(join(dir, CREDENTIALS_FILE));
  } catch (e) {
    if (!isEnoent(e)) throw e;
  }
  const creds = parseCredentials(credentials?.toString('utf8') ?? '');
  warnings.push(...creds.warnings);

  const names: string[] = [];
  const otherNames: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const name = entry.name;
    if (name.startsWith(TEMP_PREFIX)) {
      // Left by a process killed mid-write; the real file is intact.
      await unlink(join(dir, name)).catch(() => undefined);
      continue;
    }
    if (name === CREDENTIALS_FILE) continue;
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
  for (const name of names) {
    if (claimed.has(name)) continue;
    const stored = await readThreadFile(join(dir, name), name, maxThreadFileBytes);
    if (stored === undefined) {
      otherNames.push(name);
      continue;
    }
    threads.set(name, stored);
    for (const e of stored.thread.entries) if (e.kind === 'upload') claimed.add(uploadFileName(name, e.filename));
  }
  return { credentials, accounts: creds.accounts, threads, otherNames, warnings };
};

/**
 * Opens (creating it if needed) a data directory in the format of
 * forum-spec.md: `credentials.txt`, one file per thread named by its title,
 * uploads as `TITLE-FILENAME`. Existing files, hand-written or left by the
 * original implementation, are read; leftover temporary files are deleted,
 * a change a crash cut short is undone (see {@link createUndoJournal}), and an
 * UPD commit or RMV that a crash cut short is undone or finished.
 *
 * The store then owns the directory: it caches its contents and writes
 * through, with a lock per file so concurrent commands never interleave
 * writes. A write costs about the size of the change: a new message or
 * account is appended to its file; an edit or deletion rewrites the file from
 * the first line it changes. Each such change goes through the undo journal,
 * so a crash leaves the file as it was or as it should be; a new thread file
 * is written whole (temporary file + rename). What the store cannot keep
 * exactly (a lone surrogate, a line break in a message, a user name with a
 * space, a name that is no plain file name…) is refused with an `io` error
 * whose message starts with {@link UNSTORABLE}, never stored changed.
 */
export const openFileStore = (dir: string, options: FileStoreOptions = {}): TE.TaskEither<IoError, ForumStore> =>
  attempt(async () => {
    const maxThreadFileBytes = options.maxThreadFileBytes ?? 16 * 1024 * 1024;
    const limits = resolveThreadLimits(options.threadLimits);
    const maxThreadBytes = options.maxThreadBytes ?? DEFAULT_MAX_THREAD_BYTES;
    if (!Number.isSafeInteger(maxThreadBytes) || maxThreadBytes < 1) throw new RangeError(`maxThreadBytes must be a whole number from 1 (got ${String(maxThreadBytes)})`);
    const writes: WriteCharging = { budget: options.writeBudget === false ? undefined : createWriteBudget(options.writeBudget), clock: options.clock ?? (() => performance.now()) };
    return E.right(makeStore(dir, await load(dir, maxThreadFileBytes), maxThreadFileBytes, limits, maxThreadBytes, writes));
  });

/** Start of the message of an `io` error for a value the data directory cannot hold exactly. */
export const UNSTORABLE = 'cannot be stored exactly: ';

const unstorable = (problem: string): IoError => ({ kind: 'io', message: `${UNSTORABLE}${problem}` });

const uploadNames = (thread: Thread): string[] => thread.entries.flatMap((e) => (e.kind === 'upload' ? [e.filename] : []));

/** The write budget thread updates are charged to (none: no limit) and its clock. */
interface WriteCharging {
  readonly budget: WriteBudget | undefined;
  readonly clock: () => number;
}

const makeStore = (dir: string, loaded: Loaded, maxThreadFileBytes: number, limits: ThreadLimits, maxThreadBytes: number, writes: WriteCharging): ForumStore => {
  const mutex = createKeyedMutex();
  const journal = createUndoJournal(dir);
  let credentialsText = loaded.credentials?.toString('utf8') ?? '';
  let credentialsBytes = loaded.credentials?.length ?? 0;
  let credentialsExists = loaded.credentials !== undefined;
  // Invalid UTF-8 in the file makes character and byte offsets disagree: such a file is rewritten whole.
  let credentialsExact = loaded.credentials === undefined || Buffer.from(credentialsText, 'utf8').equals(loaded.credentials);
  const accounts = new Map(loaded.accounts.map((a) => [a.username, a]));
  const threads = new Map(loaded.threads);
  // Which life of each title the thread is: an upload must commit into the thread it began in.
  const incarnations = new ThreadIncarnations();
  for (const title of threads.keys()) incarnations.created(title);
  // Uploads being received and downloads being read, so that RMV stops those of the thread it removes
  // (temporary files deleted, read handles closed).
  const inFlight = new TransfersInFlight();
  // Bytes of every thread file, with the growth of batches being written already counted (so
  // concurrent batches on different threads cannot pass the limit together).
  let threadBytes = 0;
  for (const stored of threads.values()) threadBytes += stored.bytes;
  /** Records `stored` for `title`, keeping `threadBytes` in step. */
  const storeThread = (title: string, stored: StoredThread): void => {
    threadBytes += stored.bytes - (threads.get(title)?.bytes ?? 0);
    threads.set(title, stored);
  };
  // Names in the directory that are neither threads nor recorded uploads: never overwritten by CRT or UPD.
  const otherNames = new Set(loaded.otherNames);
  const path = (name: string): string => join(dir, name);
  const noThread = (title: string): StoreError => ({ kind: 'noThread', title });
  // The directory names of every thread's recorded uploads, kept as threads gain uploads and go, so that
  // CRT and UPD check a name without walking every thread under the namespace lock. A count, not a set:
  // hand-written files may record one name in two threads ("a-b" + "c" and "a" + "b-c").
  const recordedUploads = new Map<string, number>();
  const countUpload = (name: string, by: 1 | -1): void => {
    const n = (recordedUploads.get(name) ?? 0) + by;
    if (n > 0) recordedUploads.set(name, n);
    else recordedUploads.delete(name);
  };
  for (const st of threads.values()) for (const f of uploadNames(st.thread)) countUpload(uploadFileName(st.thread.title, f), 1);
  const nameTaken = (name: string): boolean => threads.has(name) || otherNames.has(name) || recordedUploads.has(name) || name.toLowerCase() === CREDENTIALS_FILE;

  /**
   * Charges `actor` a thread write of `bytes` (write-budget.ts), or says why not (nothing charged then).
   * A write of no bytes (an append to a file the store wrote) or by no one is never charged.
   */
  const charge = (actor: string | undefined, bytes: number): WriteRateError | undefined => {
    const refused = actor === undefined || bytes === 0 ? undefined : writes.budget?.take(actor, bytes, writes.clock());
    return refused === undefined ? undefined : { kind: 'writeRate', ...refused };
  };

  /** A new account waiting for the next batch. */
  interface AccountJob {
    readonly account: Account;
    readonly settle: (r: E.Either<StoreError, boolean>) => void;
  }

  // Concurrent new accounts are appended together: one journal record, one write, one sync.
  const accountBatches = createBatcher<AccountJob>(mutex, async (_key, jobs) => {
    const added = new Map<string, Account>();
    const outcomes = jobs.map((job): E.Either<StoreError, boolean> => {
      const problem = accountStoreProblem(job.account);
      if (problem !== undefined) return E.left(unstorable(problem));
      if (accounts.has(job.account.username) || added.has(job.account.username)) return E.right(false);
      added.set(job.account.username, job.account);
      return E.right(true);
    });
    if (added.size > 0) {
      const lines = [...added.values()].map((a) => `${a.username} ${a.password}\n`).join('');
      const tail = `${credentialsText === '' || credentialsText.endsWith('\n') ? '' : '\n'}${lines}`;
      try {
        if (credentialsExists) {
          await journal.replaceTail(CREDENTIALS_FILE, credentialsBytes, Buffer.from(tail, 'utf8'));
        } else {
          await writeFileAtomic(dir, CREDENTIALS_FILE, tail);
          credentialsExists = true;
        }
      } catch (e) {
        // Nothing of the batch was stored: every account that would have been added fails.
        jobs.forEach((job, i) => job.settle(E.isRight(outcomes[i] as E.Either<StoreError, boolean>) ? E.left(toIoError(e)) : (outcomes[i] as E.Either<StoreError, boolean>)));
        return;
      }
      credentialsText += tail;
      credentialsBytes += utf8Bytes(tail);
      for (const a of added.values()) accounts.set(a.username, a);
    }
    jobs.forEach((job, i) => job.settle(outcomes[i] as E.Either<StoreError, boolean>));
  });

  const createAccount = (account: Account): TE.TaskEither<StoreError, boolean> => () =>
    new Promise((resolve) => accountBatches.add(CREDENTIALS_FILE, { account, settle: resolve }));

  const replaceAccountSecret = (username: string, secret: string): TE.TaskEither<StoreError, boolean> =>
    attempt(() =>
      mutex.run(CREDENTIALS_FILE, async (): Promise<E.Either<StoreError, boolean>> => {
        if (!accounts.has(username)) return E.right(false);
        const problem = accountStoreProblem({ username, password: secret });
        if (problem !== undefined) return E.left(unstorable(problem));
        const next = replaceCredentialAt(credentialsText, username, secret);
        if (next === undefined) return E.left({ kind: 'io', message: `credentials.txt has no line for ${username}` } satisfies IoError);
        if (credentialsExact) {
          const offset = utf8Bytes(credentialsText.slice(0, next.from));
          await journal.replaceTail(CREDENTIALS_FILE, offset, Buffer.from(next.text.slice(next.from), 'utf8'));
        } else {
          await writeFileAtomic(dir, CREDENTIALS_FILE, next.text);
          credentialsExact = true;
        }
        credentialsText = next.text;
        credentialsBytes = utf8Bytes(next.text);
        accounts.set(username, { username, password: secret });
        return E.right(true);
      }),
    );

  const createThread = (title: string, creator: string): TE.TaskEither<StoreError | ThreadLimitError, boolean> =>
    attempt(() =>
      mutex.run(title, () =>
        mutex.run(NAMESPACE_LOCK, async (): Promise<E.Either<StoreError | ThreadLimitError, boolean>> => {
          const problem = storedNameProblem(title) ?? wordProblem('the creator name', creator);
          if (problem !== undefined) return E.left(unstorable(problem));
          if (nameTaken(title)) return E.right(false);
          // Under the namespace lock, which every CRT holds: concurrent ones count each other.
          let mine = 0;
          for (const stored of threads.values()) if (stored.thread.creator === creator) mine++;
          const refused = threadLimitProblem(limits, threads.size, mine);
          if (refused !== undefined) return E.left(refused);
          const thread: Thread = { title, creator, entries: [] };
          const text = formatThreadFile(thread);
          await writeFileAtomic(dir, title, text);
          storeThread(title, { thread, bytes: utf8Bytes(text), canonical: true });
          incarnations.created(title);
          return E.right(true);
        }),
      ),
    );

  /** How to write a thread change: replace the file's bytes from `offset` on with `tail`, or (`offset` undefined) write the whole file. */
  interface ThreadWrite {
    readonly stored: StoredThread;
    readonly offset: number | undefined;
    readonly tail: Buffer;
  }

  /**
   * Plans writing `next` over the stored thread `cur`: from the first entry
   * that differs on (an append for MSG), or the whole file (`offset`
   * undefined) for a hand-written one or a change from early in a large one.
   * Refuses what would not read back the same.
   */
  const planThreadWrite = (cur: StoredThread, next: Thread, change = locateChange(cur, next)): E.Either<StoreError, ThreadWrite | undefined> => {
    const title = cur.thread.title;
    if (next.title !== title) return E.left(unstorable('a thread update may not change its title'));
    if (change === undefined) return E.right(undefined);
    const { from, offset } = change;
    const before = cur.thread.entries;
    // A file the store wrote (canonical) reads back entry by entry: only entries new to it need checking.
    // Any other is written whole, so every entry is checked (a line it kept could otherwise read back changed).
    const problem = cur.canonical && !change.creatorChanged ? threadStoreProblem(next, from, from < before.length ? new Set(before) : undefined) : threadStoreProblem(next);
    if (problem !== undefined) return E.left(unstorable(problem));
    const tail = Buffer.from(offset === undefined ? formatThreadFile(next) : formatEntriesFrom(next, from), 'utf8');
    const bytes = (offset ?? 0) + tail.length;
    // A bigger file would not be read back as a thread (maxThreadFileBytes).
    if (bytes > maxThreadFileBytes) return E.left(unstorable(`thread ${title} would be larger than ${maxThreadFileBytes} bytes`));
    return E.right({ stored: { thread: next, bytes, canonical: true }, offset, tail });
  };

  const applyThreadWrite = async (title: string, plan: ThreadWrite): Promise<void> => {
    // After a failed write the journal may hold an undo of this file for the next start: a file renamed
    // over it meanwhile would be cut by it. The journal refuses its own writes; this path must too.
    const failed = journal.failure();
    if (failed !== undefined) throw new Error(`the data directory is read-only after an earlier write failed (${failed.message}); restart the server`);
    if (plan.offset === undefined) await writeFileAtomic(dir, title, plan.tail);
    else await journal.replaceTail(title, plan.offset, plan.tail);
  };

  /**
   * The write that appends upload line `line` to the stored thread `cur`, if
   * the thread may take it: the lines and reply size every append obeys
   * (thread-growth.ts, as MSG), and the bytes all threads may hold, as a MSG
   * batch counts them. Only plans: the caller holds the thread's lock to write.
   */
  const planUploadLine = (cur: StoredThread, line: ThreadEntry): E.Either<UploadError, ThreadWrite> => {
    const next = appendGuarded(cur.thread, line, threadGrowthGuard(cur.thread.title));
    if (E.isLeft(next)) return next;
    const plan = planThreadWrite(cur, next.right);
    if (E.isLeft(plan)) return plan;
    if (plan.right === undefined) return E.left({ kind: 'io', message: 'the upload line was not added' });
    const growth = plan.right.stored.bytes - cur.bytes;
    if (growth > 0 && threadBytes + growth > maxThreadBytes) return E.left({ kind: 'threadStorageFull', limit: maxThreadBytes });
    return E.right(plan.right);
  };

  const sameUploads = (a: Thread, b: Thread): boolean => JSON.stringify(a.entries.filter((e) => e.kind === 'upload')) === JSON.stringify(b.entries.filter((e) => e.kind === 'upload'));

  /** A thread update waiting for the next batch (its error and result types erased; {@link updateThread} restores them). */
  interface ThreadJob {
    readonly update: ThreadUpdate<unknown, unknown>;
    /** The account charged for the write, if any. */
    readonly actor: string | undefined;
    readonly settle: (r: E.Either<unknown, unknown>) => void;
  }

  // Concurrent updates of one thread (many users posting to it) are applied in
  // order in memory, each checked on its own, then written together: one write
  // from the first line any of them changed, one journal record, one sync.
  const threadBatches = createBatcher<ThreadJob>(mutex, async (title, jobs) => {
    const original = threads.get(title);
    if (original === undefined) {
      for (const job of jobs) job.settle(E.left(noThread(title)));
      return;
    }
    let cur = original;
    const accepted: { readonly job: ThreadJob; readonly result: unknown }[] = [];
    // The plan of the first change accepted, made from `original`: alone in its batch (the usual case),
    // it is the batch's plan, and a change of a large thread is formatted once, not twice.
    let firstPlan: ThreadWrite | undefined;
    for (const job of jobs) {
      const out = job.update(cur.thread);
      if (E.isLeft(out)) {
        job.settle(out);
        continue;
      }
      // Upload lines say which files are uploads: only UPD and RMV may change them, with the files.
      if (!sameUploads(cur.thread, out.right.thread)) {
        job.settle(E.left(unstorable('a thread update may not add, remove or change upload lines')));
        continue;
      }
      // Charged what this change alone would rewrite (a batch writes once, but each change could have come alone).
      // Found before the change is formatted, so a refusal costs little more than finding where it starts.
      const change = locateChange(cur, out.right.thread);
      const bytes = change === undefined ? 0 : writtenBytes(cur, change.offset);
      const refused = charge(job.actor, bytes);
      if (refused !== undefined) {
        job.settle(E.left(refused));
        continue;
      }
      const step = planThreadWrite(cur, out.right.thread, change);
      if (E.isLeft(step)) {
        job.settle(step);
        continue;
      }
      const growth = (step.right?.stored.bytes ?? cur.bytes) - cur.bytes;
      if (growth > 0 && threadBytes + growth > maxThreadBytes) {
        job.settle(E.left({ kind: 'threadStorageFull', limit: maxThreadBytes } satisfies StoreError));
        continue;
      }
      threadBytes += growth;
      if (accepted.length === 0) firstPlan = step.right;
      // Until written, the thread keeps its file's flag: a hand-written file's later jobs are checked whole too.
      cur = step.right === undefined ? { ...cur, thread: out.right.thread } : { ...step.right.stored, canonical: cur.canonical };
      accepted.push({ job, result: out.right.result });
    }
    try {
      const plan = accepted.length === 1 ? E.right(firstPlan) : planThreadWrite(original, cur.thread);
      if (E.isLeft(plan)) throw new Error(plan.left.kind === 'io' ? plan.left.message : 'thread vanished');
      if (plan.right !== undefined) await applyThreadWrite(title, plan.right);
      const written = plan.right?.stored ?? { ...original, thread: cur.thread };
      // `threadBytes` counted this batch's growth already (as `cur`): correct it to what was written.
      threadBytes += written.bytes - cur.bytes;
      threads.set(title, written);
    } catch (e) {
      threadBytes -= cur.bytes - original.bytes;
      for (const a of accepted) a.job.settle(E.left(toIoError(e)));
      return;
    }
    for (const a of accepted) a.job.settle(E.right(a.result));
  });

  const updateThread = <Err, A>(title: string, update: ThreadUpdate<Err, A>, actor?: string): TE.TaskEither<StoreError | Err, A> => () =>
    new Promise<E.Either<StoreError | Err, A>>((resolve) =>
      // The batch only passes back what `update` returned (Err, A) or a StoreError.
      threadBatches.add(title, { update, actor, settle: resolve as (r: E.Either<unknown, unknown>) => void }),
    );

  const removeThread = <Err>(title: string, guard: (thread: Thread) => E.Either<Err, void>): TE.TaskEither<StoreError | Err, void> =>
    attempt(() =>
      // The namespace lock too: once the thread is gone its upload names look free to CRT.
      mutex.run(title, () =>
        mutex.run(NAMESPACE_LOCK, async (): Promise<E.Either<StoreError | Err, void>> => {
          const stored = threads.get(title);
          const incarnation = incarnations.of(title);
          if (stored === undefined || incarnation === undefined) return E.left(noThread(title));
          const thread = stored.thread;
          const ok = guard(thread);
          if (E.isLeft(ok)) return ok;
          const filenames = uploadNames(thread);
          // Without uploads the one unlink is atomic by itself.
          const intent = filenames.length === 0 ? undefined : await writeIntent(dir, { op: 'remove', thread: title, filenames });
          // The thread goes first, in one step; its uploads follow (a crash now is finished at the next open).
          try {
            await unlinkIfPresent(path(title));
          } catch (e) {
            if (intent !== undefined) await clearIntent(dir, intent);
            throw e;
          }
          threadBytes -= stored.bytes;
          threads.delete(title);
          incarnations.removed(title);
          for (const f of filenames) countUpload(uploadFileName(title, f), -1);
          const leftovers: string[] = [];
          for (const f of filenames) {
            await unlinkIfPresent(path(uploadFileName(title, f))).catch(() => {
              // Kept from CRT and UPD until the next open deletes it (a record of it stays for that).
              otherNames.add(uploadFileName(title, f));
              leftovers.push(f);
            });
          }
          await syncDir(dir);
          if (intent !== undefined) await keepOnlyLeftovers(intent, title, leftovers);
          // Its uploads in flight could only be refused at commit, its downloads would keep the removed files'
          // disk until their end: stopped now, temporary files deleted and read handles closed.
          await inFlight.stopAll(title, incarnation, threadGone(title));
          return E.right(undefined);
        }),
      ),
    );

  /**
   * Ends RMV's intent record `intent` while the thread's lock is still held: deleted, or, when upload
   * files `leftovers` could not be deleted, rewritten in place (one rename) as a record naming only
   * them. Left as it was, the next open would delete the thread's file again, by then maybe a newer
   * thread of the same title; so if neither can be done, the title stays taken (as the leftovers are)
   * until the next open has rolled the record forward.
   */
  const keepOnlyLeftovers = async (intent: string, title: string, leftovers: readonly string[]): Promise<void> => {
    const ended =
      leftovers.length > 0
        ? replaceIntent(dir, intent, { op: 'removeUploads', thread: title, filenames: [...leftovers] })
        : unlinkIfPresent(join(dir, intent)).then(() => syncDir(dir));
    if (!(await ended.then(() => true, () => false))) otherNames.add(title);
  };

  /**
   * What an upload is refused for before a byte of it is stored (`checkUpload`, `beginUpload`): what its
   * commit would refuse now. Commit checks again, under the locks: things may change meanwhile.
   */
  const uploadProblem = (title: string, filename: string, uploader: string): E.Either<UploadError, ThreadIncarnation> => {
    const stored = threads.get(title);
    const incarnation = incarnations.of(title);
    if (stored === undefined || incarnation === undefined) return E.left(noThread(title));
    // Any file of the name, not only this thread's uploads: commit would refuse a name a thread or another file holds.
    if (hasUpload(stored.thread, filename) || nameTaken(uploadFileName(title, filename))) return E.left({ kind: 'fileExists', title, filename } satisfies FileExistsError);
    const problem = wordProblem('the file name', filename) ?? wordProblem('the uploader name', uploader) ?? storedNameProblem(uploadFileName(title, filename));
    if (problem !== undefined) return E.left(unstorable(problem));
    // The line's room: the thread's lines and reply size, and the bytes all threads may hold (maxThreadBytes).
    return E.map(() => incarnation)(planUploadLine(stored, { kind: 'upload', uploader, filename }));
  };

  const beginUpload = (title: string, filename: string, uploader: string, granted?: ThreadIncarnation): TE.TaskEither<UploadError, UploadWriter> =>
    attempt(async (): Promise<E.Either<UploadError, UploadWriter>> => {
      // Granted for a thread of this title that is gone (maybe made again since): refused as for any missing thread.
      if (granted !== undefined && incarnations.of(title) !== granted) return E.left(threadGone(title));
      const room = uploadProblem(title, filename, uploader);
      if (E.isLeft(room)) return room;
      const line: ThreadEntry = { kind: 'upload', uploader, filename };
      const incarnation = room.right;
      const tmp = tempPath(dir);
      // flush: the bytes are synced as the stream closes, before commit takes any lock (a wrapper
      // that locks around commit can let the stream close first, and not hold its lock over the sync).
      const stream = createWriteStream(tmp, { flags: 'wx', mode: 0o644, flush: true });
      // Errors surface through commit(); a listener keeps them from crashing the process.
      stream.on('error', () => undefined);
      const closed = new Promise<Error | null>((resolve) => stream.once('close', () => resolve(stream.errored)));
      let aborted = false;
      const discard = async (): Promise<void> => {
        await unlink(tmp).catch(() => undefined);
      };
      // RMV of the thread stops the upload: the stream closed, its temporary file deleted, the sender told.
      const stop = new TransferStop(async () => {
        stream.destroy();
        await closed;
        await discard();
      });
      const forget = inFlight.add(title, incarnation, stop);
      const commit: TE.TaskEither<UploadError, void> = attempt(async (): Promise<E.Either<UploadError, void>> => {
        // From here the commit decides, under the locks: a stop now would delete the file it is about to rename.
        stop.endBegins();
        forget();
        if (stop.reason !== undefined) return E.left(stop.reason);
        if (aborted) return E.left({ kind: 'io', message: 'upload was aborted' });
        if (!stream.writableEnded) stream.end();
        const err = await closed;
        if (err !== null) {
          await discard();
          return E.left(toIoError(err));
        }
        // Already synced as the stream closed (flush) on Node ≥ 20.10, so this is quick; an older Node needs it.
        const h = await open(tmp, 'r+');
        try {
          await h.sync();
        } finally {
          await h.close();
        }
        return mutex.run(title, () =>
          mutex.run(NAMESPACE_LOCK, async (): Promise<E.Either<UploadError, void>> => {
            const current = threads.get(title);
            const name = uploadFileName(title, filename);
            // Removed (and maybe made again, by anyone) while the bytes arrived: not the thread they were sent to.
            if (current === undefined || incarnations.of(title) !== incarnation) {
              await discard();
              return E.left(threadGone(title));
            }
            if (hasUpload(current.thread, filename) || nameTaken(name)) {
              await discard();
              return E.left({ kind: 'fileExists', title, filename });
            }
            // Under the thread's lock, which MSG batches hold too: MSGs and uploads are checked one after another.
            const plan = planUploadLine(current, line);
            if (E.isLeft(plan)) {
              await discard();
              return plan;
            }
            // Charged as a MSG's line is: what the line's write puts on disk (nothing for an append to a
            // file the store wrote; the whole file for the first change of a hand-written one).
            const refused = charge(uploader, writtenBytes(current, plan.right.offset));
            if (refused !== undefined) {
              await discard();
              return E.left(refused);
            }
            // Counted before the writes below yield, as a MSG batch counts its growth, so that changes of
            // other threads meanwhile cannot take all threads past maxThreadBytes together with this one.
            const growth = plan.right.stored.bytes - current.bytes;
            threadBytes += growth;
            // The bytes go in place first, then the line that makes them visible; the intent
            // record lets the next open remove the bytes if a crash comes between the two.
            let intent: string | undefined;
            try {
              intent = await writeIntent(dir, { op: 'upload', thread: title, filename, temp: basename(tmp) });
              await rename(tmp, path(name));
              try {
                await applyThreadWrite(title, plan.right);
              } catch (e) {
                await unlink(path(name)).catch(() => undefined);
                throw e;
              }
            } catch (e) {
              threadBytes -= growth;
              await discard();
              if (intent !== undefined) await clearIntent(dir, intent);
              throw e;
            }
            // `threadBytes` counts the new size already. Recorded before the intent goes: the line is on disk.
            threads.set(title, plan.right.stored);
            countUpload(name, 1);
            await clearIntent(dir, intent);
            return E.right(undefined);
          }),
        );
      });
      const abort = async (): Promise<void> => {
        aborted = true;
        forget();
        stream.destroy();
        await closed;
        await discard();
      };
      return E.right({ stream, commit, abort, stopped: stop.stopped });
    });

  /** The upload's path and its thread's incarnation, or why there is none. */
  const locateUpload = (title: string, filename: string): E.Either<StoreError | NoFileError, { readonly path: string; readonly incarnation: ThreadIncarnation }> => {
    const thread = threads.get(title)?.thread;
    const incarnation = incarnations.of(title);
    if (thread === undefined || incarnation === undefined) return E.left(noThread(title));
    if (!hasUpload(thread, filename)) return E.left({ kind: 'noFile', title, filename });
    return E.right({ path: path(uploadFileName(title, filename)), incarnation });
  };

  const statUpload = (title: string, filename: string): TE.TaskEither<StoreError | NoFileError, UploadStat> =>
    attempt(async (): Promise<E.Either<StoreError | NoFileError, UploadStat>> => {
      const located = locateUpload(title, filename);
      if (E.isLeft(located)) return located;
      try {
        return E.right({ size: (await stat(located.right.path)).size, incarnation: located.right.incarnation });
      } catch (e) {
        if (isEnoent(e)) return E.left({ kind: 'noFile', title, filename });
        throw e;
      }
    });

  const openDownload = (title: string, filename: string, granted?: ThreadIncarnation): TE.TaskEither<StoreError | NoFileError, Download> =>
    attempt(async (): Promise<E.Either<StoreError | NoFileError, Download>> => {
      // Granted for a thread of this title that is gone (maybe made again, with a file of the name): not that file.
      if (granted !== undefined && incarnations.of(title) !== granted) return E.left(threadGone(title));
      const located = locateUpload(title, filename);
      if (E.isLeft(located)) return located;
      const { incarnation } = located.right;
      let h;
      try {
        h = await open(located.right.path, 'r');
      } catch (e) {
        // Gone with its thread, removed while the file was being opened.
        if (isEnoent(e)) return E.left(incarnations.of(title) === incarnation ? { kind: 'noFile', title, filename } : threadGone(title));
        throw e;
      }
      let size: number;
      try {
        size = (await h.stat()).size;
      } catch (e) {
        await h.close();
        throw e;
      }
      // Removed while the file was being opened (RMV does not wait for downloads): stopped before its first byte.
      if (incarnations.of(title) !== incarnation) {
        await h.close();
        return E.left(threadGone(title));
      }
      // The stream owns the handle: RMV unlinks the name, and the disk is freed only once the handle closes.
      const stream = h.createReadStream({ autoClose: true });
      // RMV of the thread stops the download: the handle closed (the removed file's disk freed), the receiver told.
      const stop = inFlight.addDownload(title, incarnation, stream);
      return E.right({ stream, size, stopped: stop.stopped });
    });

  return {
    warnings: loaded.warnings,
    getAccount: (username) => TE.right(O.fromNullable(accounts.get(username))),
    listAccounts: () => TE.right([...accounts.keys()]),
    createAccount,
    replaceAccountSecret,
    listThreads: () => TE.right([...threads.keys()].sort()),
    getThread: (title) => TE.right(O.fromNullable(threads.get(title)?.thread)),
    createThread,
    updateThread,
    appendEntry: appendByUpdate(updateThread),
    changeMessage: changeByUpdate(updateThread),
    removeThread,
    checkUpload: (title, filename, uploader) => attempt(async () => uploadProblem(title, filename, uploader)),
    beginUpload,
    statUpload,
    openDownload,
  };
};
