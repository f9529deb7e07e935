import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { Readable, Writable } from 'node:stream';
import { appendByUpdate } from './append-by-update.js';
import { changeByUpdate } from './change-by-update.js';
import type { NoFileError, StoreError } from './errors.js';
import type { Account, Download, ForumStore, ThreadUpdate, UploadError, UploadWriter } from './store.js';
import { appendGuarded, checkAppend, threadGrowthGuard } from './thread-growth.js';
import { type ThreadLimits, levelThreadCounts, resolveThreadLimits, threadLimitProblem } from './thread-limits.js';
import { originLevels } from './origin-shares.js';
import { hasUpload, uploadFileName, type Thread, type ThreadEntry } from './thread.js';
import { ThreadIncarnations, threadGone, type ThreadIncarnation } from './thread-incarnations.js';
import { TransfersInFlight, TransferStop } from './transfers-in-flight.js';

/** Starting contents for {@link createMemoryStore}. */
export interface MemoryStoreSeed {
  readonly accounts?: readonly Account[];
  readonly threads?: readonly Thread[];
  readonly uploads?: ReadonlyMap<string, Uint8Array>;
}

/**
 * A {@link ForumStore} held in memory (tests, and a model for other stores).
 * Every operation completes in one turn of the event loop, so no locks are needed.
 * It shares the data directory's name space: a thread and an upload's
 * `TITLE-FILENAME` may not have the same name, as they could not on disk.
 */
export const createMemoryStore = (seed: MemoryStoreSeed = {}, options: { readonly threadLimits?: Partial<ThreadLimits> } = {}): ForumStore => {
  const limits = resolveThreadLimits(options.threadLimits);
  const accounts = new Map<string, Account>((seed.accounts ?? []).map((a) => [a.username, a]));
  const threads = new Map<string, Thread>((seed.threads ?? []).map((th) => [th.title, th]));
  const uploads = new Map<string, Uint8Array>(seed.uploads ?? []);
  // Which life of each title the thread is: an upload must commit into the thread it began in.
  const incarnations = new ThreadIncarnations();
  for (const title of threads.keys()) incarnations.created(title);
  // Uploads being received and downloads being read, so that RMV stops those of the thread it removes.
  const inFlight = new TransfersInFlight();

  const noThread = (title: string): StoreError => ({ kind: 'noThread', title });
  const nameTaken = (name: string): boolean => threads.has(name) || uploads.has(name);

  const updateThread = <Err, A>(title: string, update: ThreadUpdate<Err, A>): TE.TaskEither<StoreError | Err, A> =>
    TE.fromIOEither(() => {
      const thread = threads.get(title);
      if (thread === undefined) return E.left(noThread(title));
      const out = update(thread);
      if (E.isLeft(out)) return out;
      threads.set(title, out.right.thread);
      return E.right(out.right.result);
    });

  /** What `beginUpload` refuses: the checks `commit` makes, on the thread as it is now; else the thread's incarnation. */
  const uploadProblem = (title: string, filename: string, uploader: string): E.Either<UploadError, ThreadIncarnation> => {
    const thread = threads.get(title);
    const incarnation = incarnations.of(title);
    if (thread === undefined || incarnation === undefined) return E.left(noThread(title));
    // The name space too, not only this thread's uploads: `commit` would refuse a name a thread holds.
    if (hasUpload(thread, filename) || nameTaken(uploadFileName(title, filename))) return E.left({ kind: 'fileExists', title, filename });
    return E.map(() => incarnation)(checkAppend(thread, { kind: 'upload', uploader, filename }, threadGrowthGuard(title)));
  };

  const beginUpload = (title: string, filename: string, uploader: string, granted?: ThreadIncarnation): TE.TaskEither<UploadError, UploadWriter> =>
    TE.fromIOEither((): E.Either<UploadError, UploadWriter> => {
      // Granted for a thread of this title that is gone (maybe made again since): refused as for any missing thread.
      if (granted !== undefined && incarnations.of(title) !== granted) return E.left(threadGone(title));
      const room = uploadProblem(title, filename, uploader);
      if (E.isLeft(room)) return room;
      const line: ThreadEntry = { kind: 'upload', uploader, filename };
      const incarnation = room.right;
      const chunks: Buffer[] = [];
      const stream = new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk);
          cb();
        },
      });
      let aborted = false;
      const discard = async (): Promise<void> => {
        chunks.length = 0;
        stream.destroy();
      };
      // RMV of the thread stops the upload: its bytes dropped, the sender told.
      const stop = new TransferStop(discard);
      const forget = inFlight.add(title, incarnation, stop);
      const commit: TE.TaskEither<UploadError, void> = async () => {
        stop.endBegins();
        forget();
        if (stop.reason !== undefined) return E.left(stop.reason);
        // A stream that finished and closed is whole; one destroyed before it finished was cut off.
        if (aborted || stream.errored !== null || (stream.destroyed && !stream.writableFinished)) return E.left({ kind: 'io', message: 'upload was aborted' });
        if (!stream.writableFinished) await new Promise<void>((resolve) => stream.end(resolve));
        const current = threads.get(title);
        // Removed (and maybe made again, by anyone) while the bytes arrived: not the thread they were sent to.
        if (current === undefined || incarnations.of(title) !== incarnation) {
          chunks.length = 0;
          return E.left(threadGone(title));
        }
        const name = uploadFileName(title, filename);
        if (hasUpload(current, filename) || nameTaken(name)) return E.left({ kind: 'fileExists', title, filename });
        // Checked again: MSGs and other uploads may have filled the thread since the upload began.
        const next = appendGuarded(current, line, threadGrowthGuard(title));
        if (E.isLeft(next)) {
          chunks.length = 0;
          return next;
        }
        uploads.set(name, Buffer.concat(chunks));
        threads.set(title, next.right);
        return E.right(undefined);
      };
      const abort = async (): Promise<void> => {
        aborted = true;
        forget();
        await discard();
      };
      return E.right({ stream, commit, abort, stopped: stop.stopped });
    });

  /** The upload's bytes and its thread's incarnation, or why there are none. */
  const findUpload = (title: string, filename: string): E.Either<StoreError | NoFileError, { readonly bytes: Uint8Array; readonly incarnation: ThreadIncarnation }> => {
    const thread = threads.get(title);
    const incarnation = incarnations.of(title);
    if (thread === undefined || incarnation === undefined) return E.left(noThread(title));
    const bytes = uploads.get(uploadFileName(title, filename));
    if (!hasUpload(thread, filename) || bytes === undefined) return E.left({ kind: 'noFile', title, filename });
    return E.right({ bytes, incarnation });
  };

  const openDownload = (title: string, filename: string, granted?: ThreadIncarnation): TE.TaskEither<StoreError | NoFileError, Download> =>
    TE.fromIOEither((): E.Either<StoreError | NoFileError, Download> => {
      // Granted for a thread of this title that is gone (maybe made again, with a file of the name): not that file.
      if (granted !== undefined && incarnations.of(title) !== granted) return E.left(threadGone(title));
      const found = findUpload(title, filename);
      if (E.isLeft(found)) return found;
      const { bytes, incarnation } = found.right;
      const stream = Readable.from([Buffer.from(bytes)]);
      // RMV of the thread stops the download: the stream ends unfinished, the receiver is told.
      const stop = inFlight.addDownload(title, incarnation, stream);
      return E.right({ stream, size: bytes.length, stopped: stop.stopped });
    });

  return {
    warnings: [],
    getAccount: (username) => TE.right(O.fromNullable(accounts.get(username))),
    listAccounts: () => TE.right([...accounts.keys()]),
    createAccount: (account) =>
      TE.fromIO(() => {
        if (accounts.has(account.username)) return false;
        accounts.set(account.username, account);
        return true;
      }),
    replaceAccountSecret: (username, secret) =>
      TE.fromIO(() => {
        if (!accounts.has(username)) return false;
        accounts.set(username, { ...accounts.get(username), username, password: secret });
        return true;
      }),
    listThreads: () => TE.fromIO(() => [...threads.keys()].sort()),
    getThread: (title) => TE.fromIO(() => O.fromNullable(threads.get(title))),
    createThread: (title, creator) =>
      TE.fromIOEither(() => {
        if (nameTaken(title)) return E.right(false);
        let mine = 0;
        // The threads of the accounts of each level of the creator's origin (origin-shares.ts); an account of no
        // recorded origin is its own group.
        const origin = accounts.get(creator)?.origin;
        const ours = origin === undefined ? undefined : levelThreadCounts(originLevels(origin));
        for (const th of threads.values()) {
          if (th.creator === creator) mine++;
          const theirs = ours === undefined ? undefined : accounts.get(th.creator)?.origin;
          if (theirs !== undefined) ours?.count(originLevels(theirs));
        }
        const refused = threadLimitProblem(limits, threads.size, mine, ours);
        if (refused !== undefined) return E.left(refused);
        threads.set(title, { title, creator, entries: [] });
        incarnations.created(title);
        return E.right(true);
      }),
    updateThread,
    appendEntry: appendByUpdate(updateThread),
    changeMessage: changeByUpdate(updateThread),
    removeThread: <Err>(title: string, guard: (thread: Thread) => E.Either<Err, void>): TE.TaskEither<StoreError | Err, void> => async () => {
      const thread = threads.get(title);
      const incarnation = incarnations.of(title);
      if (thread === undefined || incarnation === undefined) return E.left(noThread(title));
      const ok = guard(thread);
      if (E.isLeft(ok)) return ok;
      for (const e of thread.entries) if (e.kind === 'upload') uploads.delete(uploadFileName(title, e.filename));
      threads.delete(title);
      incarnations.removed(title);
      // Its uploads in flight could only be refused at commit, its downloads would run on: stopped now, before RMV answers.
      await inFlight.stopAll(title, incarnation, threadGone(title));
      return E.right(undefined);
    },
    checkUpload: (title, filename, uploader) => TE.fromIOEither(() => uploadProblem(title, filename, uploader)),
    beginUpload,
    statUpload: (title, filename) => TE.fromEither(E.map((u: { readonly bytes: Uint8Array; readonly incarnation: ThreadIncarnation }) => ({ size: u.bytes.length, incarnation: u.incarnation }))(findUpload(title, filename))),
    openDownload,
  };
};
