import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import type { StoreError } from './errors.js';
import { createKeyedMutex } from '../concurrency/keyed-mutex.js';
import { nameKey } from '../protocol/names.js';
import type { Account, ForumStore, UploadError, UploadWriter } from './store.js';
import type { ThreadIncarnation } from './thread-incarnations.js';
import { uploadFileName, type Thread } from './thread.js';
import type { Writable } from 'node:stream';

/** Ends `stream` and waits until it has closed (errors included: `commit` reports them). */
const closeStream = (stream: Writable): Promise<void> =>
  new Promise((resolve) => {
    if (stream.closed) return resolve();
    stream.once('close', () => resolve());
    if (!stream.writableEnded) stream.end();
  });

/** Options of {@link withNameIdentity}. */
export interface NameIdentityOptions {
  /**
   * Most accounts (by name, `nameKey`): a new one past it is refused with `accountsFull`. The data directory
   * keeps every account in memory (about 0.9 KiB each, attack round 14) and none is ever removed, so
   * without it they grew by 10 per client address every 10 minutes for as long as the server ran.
   * Default: none.
   */
  readonly maxAccounts?: number;
}

/** What a data-directory name belongs to. */
type Owner = { readonly kind: 'thread'; readonly title: string } | { readonly kind: 'upload'; readonly title: string; readonly filename: string };

const NAMESPACE = 'names';

/**
 * Wraps a store so that every name has one identity: two names with the same
 * {@link nameKey} (`Notes` and `notes`, `ß` and `SS`) are one name, as they
 * are one file on a case-insensitive file system.
 *
 * - Creating a thread, an upload or an account whose name is the same name as
 *   an existing one (of any kind: a thread `a-b` and the upload `b` of thread
 *   `a` are one file) is refused as if that exact name existed.
 * - A command naming an existing thread or upload by another spelling of its
 *   name reaches it (`RDT Notes` reads `notes`).
 * - User names stay case-sensitive at login (the spec says so), but a new
 *   account may not take another spelling of an existing one:
 *   `similarAccount` names the existing account.
 *
 * Names already on disk that clash (written before this rule) stay reachable
 * by their exact spelling. The index costs one map entry per thread, upload
 * and account.
 */
export const withNameIdentity = (base: ForumStore, options: NameIdentityOptions = {}): TE.TaskEither<StoreError, ForumStore> => async () => {
  const accounts = await base.listAccounts()();
  if (E.isLeft(accounts)) return accounts;
  const titles = await base.listThreads()();
  if (E.isLeft(titles)) return titles;
  const accountKeys = new Map<string, string>();
  for (const u of accounts.right) if (!accountKeys.has(nameKey(u))) accountKeys.set(nameKey(u), u);
  const names = new Map<string, Owner>();
  const threadTitles = new Set<string>();
  const indexThread = (th: Thread): void => {
    threadTitles.add(th.title);
    if (!names.has(nameKey(th.title))) names.set(nameKey(th.title), { kind: 'thread', title: th.title });
    for (const e of th.entries) {
      const k = e.kind === 'upload' ? nameKey(uploadFileName(th.title, e.filename)) : undefined;
      if (k !== undefined && e.kind === 'upload' && !names.has(k)) names.set(k, { kind: 'upload', title: th.title, filename: e.filename });
    }
  };
  for (const title of titles.right) {
    const th = await base.getThread(title)();
    if (E.isLeft(th)) return th;
    if (O.isSome(th.right)) indexThread(th.right.value);
  }
  const mutex = createKeyedMutex();
  const locked = <A>(work: () => Promise<A>): Promise<A> => mutex.run(NAMESPACE, work);
  // By stored title: RMV holds a thread's to its answer, an upload commit to it takes it before the index's lock.
  // The base store's RMV holds its own lock of the thread through the deletion of its upload files (thousands of
  // unlinks), and a commit that took the index's lock first waited for that one under it, and every CRT, new
  // account and upload commit elsewhere with it.
  const threadMutex = createKeyedMutex();

  /** The stored spelling of thread `title`: itself if it exists exactly, else the thread of the same name, else itself. */
  const thread = (title: string): string => {
    if (threadTitles.has(title)) return title;
    const owner = names.get(nameKey(title));
    return owner?.kind === 'thread' ? owner.title : title;
  };
  /** The stored spelling of upload `filename` of (resolved) thread `title`. */
  const upload = (title: string, filename: string): string => {
    const owner = names.get(nameKey(uploadFileName(title, filename)));
    return owner?.kind === 'upload' && owner.title === title ? owner.filename : filename;
  };
  /** Whether the name `name` is taken by something other than `self`. */
  const takenByOther = (name: string, self: (o: Owner) => boolean): boolean => {
    const owner = names.get(nameKey(name));
    return owner !== undefined && !self(owner);
  };

  const createAccount = (account: Account): TE.TaskEither<StoreError, boolean> => () =>
    locked(async () => {
      const k = nameKey(account.username);
      const other = accountKeys.get(k);
      if (other !== undefined && other !== account.username) return E.right(false);
      // The account's own name (a retry) passes: the base store answers it `false`.
      if (other === undefined && options.maxAccounts !== undefined && accountKeys.size >= options.maxAccounts) {
        return E.left<StoreError, boolean>({ kind: 'accountsFull', limit: options.maxAccounts });
      }
      const created = await base.createAccount(account)();
      if (E.isRight(created) && created.right && other === undefined) accountKeys.set(k, account.username);
      return created;
    });

  const createThread: ForumStore['createThread'] = (title, creator) => () =>
    locked(async () => {
      if (names.has(nameKey(title))) return E.right(false);
      const created = await base.createThread(title, creator)();
      if (E.isRight(created) && created.right) indexThread({ title, creator, entries: [] });
      return created;
    });

  // Not under the index's lock (under the thread's only): the base store's RMV of a thread of thousands of uploads
  // deletes them one by one, and every CRT, new account and upload commit waited for it (attack round 15: a CRT
  // 2.6 s behind 3,000 uploads). The index keeps the thread's and its uploads' names until that RMV has answered,
  // so nothing is created under them meanwhile (the base store keeps them taken too, until its intent record has ended).
  const removeThread: ForumStore['removeThread'] = (title, guard) => () => {
    const t = thread(title);
    return threadMutex.run(t, () => removeResolved(t, guard));
  };

  /** RMV of stored title `t`, under its thread lock. */
  const removeResolved = async <Err>(t: string, guard: (thread: Thread) => E.Either<Err, void>): Promise<E.Either<StoreError | Err, void>> => {
    // The thread as the base store removes it (under its locks), so the index lets go of exactly its uploads.
    let gone: Thread | undefined;
    const removed = await base.removeThread(t, (th) => {
      const ok = guard(th);
      if (E.isRight(ok)) gone = th;
      return ok;
    })();
    if (E.isRight(removed)) {
      threadTitles.delete(t);
      if (names.get(nameKey(t))?.kind === 'thread') names.delete(nameKey(t));
      for (const e of gone?.entries ?? []) {
        if (e.kind !== 'upload') continue;
        const k = nameKey(uploadFileName(t, e.filename));
        const o = names.get(k);
        if (o?.kind === 'upload' && o.title === t) names.delete(k);
      }
    }
    return removed;
  };

  /** Whether another spelling of the upload's `TITLE-FILENAME` is taken (by a thread or an upload): the same file on a case-insensitive disk. */
  const uploadClash = (t: string, filename: string): boolean =>
    takenByOther(uploadFileName(t, filename), (o) => o.kind === 'upload' && o.title === t && o.filename === filename);

  const checkUpload = (title: string, filename: string, uploader: string): TE.TaskEither<UploadError, ThreadIncarnation> => async () => {
    const t = thread(title);
    if (uploadClash(t, filename)) return E.left({ kind: 'fileExists', title, filename });
    return base.checkUpload(t, filename, uploader)();
  };

  const beginUpload = (title: string, filename: string, uploader: string, incarnation?: ThreadIncarnation, size?: number): TE.TaskEither<UploadError, UploadWriter> => async () => {
    const t = thread(title);
    const clash = (): boolean => uploadClash(t, filename);
    if (clash()) return E.left({ kind: 'fileExists', title, filename });
    const begun = await base.beginUpload(t, filename, uploader, incarnation, size)();
    if (E.isLeft(begun)) return begun;
    const writer = begun.right;
    const commit: UploadWriter['commit'] = async () => {
      // The bytes are ended and synced (closing the stream) before the lock every CRT and new
      // account waits for: a 1 GiB upload's sync under it held them all for its duration.
      await closeStream(writer.stream);
      // Waits for an RMV of the thread to answer (then refused by the base store, which knows it gone) without
      // the index's lock; commits to other threads, CRTs and new accounts go on meanwhile.
      return threadMutex.run(t, () => commitLocked());
    };
    const commitLocked = (): Promise<E.Either<UploadError, void>> =>
      locked(async () => {
        // Checked again under the lock: another spelling may have been committed meanwhile.
        if (clash()) {
          await writer.abort();
          return E.left<UploadError, void>({ kind: 'fileExists', title, filename });
        }
        const done = await writer.commit();
        if (E.isRight(done)) names.set(nameKey(uploadFileName(t, filename)), { kind: 'upload', title: t, filename });
        return done;
      });
    return E.right({ stream: writer.stream, commit, abort: writer.abort, stopped: writer.stopped });
  };

  return E.right({
    warnings: base.warnings,
    ...(base.recovered === undefined ? {} : { recovered: base.recovered }),
    getAccount: base.getAccount,
    listAccounts: base.listAccounts,
    ...(base.damagedAccount === undefined ? {} : { damagedAccount: (username: string) => base.damagedAccount?.(username) }),
    similarAccount: (username) => {
      const other = accountKeys.get(nameKey(username));
      return other !== undefined && other !== username ? other : undefined;
    },
    createAccount,
    replaceAccountSecret: base.replaceAccountSecret,
    listThreads: base.listThreads,
    getThread: (title) => base.getThread(thread(title)),
    createThread,
    updateThread: (title, update, actor) => base.updateThread(thread(title), update, actor),
    appendEntry: (title, entry, guard, actor) => base.appendEntry(thread(title), entry, guard, actor),
    changeMessage: (title, n, change, actor) => base.changeMessage(thread(title), n, change, actor),
    removeThread,
    checkUpload,
    beginUpload,
    statUpload: (title, filename) => {
      const t = thread(title);
      return base.statUpload(t, upload(t, filename));
    },
    openDownload: (title, filename, incarnation) => {
      const t = thread(title);
      return base.openDownload(t, upload(t, filename), incarnation);
    },
  });
};
