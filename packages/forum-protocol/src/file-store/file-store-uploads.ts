import * as E from 'fp-ts/lib/Either.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { close, createWriteStream, fsync, open as openFd, write, writev } from 'node:fs';
import { lstat, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename } from 'node:path';
import { PUBLIC_FILE_MODE, tempPath } from './atomic-write.js';
import { errorCode, isEnoent, unlinkIfPresent } from './file-errors.js';
import type { FileExistsError } from '../store/errors.js';
import { attempt, deleteCounted, NAMESPACE_LOCK, noThread, pathIn, unstorable, type FileStoreContext } from './file-store-context.js';
import type { ThreadWrite, ThreadWrites } from './file-store-thread-writes.js';
import { clearIntent, writeIntent } from './intent-records.js';
import type { ForumStore, UploadError, UploadWriter } from '../store/store.js';
import { storedNameProblem } from './stored-name.js';
import { writtenBytes } from '../store/thread-change.js';
import { threadGone, type ThreadIncarnation } from '../store/thread-incarnations.js';
import { entryShare } from './account-shares.js';
import { hasUpload, parseThreadFile, uploadFileName, wordProblem, type ThreadEntry } from '../store/thread.js';
import { endUploadStream, TransferStop } from '../store/transfers-in-flight.js';

/** The file operations of an upload's write stream (its `fs` option; `fsync` for `flush`, which @types/node omits). */
interface UploadStreamFs {
  readonly open: typeof openFd;
  readonly write: typeof write;
  readonly writev: typeof writev;
  readonly close: typeof close;
  readonly fsync: (fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => void;
}

/**
 * `node:fs` for an upload's write stream, its closing sync (`flush`) counted as a write under way
 * (disk-watch.ts): unwatched, a disk that stopped answering there hung the upload's commit while new changes
 * queued behind the disk, never refused.
 */
const watchedStreamFs = (ctx: FileStoreContext): UploadStreamFs => ({
  open: openFd,
  write,
  writev,
  close,
  fsync: (fd: number, callback: (err: NodeJS.ErrnoException | null) => void): void => {
    void ctx.disk.run(
      () =>
        new Promise<void>((resolve) =>
          fsync(fd, (err) => {
            resolve();
            callback(err);
          }),
        ),
    );
  },
});

/**
 * UPD in the file store whose shared state is `ctx`: the bytes received into
 * a temporary file, then, under the thread's and the namespace's locks, put
 * in place and made visible by the upload line (`writes`), an intent record
 * letting the next open undo the bytes if a crash comes between the two.
 */
export const fileStoreUploads = (ctx: FileStoreContext, writes: ThreadWrites): Pick<ForumStore, 'checkUpload' | 'beginUpload'> => {
  const { dir, mutex, contents, inFlight } = ctx;
  const { planUploadLine, applyThreadWrite } = writes;
  /**
   * What an upload is refused for before a byte of it is stored (`checkUpload`, `beginUpload`): what its
   * commit would refuse now. Commit checks again, under the locks: things may change meanwhile.
   */
  /**
   * An upload record the commit could not end (`cleared` false) names `name` until the next open, which
   * deletes a file of that name its thread does not list: kept taken till then, even after an RMV frees the
   * upload's own count, so that no thread or upload made meanwhile under it is deleted (as RMV's leftovers).
   */
  const keepNameIfLeft = (name: string, cleared: boolean): void => {
    if (cleared) return;
    contents.otherNames.add(name);
    ctx.warn(`the intent record of upload ${name} could not be deleted: the next start acts on it; until then ${name} is taken`);
  };

  /**
   * Whether the line of upload `filename` is on disk after `plan`'s write of thread `title` threw. A write in place
   * (the undo journal) that failed is undone by the next open if the journal did not end: never `written`.
   * A whole file's rename may report a failure after it landed (a network file system retrying it, an I/O
   * error after the directory changed): the file is read back, `written` if it holds the plan's bytes.
   */
  const lineOnDisk = async (title: string, filename: string, plan: ThreadWrite): Promise<'written' | 'absent' | 'unknown'> => {
    if (plan.offset !== undefined) return 'absent';
    let bytes: Buffer;
    try {
      bytes = await readFile(pathIn(ctx, title));
    } catch (r) {
      return isEnoent(r) ? 'absent' : 'unknown';
    }
    if (bytes.equals(plan.tail)) return 'written';
    // Neither this write's bytes nor a thread without the line (another writer's?): the next open decides.
    const thread = parseThreadFile(title, bytes.toString('utf8'));
    return thread !== undefined && hasUpload(thread, filename) ? 'unknown' : 'absent';
  };

  /**
   * Ends upload record `intent` (clearIntent), counted as a write under way: its unlink and directory sync run
   * under the thread's and the namespace's locks, and a sync hung there must refuse new changes, not hold them.
   */
  const endIntent = (intent: string): Promise<boolean> => ctx.disk.run(() => clearIntent(dir, intent));

  const uploadProblem = (title: string, filename: string, uploader: string): E.Either<UploadError, ThreadIncarnation> => {
    const stored = contents.threads.get(title);
    const incarnation = contents.incarnations.of(title);
    if (stored === undefined || incarnation === undefined) return E.left(noThread(title));
    // Any file of the name, not only this thread's uploads: commit would refuse a name a thread or another file holds.
    if (hasUpload(stored.thread, filename) || contents.nameTaken(uploadFileName(title, filename))) return E.left({ kind: 'fileExists', title, filename } satisfies FileExistsError);
    const problem = wordProblem('the file name', filename) ?? wordProblem('the uploader name', uploader) ?? storedNameProblem(uploadFileName(title, filename));
    if (problem !== undefined) return E.left(unstorable(problem));
    // The line's room: the thread's lines and reply size, and the bytes all threads may hold (maxThreadBytes).
    return E.map(() => incarnation)(planUploadLine(stored, { kind: 'upload', uploader, filename }));
  };

  const beginUpload = (title: string, filename: string, uploader: string, granted?: ThreadIncarnation, size?: number): TE.TaskEither<UploadError, UploadWriter> =>
    attempt(async (): Promise<E.Either<UploadError, UploadWriter>> => {
      // Not received for a commit that would queue behind a write the disk does not answer (disk-watch.ts).
      const stalled = ctx.disk.stalled();
      if (stalled !== undefined) return E.left(stalled);
      // Granted for a thread of this title that is gone (maybe made again since): refused as for any missing thread.
      if (granted !== undefined && contents.incarnations.of(title) !== granted) return E.left(threadGone(title));
      const room = uploadProblem(title, filename, uploader);
      if (E.isLeft(room)) return room;
      const line: ThreadEntry = { kind: 'upload', uploader, filename };
      const incarnation = room.right;
      // The uploader's share holds the announced size from here (upload-shares.ts): checked and held in one
      // synchronous step, so that uploads of one account begun at once never pass it together.
      const shareRefused = contents.uploadShares.reserve(uploader, size ?? 0, ctx.maxUserUploadBytes, size ?? 0, ctx.originLimits.uploadBytes);
      if (shareRefused !== undefined) return E.left(shareRefused);
      // What this upload holds of the share until it ends: given back when its bytes go, counted as a file once it commits.
      let reserved = size ?? 0;
      const giveBack = (): void => {
        contents.uploadShares.release(uploader, reserved);
        reserved = 0;
      };
      const tmp = tempPath(dir);
      // flush: the bytes are synced as the stream closes, before commit takes any lock (a wrapper
      // that locks around commit can let the stream close first, and not hold its lock over the sync).
      const stream = createWriteStream(tmp, { flags: 'wx', mode: PUBLIC_FILE_MODE, flush: true, fs: watchedStreamFs(ctx) });
      // Errors surface through commit(); a listener keeps them from crashing the process.
      stream.on('error', () => undefined);
      const closed = new Promise<Error | null>((resolve) => stream.once('close', () => resolve(stream.errored)));
      let aborted = false;
      // The bytes received were counted as stored as they landed (the server's quota releases an upload's
      // room as its bytes reach the disk): told before the unlink, as RMV's files are, so that a reused
      // measurement of the directory stops counting them at once (attack round 8: two aborted uploads'
      // 8 MB stayed counted for a walk's reuse, and an 8 MB upload under a 24 MB quota of an empty
      // directory was refused). Negated if the unlink fails; nothing to tell once renamed into place.
      // Once, however many ask: RMV's stop and the sender's abort can both be under way, and each measuring the file
      // before either unlinked it told its bytes twice (then one negated, its unlink finding nothing).
      let discarded: Promise<void> | undefined;
      const discard = (): Promise<void> => {
        giveBack();
        return (discarded ??= deleteCounted(ctx, tmp, (path) => ctx.disk.run(() => unlink(path))).then(() => undefined));
      };
      // RMV of the thread stops the upload: the stream closed, its temporary file deleted, the sender told.
      const stop = new TransferStop(async () => {
        stream.destroy();
        await closed;
        await discard();
      });
      const forget = inFlight.add(title, incarnation, stop);
      const commitOnce: TE.TaskEither<UploadError, void> = attempt(async (): Promise<E.Either<UploadError, void>> => {
        // From here the commit decides, under the locks: a stop now would delete the file it is about to rename.
        const ended = await endUploadStream({ stop, forget, aborted, stream, done: closed, discard });
        if (ended !== undefined) return E.left(ended);
        // Already synced as the stream closed (flush) on Node ≥ 20.10, so this is quick; an older Node needs it.
        await ctx.disk.run(async () => {
          const h = await open(tmp, 'r+');
          try {
            await h.sync();
          } finally {
            await h.close();
          }
        });
        return mutex.run(title, () =>
          mutex.run(NAMESPACE_LOCK, async (): Promise<E.Either<UploadError, void>> => {
            const current = contents.threads.get(title);
            const name = uploadFileName(title, filename);
            // Removed (and maybe made again, by anyone) while the bytes arrived: not the thread they were sent to.
            if (current === undefined || contents.incarnations.of(title) !== incarnation) {
              await discard();
              return E.left(threadGone(title));
            }
            if (hasUpload(current.thread, filename) || contents.nameTaken(name)) {
              await discard();
              return E.left({ kind: 'fileExists', title, filename });
            }
            // Measured before the checks below: from the line's check to its hold nothing may yield, or a MSG of
            // another thread (whose batch holds that thread's lock, not this one) by an account of the same
            // origin, or the same account, passes its share's check in the gap and both are held past it.
            const bytes = (await lstat(tmp)).size;
            // Under the thread's lock, which MSG batches hold too: MSGs and uploads are checked one after another.
            const plan = planUploadLine(current, line);
            if (E.isLeft(plan)) {
              await discard();
              return plan;
            }
            // The file's bytes against the share: more than announced (or announced by no one) must fit what is
            // left of it now, held with the check.
            if (bytes > reserved) {
              const more = contents.uploadShares.reserve(uploader, bytes - reserved, ctx.maxUserUploadBytes, bytes, ctx.originLimits.uploadBytes);
              if (more !== undefined) {
                await discard();
                return E.left(more);
              }
              reserved = bytes;
            }
            // Charged as a MSG's line is: what the line's write puts on disk (nothing for an append to a
            // file the store wrote; the whole file for the first change of a hand-written one).
            const refused = ctx.charge(uploader, writtenBytes(current, plan.right.offset));
            if (refused !== undefined) {
              await discard();
              return E.left(refused);
            }
            // Counted before the writes below yield, as a MSG batch counts its growth, so that changes of
            // other threads meanwhile cannot take all threads past maxThreadBytes together with this one; a
            // shrink (a hand-written file rewritten shorter) only once written, as a batch gives one back.
            const growth = Math.max(0, plan.right.stored.bytes - current.bytes);
            contents.threadBytes += growth;
            contents.threadLines += 1;
            // The uploader's share, held the same way (account-shares.ts; planUploadLine checked it).
            const share = entryShare(line);
            if (share !== undefined) contents.shares.add(share.account, { lines: 1, bytes: share.bytes });
            // The bytes go in place first, then the line that makes them visible; the intent
            // record lets the next open remove the bytes if a crash comes between the two.
            let intent: string | undefined;
            // The file kept in place with no line known for it: only the record tells the next open what to do with it.
            let orphaned = false;
            try {
              // Asked just before the file is put in place (FileStoreOptions.owned): a server woken after its
              // directory was taken over puts nothing there.
              if (!(await ctx.owned().catch(() => false))) throw new Error(`${name} was not stored: the data directory is no longer this server's`);
              intent = await ctx.disk.run(() => writeIntent(dir, { op: 'upload', thread: title, filename, temp: basename(tmp) }));
              await ctx.disk.run(() => rename(tmp, pathIn(ctx, name)));
              try {
                await applyThreadWrite(title, plan.right);
              } catch (e) {
                const line = await lineOnDisk(title, filename, plan.right);
                if (line === 'written') ctx.warn(`the line of upload ${name} was written though its write reported ${errorCode(e)}: stored`);
                else {
                  // Not known (the thread unreadable): the file stays with its record, and the next open keeps it
                  // if the thread lists it. Deleted, a line that did land would list an upload that is gone.
                  if (line === 'unknown') orphaned = true;
                  else await ctx.disk.run(() => unlinkIfPresent(pathIn(ctx, name))).catch(() => {
                    orphaned = true;
                  });
                  throw e;
                }
              }
            } catch (e) {
              contents.threadBytes -= growth;
              contents.threadLines -= 1;
              if (share !== undefined) contents.shares.add(share.account, { lines: -1, bytes: -share.bytes });
              await discard();
              // Kept, with the name, when the file stays: deleted, the next open read the file as a thread of that name.
              if (intent !== undefined) keepNameIfLeft(name, !orphaned && (await endIntent(intent)));
              throw e;
            }
            // `contents.threadBytes` counts the growth already. Recorded before the intent goes: the line is on disk.
            contents.threadBytes += plan.right.stored.bytes - current.bytes - growth;
            contents.threads.set(title, plan.right.stored);
            contents.countUpload(name, 1);
            // The share's hold becomes the file's count (what RMV gives back), in one step.
            giveBack();
            contents.uploadShares.stored(title, filename, uploader, bytes);
            // Stored whatever the record's end does: the line is on disk, and the next open keeps an upload its thread lists.
            keepNameIfLeft(name, await endIntent(intent));
            return E.right(undefined);
          }),
        );
      });
      // A commit that failed however it failed (a sync that threw leaves the temporary file to the next open) holds no share.
      const commit: TE.TaskEither<UploadError, void> = async () => {
        const done = await commitOnce();
        if (E.isLeft(done)) giveBack();
        return done;
      };
      const abort = async (): Promise<void> => {
        aborted = true;
        forget();
        stream.destroy();
        await closed;
        await discard();
      };
      return E.right({ stream, commit, abort, stopped: stop.stopped });
    });

  return {
    checkUpload: (title, filename, uploader) => attempt(async () => uploadProblem(title, filename, uploader)),
    beginUpload,
  };
};
