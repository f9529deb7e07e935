import type { ThreadLimitError } from './thread-limits.js';

/** A store could not read or write (disk full, permissions…); `message` is for the server log only. */
export interface IoError {
  readonly kind: 'io';
  readonly message: string;
  /**
   * The database ended the statement at one of its time limits (PostgreSQL's `statement_timeout`,
   * `lock_timeout`): its transaction was rolled back, and the client is told so rather than given
   * the generic line.
   */
  readonly timedOut?: true;
  /**
   * Someone else ended the statement: an administrator cancelled it (PostgreSQL's `pg_cancel_backend`),
   * or the database ended the server's connection (`pg_terminate_backend`, a shutdown). Its transaction
   * was rolled back, and the client is told which rather than that the database was slow.
   */
  readonly interrupted?: 'cancelled' | 'terminated';
  /**
   * The change was sent to be committed and no answer came (`database`: PostgreSQL's COMMIT, its database
   * silent past the command's deadline; `data directory`: a write done while the server lost its lock, or
   * could not read it back): it may have landed or not. The client is told so, not that it failed (a MSG
   * retried on "please try again" was posted twice).
   */
  readonly outcomeUnknown?: 'database' | 'data directory';
}
/** The named thread does not exist. */
export interface NoThreadError {
  readonly kind: 'noThread';
  readonly title: string;
}
/** The thread already has an upload of that name (or the name is taken in the data directory). */
export interface FileExistsError {
  readonly kind: 'fileExists';
  readonly title: string;
  readonly filename: string;
}
/** The thread has no upload of that name. */
export interface NoFileError {
  readonly kind: 'noFile';
  readonly title: string;
  readonly filename: string;
}
/**
 * The data directory's threads hold as many bytes (`maxThreadBytes`), or as many lines (`maxThreadLines`,
 * `unit: 'lines'`), as the store allows: a change that adds bytes, or lines, is refused. With
 * `who: 'account'`, the lines of the account asking hold its share (`maxUserThreadBytes`,
 * `maxUserThreadLines`: file-store/account-shares.ts), however much room the forum has.
 */
export interface ThreadStorageFullError {
  readonly kind: 'threadStorageFull';
  readonly limit: number;
  /** The limit is of lines; absent: of bytes. */
  readonly unit?: 'lines';
  /** The limit is the asking account's share (`origin`: its origin's accounts' together, origin-shares.ts); absent: of all threads. */
  readonly who?: 'account' | 'origin';
  /** With `who: 'origin'`: the bound passed is of the origin's IPv6 /56 or /48 (its network), not of its /64 or address. */
  readonly network?: true;
}
/** The thread holds as many lines, or as long an RDT reply, as a thread may (limits.ts): a line more is refused. */
export interface ThreadFullError {
  readonly kind: 'threadFull';
  readonly title: string;
}
/**
 * The lines of the account asking hold as much of thread `title` as an account other than its creator may
 * (`limit` reply bytes, or `limit` lines with `unit: 'lines'`: store/thread-share.ts): a line more, or a longer
 * edit, is refused, however much room the thread has.
 */
export interface ThreadShareFullError {
  readonly kind: 'threadShareFull';
  readonly title: string;
  readonly limit: number;
  /** The limit is of lines; absent: of bytes. */
  readonly unit?: 'lines';
}
/**
 * The uploads stored in the database (committed and in progress, over every server) would pass its limit
 * (`maxStoredUploadBytes`); with `who: 'account'`, the uploader's would pass its share of it
 * (`maxUserUploadBytes`, postgres-upload-share.ts), however much room the forum has.
 */
export interface UploadStorageFullError {
  readonly kind: 'uploadStorageFull';
  readonly limit: number;
  /** The limit is the uploader's share (`origin`: its origin's accounts' together, origin-shares.ts); absent: of all uploads. */
  readonly who?: 'account' | 'origin';
  /** With `who: 'origin'`: the bound passed is of the origin's IPv6 /56 or /48 (its network), not of its /64 or address. */
  readonly network?: true;
  /** Refused by its announced size, before a byte was stored: the bytes free then, and the file's size. */
  readonly announced?: { readonly free: number; readonly size: number };
  /**
   * Of the bytes counted, those held by other uploads still in progress (on any server): room that is
   * free again once they commit or end. Present only when some are.
   */
  readonly inProgress?: number;
}
/** A thread write refused for now (see write-budget.ts): the account's, or the whole store's, bytes per second are spent. */
export interface WriteRateError {
  readonly kind: 'writeRate';
  readonly who: 'account' | 'store';
  readonly retryAfterMs: number;
}
/**
 * The data directory holds as many accounts as it may (`withNameIdentity`'s `maxAccounts`, the server's
 * `--max-accounts`): a new one is refused. Accounts are never removed and the store keeps every one in
 * memory, so without a bound they grew with every address that made its 10 (attack round 14).
 */
export interface AccountsFullError {
  readonly kind: 'accountsFull';
  readonly limit: number;
}
/** What any store operation can fail with. */
export type StoreError = IoError | NoThreadError | ThreadStorageFullError | WriteRateError | AccountsFullError;

/** Why a command was refused. Each maps to the exact line the client prints ({@link commandErrorText}). */
export type CommandError =
  | IoError
  | NoThreadError
  | ThreadStorageFullError
  | WriteRateError
  | AccountsFullError
  | FileExistsError
  | NoFileError
  | ThreadFullError
  | ThreadShareFullError
  | UploadStorageFullError
  | ThreadLimitError
  | { readonly kind: 'syntax'; readonly text: string }
  | { readonly kind: 'threadExists'; readonly title: string }
  | { readonly kind: 'invalidMessageNumber' }
  | { readonly kind: 'notAuthor' }
  | { readonly kind: 'notCreator' };

/** The line the client prints for a refused command. */
export const commandErrorText = (e: CommandError): string => {
  switch (e.kind) {
    case 'io':
      return ioErrorText(e, 'command');
    case 'noThread':
      return `Thread ${e.title} does not exist`;
    case 'fileExists':
      return `File already exists in Thread ${e.title}`;
    case 'noFile':
      return `File does not exist in Thread ${e.title}`;
    case 'syntax':
      return e.text;
    case 'threadExists':
      return `Thread ${e.title} exists`;
    case 'threadFull':
      return `Thread ${e.title} is full: it cannot grow any longer (delete or shorten messages, or start a new thread)`;
    case 'threadShareFull':
      return `Your messages hold as much of Thread ${e.title} as one user may: at most ${e.limit} ${e.unit ?? 'bytes'} of it (delete some of your messages in it to make room)`;
    case 'threadStorageFull':
      if (e.who === 'origin') {
        const from = e.network === true ? 'network' : 'address';
        return `Your account and the others created from the same ${from} hold as much of the forum as one ${from} may: at most ${e.limit} ${e.unit ?? 'bytes'} of the forum's threads (delete some of their messages to make room)`;
      }
      if (e.who === 'account') return `Your messages hold as much of the forum as one user may: at most ${e.limit} ${e.unit ?? 'bytes'} of the forum's threads (delete some of your messages to make room)`;
      return `The forum is full: its threads hold at most ${e.limit} ${e.unit ?? 'bytes'} (delete messages or threads to make room)`;
    case 'uploadStorageFull': {
      if (e.who === 'origin') {
        const room = e.announced === undefined ? '' : `, ${e.announced.free} are left to them, this file has ${e.announced.size}`;
        const from = e.network === true ? 'network' : 'address';
        return `Your account and the others created from the same ${from} hold as much of the forum's uploads as one ${from} may: at most ${e.limit} bytes${room} (remove threads of theirs to make room)`;
      }
      if (e.who === 'account') {
        const room = e.announced === undefined ? '' : `, ${e.announced.free} are left to you, this file has ${e.announced.size}`;
        return `Your uploads hold as much of the forum as one user may: at most ${e.limit} bytes${room} (an upload goes with its thread: remove threads of yours, or ask the creators of the other threads you uploaded to)`;
      }
      const head =
        e.announced === undefined
          ? `The forum's uploads are full: they hold at most ${e.limit} bytes`
          : `The forum's uploads are full: they hold at most ${e.limit} bytes, ${e.announced.free} are free, this file has ${e.announced.size}`;
      // Room held by uploads in progress comes back as they end: removing threads is not the only way.
      return e.inProgress === undefined
        ? `${head} (remove threads to make room)`
        : `${head}; ${e.inProgress} bytes are held by uploads in progress (try again later, or remove threads to make room)`;
    }
    case 'writeRate':
      return e.who === 'account'
        ? `You are rewriting large threads too fast: try again in ${Math.ceil(e.retryAfterMs / 1000)} s`
        : `The server is busy rewriting large threads: try again in ${Math.ceil(e.retryAfterMs / 1000)} s`;
    case 'accountsFull':
      return accountsFullText(e.limit);
    case 'tooManyThreads':
      if (e.who === 'origin') return `Your account and the others created from the same ${e.network === true ? 'network' : 'address'} have created too many threads (at most ${e.limit}): remove one of theirs before creating another`;
      return `You have created too many threads (at most ${e.limit}): remove one of yours before creating another`;
    case 'forumFull':
      return `The forum is full (at most ${e.limit} threads): no thread can be created until one is removed`;
    case 'invalidMessageNumber':
      return 'Invalid message number';
    case 'notAuthor':
      return 'The message belongs to another user and cannot be edited';
    case 'notCreator':
      return 'The thread was created by another user and cannot be removed';
  }
};

/** The line a new account gets when the forum holds its most accounts ({@link AccountsFullError}). */
export const accountsFullText = (limit: number): string => `The forum is full: it has at most ${limit} accounts, so no new account can be made`;

/** The line for a request whose database statement ran past its time limit (`what`: command, login). */
export const timedOutText = (what: string): string => `The server's database did not answer in time, so the ${what} was cancelled: please try again`;

/** The line for a request whose database statement an administrator cancelled (`what`: command, login). */
export const cancelledText = (what: string): string => `An administrator of the server's database cancelled the ${what}: please try again`;

/** The line for a request whose database connection the database ended (`what`: command, login). */
export const terminatedText = (what: string): string => `The server's database closed its connection, so the ${what} was cancelled: please try again`;

/** The line for a request (`what`: command, login) whose change was sent to its database and never confirmed ({@link IoError.outcomeUnknown}). */
export const outcomeUnknownText = (what: string): string =>
  `The server's database did not confirm the ${what} in time: the change may or may not be stored (check before trying again)`;

/** The line for a request (`what`: command, login) written to the data directory while its server lost its hold on it ({@link IoError.outcomeUnknown}). */
export const unconfirmedWriteText = (what: string): string =>
  `The server could not confirm the ${what}: the change may or may not be stored (check before trying again)`;

/** The line for a request (`what`: command, login) that failed with `e`. */
export const ioErrorText = (e: IoError, what: string): string => {
  if (e.outcomeUnknown === 'database') return outcomeUnknownText(what);
  if (e.outcomeUnknown === 'data directory') return unconfirmedWriteText(what);
  if (e.timedOut === true) return timedOutText(what);
  if (e.interrupted === 'cancelled') return cancelledText(what);
  if (e.interrupted === 'terminated') return terminatedText(what);
  return `The server could not complete the ${what}, please try again`;
};

/** The server log lines for a refused command (after `U issued CMD command`). */
export const commandErrorLog = (e: CommandError): readonly string[] => {
  switch (e.kind) {
    case 'noThread':
      return ['Incorrect thread specified'];
    case 'invalidMessageNumber':
      return ['Invalid message number'];
    case 'io':
      return [`Store error: ${e.message}`];
    default:
      return [];
  }
};

/** Turns an unknown thrown value into an {@link IoError}. */
export const toIoError = (e: unknown): IoError => ({ kind: 'io', message: e instanceof Error ? e.message : String(e) });
