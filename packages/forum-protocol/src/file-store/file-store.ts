import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import type { IoError } from '../store/errors.js';
import { fileStoreAccounts } from './file-store-accounts.js';
import { attempt, DirectoryContents, UNSTORABLE, type FileStoreContext } from './file-store-context.js';
import { fileStoreDownloads } from './file-store-downloads.js';
import { loadDataDirectory, type LoadedDirectory } from './file-store-load.js';
import { fileStoreThreadLife } from './file-store-thread-life.js';
import { fileStoreThreadWrites } from './file-store-thread-writes.js';
import { fileStoreUploads } from './file-store-uploads.js';
import { appendByUpdate } from '../store/append-by-update.js';
import { changeByUpdate } from '../store/change-by-update.js';
import { createKeyedMutex } from '../concurrency/keyed-mutex.js';
import type { ForumStore } from '../store/store.js';
import { resolveThreadLimits, type ThreadLimits } from '../store/thread-limits.js';
import { TransfersInFlight } from '../store/transfers-in-flight.js';
import { originLimit } from '../store/origin-shares.js';
import { DEFAULT_DISK_STALL_MS, DiskWatch } from './disk-watch.js';
import { createUndoJournal } from './undo-journal.js';
import { createWriteBudget, type WriteBudget, type WriteBudgetOptions } from './write-budget.js';
import { ACCOUNT_SHARE_DIVISOR, defaultMaxUserThreadBytes, defaultMaxUserThreadLines, MIN_ACCOUNT_THREAD_BYTES, MIN_ACCOUNT_THREAD_LINES } from './account-shares.js';
import { originOverLimitWarnings } from './origin-over-limit-warnings.js';
import { overLimitWarnings } from './over-limit-warnings.js';

export { ACCOUNT_SHARE_DIVISOR, DEFAULT_DISK_STALL_MS, MIN_ACCOUNT_THREAD_BYTES, MIN_ACCOUNT_THREAD_LINES, UNSTORABLE, defaultMaxUserThreadBytes, defaultMaxUserThreadLines };

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
   * Most entries (message and upload lines) all threads together may hold: a MSG or
   * upload line past it is refused (`threadStorageFull`, `unit: 'lines'`). A line
   * costs the store about 60 bytes of memory apart from its text (measured at the
   * line limit's scale: the server's THREAD_MEMORY_PER_LINE), so bytes alone
   * let one-character messages hold 6 to 9 times `maxThreadBytes` (attack round
   * 25). Default `maxThreadBytes` ÷ {@link BYTES_PER_THREAD_LINE}.
   */
  readonly maxThreadLines?: number;
  /**
   * Most bytes one account's lines (its messages and upload lines, wherever they
   * are) may hold of all threads: a MSG, EDT or upload line by it that would add
   * bytes past it is refused (`threadStorageFull`, `who: 'account'`). Without it
   * one account filled `maxThreadBytes` in minutes, and every other user's MSG
   * was refused until it deleted its own (attack round 26). Default
   * {@link defaultMaxUserThreadBytes}: 1/64 of `maxThreadBytes`, at least 1 MiB.
   */
  readonly maxUserThreadBytes?: number;
  /**
   * Most entries one account may hold of all threads, as `maxUserThreadBytes`
   * (`unit: 'lines'`). Default {@link defaultMaxUserThreadLines}: 1/64 of
   * `maxThreadLines`, at least 8,192.
   */
  readonly maxUserThreadLines?: number;
  /**
   * Most bytes one account's upload files (its stored files, and the announced sizes of its uploads in
   * progress) may hold in the directory: an upload whose announced size (`beginUpload`'s `size`) does not fit
   * in what is left is refused as it begins, before a byte is stored, and one that commits more bytes than
   * it announced (or none) at commit (`uploadStorageFull`, `who: 'account'`). Counted per upload line's
   * uploader from the files' sizes at open, given back as RMV removes a thread (upload-shares.ts). The server's
   * disk quota (`--max-data-bytes`) is the forum's: without a share one account filled it with uploads to its
   * own threads, and every other user's upload was refused (attack round 27). Default: no share (the server
   * passes `defaultMaxUserUploadBytes` of its quota, or `--max-data-bytes-per-user`).
   */
  readonly maxUserUploadBytes?: number;
  /**
   * Bytes a second of thread writes (MSG, EDT, DLT, an upload's line) each
   * account, and the store, may put on disk (see write-budget.ts); `false`:
   * no limit. Default {@link DEFAULT_WRITE_BUDGET}.
   */
  readonly writeBudget?: WriteBudgetOptions | false;
  /** Milliseconds now, for the write budget, `diskStallMs` and the retry of a failed write's recovery; only differences count. Default `performance.now` (never goes back). */
  readonly clock?: () => number;
  /**
   * Told the bytes of each upload file RMV deletes, and of each unfinished upload's temporary file
   * deleted (stopped by RMV, aborted, refused at commit), just before its unlink (so a measurement of
   * the directory that ended before this call counted the file), and the same bytes negated if the
   * unlink then failed: a disk quota that reuses a measurement (the server's `--max-data-bytes`) counts
   * them off at once, instead of refusing uploads for the room freed until it measures again. A promise
   * returned is awaited before the unlink (a count kept elsewhere is updated first; a test holds RMV's
   * deletion there). RMV's deletion and a stopped or aborted upload call it under the thread's lock at most,
   * but an upload refused at commit (its thread gone, its name taken, the thread full, the write budget
   * spent, a failed write) under the thread's and the namespace lock: a promise that waits for another
   * operation of this store can deadlock, and one that waits long holds every CRT and commit meanwhile.
   */
  readonly onUploadsRemoved?: (bytes: number) => void | PromiseLike<void>;
  /**
   * Whether the directory is still this store's to write: asked just before
   * a change of a file is written (after its undo record is synced: where a
   * process frozen mid-change most likely stopped), and before a thread file
   * found changed by another program is read again. `false` refuses the
   * change, and leaves the cache as it was; a rejection refuses it too, with
   * its error (a lock file that could not be read is not a lock lost). The
   * in-process recovery after a failed write asks first as well. A server
   * whose lock may be taken over answers from the lock: frozen past the
   * takeover, it otherwise wrote beside the new holder when it woke (attack
   * round 9). Default: always.
   */
  readonly owned?: () => Promise<boolean>;
  /**
   * Gives the open up (a server told to stop while it starts): checked
   * before the recovery, after it, and before each thread file is read,
   * never in the middle of a recovery's write; once aborted the open
   * answers an `io` error. Reading a large directory takes seconds (20,000
   * threads: 10 s on a loaded 2-core machine).
   */
  readonly signal?: AbortSignal;
  /**
   * Told once the open's recovery (a change a crash cut short undone, an
   * UPD commit or RMV undone or finished) is over, whether or not it
   * succeeded: from then the open writes nothing but the deletion of
   * leftover temporary files. A server that must exit at once during its
   * start keeps its lock until then (forum-server's `abandonDataDirLocks`).
   */
  readonly onRecovered?: () => void;
  /**
   * Told, for the log, what a change answered done could not finish on a failing disk and left for the
   * next open (an intent record that could not be deleted, and the names it keeps taken until then), and
   * what a recovery from a failed write put back once it took changes again.
   */
  readonly onWarning?: (text: string) => void;
  /**
   * Milliseconds a write to disk (its sync) may stay under way before the disk is taken to have stopped
   * answering: from then until it returns, every new change (CRT, RMV, MSG, EDT, DLT, UPD, a new account)
   * is refused at once with an `io` error rather than queued behind it for ever; reads go on. The write
   * itself is waited for, never given up (it may be on its way to disk). Measured on `clock`. Default
   * {@link DEFAULT_DISK_STALL_MS}.
   */
  readonly diskStallMs?: number;
}

/** Default of {@link FileStoreOptions.maxThreadBytes}: 256 MiB, well inside the server's default 1 GiB memory budget. */
export const DEFAULT_MAX_THREAD_BYTES = 256 * 1024 * 1024;

/**
 * The bytes of `maxThreadBytes` a line stands for in the default of
 * {@link FileStoreOptions.maxThreadLines}: lines averaging fewer bytes fill
 * the lines first (256 MiB: 2,097,152 lines, about 120 to 150 MiB of memory
 * at the 56 to 70 bytes a line measured at that scale with their text;
 * server/src/memory-budget.ts counts 100 bytes a line).
 */
export const BYTES_PER_THREAD_LINE = 128;

/** {@link FileStoreOptions.maxThreadLines}' default for `maxThreadBytes`: one line per {@link BYTES_PER_THREAD_LINE} bytes, at least one. */
export const defaultMaxThreadLines = (maxThreadBytes: number): number => Math.max(1, Math.floor(maxThreadBytes / BYTES_PER_THREAD_LINE));

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
    const maxThreadLines = options.maxThreadLines ?? defaultMaxThreadLines(maxThreadBytes);
    if (!Number.isSafeInteger(maxThreadLines) || maxThreadLines < 1) throw new RangeError(`maxThreadLines must be a whole number from 1 (got ${String(maxThreadLines)})`);
    const maxUserThreadBytes = options.maxUserThreadBytes ?? defaultMaxUserThreadBytes(maxThreadBytes);
    if (!Number.isSafeInteger(maxUserThreadBytes) || maxUserThreadBytes < 1) throw new RangeError(`maxUserThreadBytes must be a whole number from 1 (got ${String(maxUserThreadBytes)})`);
    const maxUserThreadLines = options.maxUserThreadLines ?? defaultMaxUserThreadLines(maxThreadLines);
    if (!Number.isSafeInteger(maxUserThreadLines) || maxUserThreadLines < 1) throw new RangeError(`maxUserThreadLines must be a whole number from 1 (got ${String(maxUserThreadLines)})`);
    const maxUserUploadBytes = options.maxUserUploadBytes;
    if (maxUserUploadBytes !== undefined && (!Number.isSafeInteger(maxUserUploadBytes) || maxUserUploadBytes < 1)) throw new RangeError(`maxUserUploadBytes must be a whole number from 1 (got ${String(maxUserUploadBytes)})`);
    const budget = options.writeBudget === false ? undefined : createWriteBudget(options.writeBudget);
    const clock = options.clock ?? (() => performance.now());
    const diskStallMs = options.diskStallMs ?? DEFAULT_DISK_STALL_MS;
    if (!(diskStallMs > 0)) throw new RangeError(`diskStallMs must be above 0 (got ${String(diskStallMs)})`);
    const originLimits = {
      threadBytes: originLimit(maxUserThreadBytes, limits.originShares),
      threadLines: originLimit(maxUserThreadLines, limits.originShares),
      uploadBytes: originLimit(maxUserUploadBytes, limits.originShares),
    };
    const settings = { maxThreadFileBytes, maxThreadBytes, maxThreadLines, maxUserThreadBytes, maxUserThreadLines, maxUserUploadBytes, originLimits, limits, uploadsRemoved: options.onUploadsRemoved ?? (() => {}), owned: options.owned ?? (async () => true), warn: options.onWarning ?? (() => {}) };
    const disk = new DiskWatch(clock, diskStallMs);
    return E.right(makeStore(dir, await loadDataDirectory(dir, maxThreadFileBytes, options.signal, options.onRecovered), { ...settings, disk }, budget, clock));
  });

/** The store's parts over one shared context: accounts, thread writes, CRT/RMV, uploads, downloads. */
const makeStore = (
  dir: string,
  loaded: LoadedDirectory,
  settings: Pick<FileStoreContext, 'maxThreadFileBytes' | 'maxThreadBytes' | 'maxThreadLines' | 'maxUserThreadBytes' | 'maxUserThreadLines' | 'maxUserUploadBytes' | 'originLimits' | 'limits' | 'uploadsRemoved' | 'owned' | 'warn' | 'disk'>,
  budget: WriteBudget | undefined,
  clock: () => number,
): ForumStore => {
  const ctx: FileStoreContext = {
    dir,
    ...settings,
    mutex: createKeyedMutex(),
    journal: createUndoJournal(dir, settings.owned, {
      clock,
      // Said as the open says what its recovery did: the operator sees the store took writes again, and why.
      onRecovered: (report) => {
        for (const file of report.restored) settings.warn(`undid a change to ${file} that a failed write left, and took changes again`);
        for (const w of report.warnings) settings.warn(w);
      },
    }),
    contents: new DirectoryContents(loaded.threads, loaded.otherNames, loaded.uploadBytes),
    inFlight: new TransfersInFlight(),
    charge: (actor, bytes) => {
      const refused = actor === undefined || bytes === 0 ? undefined : budget?.take(actor, bytes, clock());
      return refused === undefined ? undefined : { kind: 'writeRate', ...refused };
    },
  };
  const writes = fileStoreThreadWrites(ctx);
  const { threads } = ctx.contents;
  // Before the warnings: it records the loaded accounts' origins, which the origins' warnings count.
  const accounts = fileStoreAccounts(ctx, loaded.credentials, loaded.accounts, loaded.damagedAccounts, loaded.origins);
  return {
    warnings: [...loaded.warnings, ...overLimitWarnings(ctx), ...originOverLimitWarnings(ctx)],
    recovered: loaded.recovered,
    diskStalled: () => ctx.disk.stalled(),
    ...accounts,
    listThreads: () => TE.right([...threads.keys()].sort()),
    getThread: (title) => TE.right(O.fromNullable(threads.get(title)?.thread)),
    ...fileStoreThreadLife(ctx),
    updateThread: writes.updateThread,
    appendEntry: appendByUpdate(writes.updateThread),
    changeMessage: changeByUpdate(writes.updateThread),
    ...fileStoreUploads(ctx, writes),
    ...fileStoreDownloads(ctx),
  };
};
