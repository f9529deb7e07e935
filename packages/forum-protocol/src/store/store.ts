import type * as E from 'fp-ts/lib/Either.js';
import type * as O from 'fp-ts/lib/Option.js';
import type * as T from 'fp-ts/lib/Task.js';
import type * as TE from 'fp-ts/lib/TaskEither.js';
import type { Readable, Writable } from 'node:stream';
import type { FileExistsError, IoError, NoFileError, NoThreadError, StoreError, ThreadFullError, ThreadShareFullError, UploadStorageFullError } from './errors.js';
import type { MessageChange } from './message-change.js';
import type { ThreadLimitError, ThreadLimits } from './thread-limits.js';
import type { ThreadIncarnation } from './thread-incarnations.js';
import type { ThreadHolding } from './thread-share.js';
import type { ThreadSize } from './thread-size.js';
import type { Thread, ThreadEntry } from './thread.js';

/** An account as stored (`username password`). */
export interface Account {
  readonly username: string;
  readonly password: string;
  /**
   * The host that created it (`originOfAddress`: an IPv4 address, an IPv6 /64), whose accounts hold
   * together a few accounts' shares (store/origin-shares.ts); absent: none recorded, the account is its own group.
   */
  readonly origin?: string;
}

/**
 * A pure change to one thread, run by the store while it holds that thread's
 * lock: return the new thread and a result, or refuse with `E` (nothing is written).
 */
export type ThreadUpdate<E, A> = (thread: Thread) => E.Either<E, { readonly thread: Thread; readonly result: A }>;

/**
 * Whether a thread may grow to `after` (its size once the line is appended), and the line's account hold
 * `mine` of it then (thread-share.ts; absent when not counted: the thread's creator, a thread smaller than
 * a share); run under the thread's lock.
 */
export type AppendGuard<E> = (after: ThreadSize, mine: ThreadHolding | undefined) => E.Either<E, void>;

/**
 * Why an upload is refused, as it begins or as it commits: the thread is
 * gone, has the file, or cannot take its line (`threadFull`, the uploader's
 * share of the thread `threadShareFull`, and in the data directory
 * `threadStorageFull`: the limits MSG obeys).
 */
export type UploadError = StoreError | FileExistsError | ThreadFullError | ThreadShareFullError | UploadStorageFullError;

/**
 * An upload being received. Write the bytes to `stream` (it goes to a
 * temporary file or buffer), then either `commit` (end the stream if needed,
 * move the bytes into place and append `U uploaded F` to the thread, as one
 * step) or `abort` (discard everything). Until `commit` succeeds no file and
 * no upload line exist; a refused `commit` leaves none either.
 */
export interface UploadWriter {
  readonly stream: Writable;
  /** Refused, keeping nothing, if the thread cannot take the line now (checked under its lock with the append). */
  readonly commit: TE.TaskEither<UploadError, void>;
  readonly abort: T.Task<void>;
  /**
   * Settles when the store stops the upload before its commit because its
   * thread was removed, with the refusal `commit` then returns (`noThread`);
   * the bytes received so far are discarded by then. RMV on the same server
   * stops its uploads at once; on PostgreSQL an RMV by another server is
   * noticed as the upload stores its next chunk, or at commit. Whoever feeds
   * the stream should stop and pass the refusal on. Pending otherwise; never rejects.
   */
  readonly stopped: Promise<UploadError>;
}

/**
 * An uploaded file being read. RMV of its thread stops it before its last
 * byte is read (on PostgreSQL another server's RMV is noticed as the next
 * chunk is read): the stream is destroyed, its file closed (so the removed
 * file's disk is freed), and `stopped` settles with `noThread`. Whoever sends
 * the bytes on should then tell the receiver, so that it keeps no part of
 * the file; a download read whole is the file as it was, and is not stopped.
 */
export interface Download {
  readonly stream: Readable;
  readonly size: number;
  /** Settles when RMV stopped the download (see above); pending otherwise. Never rejects. */
  readonly stopped: Promise<NoThreadError>;
}

/** An uploaded file's size and the thread it is in (what DWN's grant carries to {@link ForumStore.openDownload}). */
export interface UploadStat {
  readonly size: number;
  readonly incarnation: ThreadIncarnation;
}

/**
 * Where the forum keeps accounts, threads and uploads. Every method is safe
 * to call concurrently: operations on one thread are serialised.
 */
export interface ForumStore {
  /** Problems found when the store was opened (e.g. a malformed credentials line); each was skipped and is kept on rewrite. */
  readonly warnings: readonly string[];
  /** What the store's crash recovery did as it opened (the data directory's: a change undone, a temporary file deleted), for the log. */
  readonly recovered?: readonly string[];
  /** The account named `username`, if any. */
  getAccount(username: string): TE.TaskEither<StoreError, O.Option<Account>>;
  /** Every account's user name, in no particular order. */
  listAccounts(): TE.TaskEither<StoreError, readonly string[]>;
  /**
   * An existing account whose name is the same name as `username` under
   * `nameKey` (names.ts) but spelled differently (`Alice` for `alice`).
   * Only stores that keep a name index answer it (`withNameIdentity`).
   */
  similarAccount?(username: string): string | undefined;
  /**
   * The number of a credentials line skipped as malformed whose first word is `username` (or the same name
   * under `nameKey`: `Alice` for `alice`), when no account has that name: most likely that user's line, mangled by hand, so the name may not be registered anew
   * (that made the account anyone's who logged in as it first). Only the data directory's store answers it.
   */
  damagedAccount?(username: string): number | undefined;
  /**
   * Why every change would be refused now, at once (the data directory's disk has not finished a write for
   * longer than its limit: the file store's `diskStallMs`), or `undefined`. Synchronous and touching no disk, so
   * that a caller that checks something on the disk before a change (forum-server's lock) can ask it first.
   * Only stores that watch their disk answer it.
   */
  diskStalled?(): IoError | undefined;
  /** Adds an account; `false` if the name was taken meanwhile. */
  createAccount(account: Account): TE.TaskEither<StoreError, boolean>;
  /**
   * Replaces the stored secret of an existing account (e.g. a plain password
   * upgraded to its hash), rewriting `credentials.txt` atomically; `false` if
   * there is no such account.
   */
  replaceAccountSecret(username: string, secret: string): TE.TaskEither<StoreError, boolean>;
  /** Thread titles, sorted by UTF-16 code unit. */
  listThreads(): TE.TaskEither<StoreError, readonly string[]>;
  /** The thread titled `title`, if any. */
  getThread(title: string): TE.TaskEither<StoreError, O.Option<Thread>>;
  /**
   * Creates an empty thread; `false` if a thread (or any file) of that name
   * exists. Refused if the forum, or the threads `creator` created, are at
   * the store's {@link ThreadLimits} (checked and created as one step, so
   * concurrent calls cannot pass them).
   */
  createThread(title: string, creator: string): TE.TaskEither<StoreError | ThreadLimitError, boolean>;
  /**
   * Applies `update` atomically to the thread; `noThread` if it does not
   * exist. `actor`, the account making the change, is charged for a large
   * write where writes cost (the data directory's write budget, write-budget.ts).
   */
  updateThread<E, A>(title: string, update: ThreadUpdate<E, A>, actor?: string): TE.TaskEither<StoreError | E, A>;
  /**
   * Appends `entry` to the thread atomically if `guard` allows the size it
   * would grow to; `noThread` if it does not exist. Like {@link updateThread}
   * with an append, but a store may do it without reading the thread's lines
   * (`appendByUpdate` is the store that does read them).
   */
  appendEntry<E>(title: string, entry: ThreadEntry, guard: AppendGuard<E>, actor?: string): TE.TaskEither<StoreError | E, void>;
  /**
   * Edits or deletes message number `n` of the thread atomically, as
   * `change` decides from that message and the thread's size; `noThread` if
   * there is no such thread, `change.noMessage` if it has no message `n`.
   * Like {@link updateThread} with that change, but a store may do it
   * reading and writing only that message (`changeByUpdate` is the store
   * that reads the thread whole). `actor` as for {@link updateThread}.
   */
  changeMessage<E>(title: string, n: number, change: MessageChange<E>, actor?: string): TE.TaskEither<StoreError | E, void>;
  /** Removes the thread and all its uploads if `guard` allows it. */
  removeThread<E>(title: string, guard: (thread: Thread) => E.Either<E, void>): TE.TaskEither<StoreError | E, void>;
  /**
   * What {@link beginUpload} would refuse now, found without storing
   * anything: UPD asks before a transfer token is issued, so a client is not
   * told to send bytes the store would refuse on arrival (a name taken in the
   * store, a full thread or forum). Only a check: the upload may still be
   * refused as it begins or commits, if things change meanwhile. Answers the
   * incarnation of the thread it checked, for UPD's grant to carry to
   * {@link beginUpload}.
   */
  checkUpload(title: string, filename: string, uploader: string): TE.TaskEither<UploadError, ThreadIncarnation>;
  /**
   * Starts receiving an upload; refused if the thread does not exist, already
   * has that file, or could not take the upload's line now (so no byte is
   * stored for a line that would be refused; `commit` checks again). The same
   * checks as {@link checkUpload}. With `incarnation` (what `checkUpload`
   * answered when UPD was granted) the upload goes to that thread only: if the
   * title's thread was removed since, even if one was made again, it is
   * refused `noThread`. Without, it goes to the thread of the title now.
   * `size`, the bytes the sender announced: a store that bounds all uploads'
   * bytes itself (PostgreSQL's `maxStoredUploadBytes`), or each account's
   * (`maxUserUploadBytes`, either store), refuses at once, before a byte is
   * stored, an upload that cannot fit now (`uploadStorageFull`); the data
   * directory's quota is the server's, checked before this is called.
   */
  beginUpload(title: string, filename: string, uploader: string, incarnation?: ThreadIncarnation, size?: number): TE.TaskEither<UploadError, UploadWriter>;
  /** The size of an uploaded file and its thread's incarnation, without opening it. */
  statUpload(title: string, filename: string): TE.TaskEither<StoreError | NoFileError, UploadStat>;
  /**
   * Opens an uploaded file for reading. With `incarnation` (what `statUpload`
   * answered when DWN was granted) only that thread's file is opened: if the
   * title's thread was removed since, even if one was made again with a file
   * of that name, it is refused `noThread`.
   */
  openDownload(title: string, filename: string, incarnation?: ThreadIncarnation): TE.TaskEither<StoreError | NoFileError, Download>;
}
