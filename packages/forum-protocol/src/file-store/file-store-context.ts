import * as E from 'fp-ts/lib/Either.js';
import type * as TE from 'fp-ts/lib/TaskEither.js';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { toIoError, type IoError, type StoreError, type WriteRateError } from '../store/errors.js';
import type { KeyedMutex } from '../concurrency/keyed-mutex.js';
import type { HostLevel } from '../limits/host-of.js';
import { originLevels } from '../store/origin-shares.js';
import { CREDENTIALS_FILE } from '../protocol/names.js';
import type { StoredThread } from '../store/thread-change.js';
import { ThreadIncarnations } from '../store/thread-incarnations.js';
import type { ThreadLimits } from '../store/thread-limits.js';
import type { TransfersInFlight } from '../store/transfers-in-flight.js';
import { uploadFileName, type Thread } from '../store/thread.js';
import { AccountShares } from './account-shares.js';
import type { DiskWatch } from './disk-watch.js';
import { UploadShares } from './upload-shares.js';
import type { UndoJournal } from './undo-journal.js';

/**
 * Lock taken (after the thread's own lock, never before) by every operation
 * that gives a name in the directory to a new file, so a thread `a-b` and the
 * upload `b` of thread `a` can never both claim `a-b`. Held briefly: RMV
 * deletes a removed thread's upload files after letting it go, their names
 * still taken (`DirectoryContents.nameTaken`) until its intent record ends.
 */
export const NAMESPACE_LOCK = '\u0000namespace';

/** Start of the message of an `io` error for a value the data directory cannot hold exactly. */
export const UNSTORABLE = 'cannot be stored exactly: ';

/** The `io` error for a value the data directory cannot hold exactly, and why. */
export const unstorable = (problem: string): IoError => ({ kind: 'io', message: `${UNSTORABLE}${problem}` });

/** The error for a thread that does not exist. */
export const noThread = (title: string): StoreError => ({ kind: 'noThread', title });

/** Runs `work`, turning what it throws into an `io` error: the store's operations fail as values. */
export const attempt = <Err, A>(work: () => Promise<E.Either<Err, A>>): TE.TaskEither<Err | IoError, A> => async () => {
  try {
    return await work();
  } catch (e) {
    return E.left(toIoError(e));
  }
};

/** Bytes of `s` in UTF-8. */
export const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** The file names of `thread`'s upload lines, in order. */
export const uploadNames = (thread: Thread): string[] => thread.entries.flatMap((e) => (e.kind === 'upload' ? [e.filename] : []));

/**
 * What the file store knows of its data directory's threads and names, kept
 * in step with the disk by the operations that change it.
 */
export class DirectoryContents {
  /** Every thread, by title, as its file holds it. */
  readonly threads: Map<string, StoredThread>;
  /** Which life of each title the thread is: an upload must commit into the thread it began in. */
  readonly incarnations = new ThreadIncarnations();
  /** Names in the directory that are neither threads nor recorded uploads: never overwritten by CRT or UPD. */
  readonly otherNames: Set<string>;
  /**
   * Bytes of every thread file, with the growth of batches being written already counted (so
   * concurrent batches on different threads cannot pass the limit together).
   */
  threadBytes = 0;
  /**
   * Entries (lines after the creator's) of every thread, counted as `threadBytes` is. Each costs the
   * server memory apart from its text (an entry object, its strings, its slot: about 60 bytes of heap at the line limit's scale),
   * so a forum of one-character messages held 6 to 9 times its bytes (attack round 25).
   */
  threadLines = 0;
  /** Each account's recorded origin (store/origin-shares.ts), set once as it is made or loaded ({@link setOrigin}). */
  readonly origins = new Map<string, string>();
  /** Each account's origin's levels (`originLevels`: the origin, and an IPv6 /64's /56 and /48), derived as it is set. */
  readonly levels = new Map<string, readonly HostLevel[]>();
  /** Each account's lines and their bytes, counted as `threadLines` is (account-shares.ts), and each origin level's. */
  readonly shares = new AccountShares((account) => this.levels.get(account) ?? []);
  /** Each account's upload bytes, its files' and its uploads' in progress (upload-shares.ts), and each origin level's. */
  readonly uploadShares = new UploadShares((account) => this.levels.get(account) ?? []);
  // The directory names of every thread's recorded uploads, kept as threads gain uploads and go, so that
  // CRT and UPD check a name without walking every thread under the namespace lock. A count, not a set:
  // hand-written files may record one name in two threads ("a-b" + "c" and "a" + "b-c").
  private readonly recordedUploads = new Map<string, number>();
  // Names of threads RMV has removed but whose intent record still names them: the next open would delete
  // a file of the name made meanwhile. Counted, as one name may be both a thread and another's upload.
  private readonly removing = new Map<string, number>();

  /** `uploadBytes`: the size of each upload file the threads list, by directory name (missing: none on disk). */
  constructor(threads: ReadonlyMap<string, StoredThread>, otherNames: readonly string[], uploadBytes: ReadonlyMap<string, number> = new Map()) {
    this.threads = new Map(threads);
    for (const title of this.threads.keys()) this.incarnations.created(title);
    for (const stored of this.threads.values()) {
      this.threadBytes += stored.bytes;
      this.threadLines += stored.thread.entries.length;
      this.shares.addEntries(stored.thread.entries, 1);
      for (const e of stored.thread.entries) {
        if (e.kind === 'upload') this.uploadShares.stored(stored.thread.title, e.filename, e.uploader, uploadBytes.get(uploadFileName(stored.thread.title, e.filename)) ?? 0);
      }
    }
    this.otherNames = new Set(otherNames);
    for (const st of this.threads.values()) for (const f of uploadNames(st.thread)) this.countUpload(uploadFileName(st.thread.title, f), 1);
  }

  /** Records `account`'s origin (a new account's, or one loaded): what it holds counts for the origin from now on. An origin is never changed. */
  setOrigin(account: string, origin: string): void {
    if (this.origins.has(account)) return;
    this.origins.set(account, origin);
    this.levels.set(account, originLevels(origin));
    this.shares.joined(account);
    this.uploadShares.joined(account);
  }

  /** Records `stored` for `title`, keeping `threadBytes` and `threadLines` in step. */
  storeThread(title: string, stored: StoredThread): void {
    const before = this.threads.get(title);
    this.threadBytes += stored.bytes - (before?.bytes ?? 0);
    this.threadLines += stored.thread.entries.length - (before?.thread.entries.length ?? 0);
    if (before !== undefined) this.shares.addEntries(before.thread.entries, -1);
    this.shares.addEntries(stored.thread.entries, 1);
    this.threads.set(title, stored);
  }

  /** Counts one more (`1`) or one fewer (`-1`) upload line recording the directory name `name`. */
  countUpload(name: string, by: 1 | -1): void {
    const n = (this.recordedUploads.get(name) ?? 0) + by;
    if (n > 0) this.recordedUploads.set(name, n);
    else this.recordedUploads.delete(name);
  }

  /** Holds (`1`) or lets go (`-1`) the name `name` of a removed thread whose RMV has not ended its intent record. */
  holdRemoving(name: string, by: 1 | -1): void {
    const n = (this.removing.get(name) ?? 0) + by;
    if (n > 0) this.removing.set(name, n);
    else this.removing.delete(name);
  }

  /** Whether `name` is held in the directory: a thread, a recorded upload, credentials or any other file. */
  nameTaken(name: string): boolean {
    return (
      this.threads.has(name) ||
      this.otherNames.has(name) ||
      this.recordedUploads.has(name) ||
      this.removing.has(name) ||
      name.toLowerCase() === CREDENTIALS_FILE
    );
  }
}

/** What the parts of the file store share: its directory, locks, journal, contents and limits. */
export interface FileStoreContext {
  readonly dir: string;
  readonly mutex: KeyedMutex;
  readonly journal: UndoJournal;
  readonly contents: DirectoryContents;
  /** Uploads being received and downloads being read, so that RMV stops those of the thread it removes. */
  readonly inFlight: TransfersInFlight;
  /** Largest thread file the store writes (a bigger one would not be read back as a thread). */
  readonly maxThreadFileBytes: number;
  /** Most bytes all thread files together may hold. */
  readonly maxThreadBytes: number;
  /** Most entries all threads together may hold (FileStoreOptions.maxThreadLines). */
  readonly maxThreadLines: number;
  /** Most bytes of lines one account's entries may hold (FileStoreOptions.maxUserThreadBytes). */
  readonly maxUserThreadBytes: number;
  /** Most entries one account may hold (FileStoreOptions.maxUserThreadLines). */
  readonly maxUserThreadLines: number;
  /** Most bytes one account's uploads may hold (FileStoreOptions.maxUserUploadBytes); `undefined`: no share. */
  readonly maxUserUploadBytes: number | undefined;
  /** Most bytes, lines and upload bytes the accounts of one origin may hold together (`limits.originShares` times each account's); `undefined`: no bound. */
  readonly originLimits: { readonly threadBytes: number | undefined; readonly threadLines: number | undefined; readonly uploadBytes: number | undefined };
  readonly limits: ThreadLimits;
  /**
   * Charges `actor` a thread write of `bytes` (write-budget.ts), or says why not (nothing charged then).
   * A write of no bytes (an append to a file the store wrote) or by no one is never charged.
   */
  readonly charge: (actor: string | undefined, bytes: number) => WriteRateError | undefined;
  /** Told the bytes of an upload file RMV, or of an unfinished upload's temporary file, is about to be deleted, negated if that failed; awaited (`FileStoreOptions.onUploadsRemoved`). */
  readonly uploadsRemoved: (bytes: number) => void | PromiseLike<void>;
  /** Whether the directory is still this store's to write (`FileStoreOptions.owned`). */
  readonly owned: () => Promise<boolean>;
  /** Told what a change answered done left for the next open (`FileStoreOptions.onWarning`). */
  readonly warn: (text: string) => void;
  /** The writes to disk under way: new changes are refused while one has hung (`FileStoreOptions.diskStallMs`). */
  readonly disk: DiskWatch;
}

/** The path of `name` in the store's directory. */
export const pathIn = (ctx: FileStoreContext, name: string): string => join(ctx.dir, name);

/**
 * Deletes the upload bytes at `path` with `remove`, whether it did: the size of a regular file there (not
 * what a link points to, as the quota's walk counts) told to `ctx.uploadsRemoved` before, not after (a walk
 * of the directory between the unlink and a later report would not count the file, and would then have it
 * taken off all the same), and told again negated if `remove` failed.
 */
export const deleteCounted = async (ctx: FileStoreContext, path: string, remove: (path: string) => Promise<void>): Promise<boolean> => {
  const bytes = await lstat(path).then((s) => (s.isFile() ? s.size : 0), () => 0);
  if (bytes > 0) await ctx.uploadsRemoved(bytes);
  return remove(path).then(
    () => true,
    async () => {
      if (bytes > 0) await ctx.uploadsRemoved(-bytes);
      return false;
    },
  );
};
