import * as E from 'fp-ts/lib/Either.js';
import type * as TE from 'fp-ts/lib/TaskEither.js';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { createFileAtomic, syncDir } from './atomic-write.js';
import type { StoreError } from '../store/errors.js';
import { errorCode, isEnoent, unlinkIfPresent } from './file-errors.js';
import { attempt, deleteCounted, NAMESPACE_LOCK, noThread, pathIn, unstorable, uploadNames, utf8Bytes, type FileStoreContext } from './file-store-context.js';
import { clearIntent, replaceIntent, writeIntent } from './intent-records.js';
import type { ForumStore } from '../store/store.js';
import { storedNameProblem } from './stored-name.js';
import type { StoredThread } from '../store/thread-change.js';
import { threadGone, type ThreadIncarnation } from '../store/thread-incarnations.js';
import { levelThreadCounts, threadLimitProblem, type ThreadLimitError } from '../store/thread-limits.js';
import { formatThreadFile, uploadFileName, wordProblem, type Thread } from '../store/thread.js';

/** What RMV's namespace step hands to the deletion of the upload files. */
interface Removed {
  readonly filenames: readonly string[];
  readonly intent: string | undefined;
  readonly incarnation: ThreadIncarnation;
}

/**
 * CRT and RMV in the file store whose shared state is `ctx`: a new thread's
 * file written whole (temporary file + rename), a removed thread's file and
 * uploads deleted under an intent record that the next open finishes.
 */
export const fileStoreThreadLife = (ctx: FileStoreContext): Pick<ForumStore, 'createThread' | 'removeThread'> => {
  const { dir, mutex, contents, inFlight, journal } = ctx;

  const createThread = (title: string, creator: string): TE.TaskEither<StoreError | ThreadLimitError, boolean> =>
    attempt(async () => {
      // Not queued behind a write the disk does not answer (disk-watch.ts).
      const stalled = ctx.disk.stalled();
      if (stalled !== undefined) return E.left(stalled);
      return mutex.run(title, () =>
        mutex.run(NAMESPACE_LOCK, async (): Promise<E.Either<StoreError | ThreadLimitError, boolean>> => {
          const problem = storedNameProblem(title) ?? wordProblem('the creator name', creator);
          if (problem !== undefined) return E.left(unstorable(problem));
          if (contents.nameTaken(title)) return E.right(false);
          // Under the namespace lock, which every CRT holds: concurrent ones count each other.
          let mine = 0;
          // The threads of the accounts of each level of the creator's origin (store/origin-shares.ts); an account
          // of no origin is its own group.
          const levels = contents.levels.get(creator);
          const ours = levels === undefined ? undefined : levelThreadCounts(levels);
          for (const stored of contents.threads.values()) {
            if (stored.thread.creator === creator) mine++;
            const theirs = ours === undefined ? undefined : contents.levels.get(stored.thread.creator);
            if (theirs !== undefined) ours?.count(theirs);
          }
          const refused = threadLimitProblem(ctx.limits, contents.threads.size, mine, ours);
          if (refused !== undefined) return E.left(refused);
          const thread: Thread = { title, creator, entries: [] };
          const text = formatThreadFile(thread);
          // Asked just before it is written: a server woken after its directory was taken over writes nothing more.
          if (!(await ctx.owned())) throw new Error(`${title} was not created: the data directory is no longer this server's`);
          // Not over a file of the name made since this store looked (another writer's): refused as existing.
          if (!(await ctx.disk.run(() => createFileAtomic(dir, title, text)))) return E.right(false);
          contents.storeThread(title, { thread, bytes: utf8Bytes(text), canonical: true });
          contents.incarnations.created(title);
          return E.right(true);
        }),
      );
    });

  /**
   * Drops removed thread `title` (`stored`: its bytes and lines stop counting) from the index. With an intent record (`held`), the
   * title stays taken, and its uploads' names stay counted, until that record ends (deleteUploads): the next
   * open would delete a file of any of them made meanwhile.
   */
  const forgetRemoved = (title: string, stored: StoredThread, held: boolean): void => {
    contents.threadBytes -= stored.bytes;
    contents.threadLines -= stored.thread.entries.length;
    contents.shares.addEntries(stored.thread.entries, -1);
    // Its uploaders' shares at once, as the quota's room comes back as the files go (deleteUploads).
    for (const f of uploadNames(stored.thread)) contents.uploadShares.removed(title, f);
    contents.threads.delete(title);
    contents.incarnations.removed(title);
    if (held) contents.holdRemoving(title, 1);
  };

  const removeThread = <Err>(title: string, guard: (thread: Thread) => E.Either<Err, void>): TE.TaskEither<StoreError | Err, void> =>
    attempt(async () => {
      const stalled = ctx.disk.stalled();
      if (stalled !== undefined) return E.left(stalled);
      // The thread's lock to the end (a CRT of the title waits for the last upload file to go); the namespace
      // lock only while the name index changes, so that CRTs, new names and upload commits elsewhere do not
      // wait for thousands of unlinks (attack round 15: 3,000 uploads held another account's CRT 2.6 s).
      return mutex.run(title, async (): Promise<E.Either<StoreError | Err, void>> => {
        const removed = await mutex.run(NAMESPACE_LOCK, async (): Promise<E.Either<StoreError | Err, Removed>> => {
          const stored = contents.threads.get(title);
          const incarnation = contents.incarnations.of(title);
          if (stored === undefined || incarnation === undefined) return E.left(noThread(title));
          const thread = stored.thread;
          const ok = guard(thread);
          if (E.isLeft(ok)) return ok;
          const filenames = uploadNames(thread);
          // A failed change of the thread's file may have left an undo of it in the journal: deleted before that
          // is recovered, a thread of the title created meanwhile would be cut by it. Other threads may go (RMV
          // is how a full disk gets room back).
          if (journal.unsettled(title)) {
            // Counted as a write under way (disk-watch.ts): the recovery syncs what it puts back.
            const refused = await ctx.disk.run(() => journal.recover());
            if (refused !== undefined && journal.unsettled(title)) throw refused;
          }
          if (!(await ctx.owned())) throw new Error(`${title} was not removed: the data directory is no longer this server's`);
          // Without uploads the one unlink is atomic by itself.
          const intent = filenames.length === 0 ? undefined : await ctx.disk.run(() => writeIntent(dir, { op: 'remove', thread: title, filenames }));
          // The thread goes first, in one step; its uploads follow (a crash now is finished at the next open).
          try {
            await ctx.disk.run(() => unlinkIfPresent(pathIn(ctx, title)));
          } catch (e) {
            // An unlink may report a failure after it landed (an I/O error after the directory changed): looked at
            // again. Taken at its word, the record was deleted and the RMV failed while the thread was gone, its
            // upload files left with neither thread nor record, each read as a thread by the next open.
            const there = await lstat(pathIn(ctx, title)).then(() => true, (r: unknown) => (isEnoent(r) ? false : undefined));
            if (there === false) ctx.warn(`thread ${title}'s file was deleted though its unlink reported ${errorCode(e)}`);
            else {
              // Without a record, or with the file there and the record deleted again, nothing changed: the RMV fails.
              if (intent === undefined || (there && (await ctx.disk.run(() => clearIntent(dir, intent))))) throw e;
              // A record left behind (kept too when the file cannot be looked at) is rolled forward by every open until
              // one can delete it, deleting the thread's file whatever was added to it meanwhile: the removal is
              // decided. The thread goes now (its name and its uploads' held till then), so that nothing acknowledged
              // after this RMV is lost at that start, and the RMV is answered done: answered failed, the thread was
              // gone all the same, now and after the restart.
              forgetRemoved(title, stored, true);
              ctx.warn(
                `thread ${title} removed, but ${there ? `neither its file nor its intent record ${intent} could be deleted` : `its file could be neither deleted nor looked at, so its intent record ${intent} is kept`} (${errorCode(e)}): ` +
                  `its file and uploads are deleted at the next start; until then its title and its uploads' names are taken`,
              );
              return E.right({ filenames, intent: undefined, incarnation });
            }
          }
          forgetRemoved(title, stored, intent !== undefined);
          return E.right({ filenames, intent, incarnation });
        });
        if (E.isLeft(removed)) return removed;
        const { filenames, intent, incarnation } = removed.right;
        // Not when the record must stay as it is (the thread's file still there): deleteUploads ends it.
        if (intent !== undefined) await deleteUploads(intent, title, filenames);
        // Its uploads in flight could only be refused at commit, its downloads would keep the removed files'
        // disk until their end: stopped now, temporary files deleted and read handles closed.
        await inFlight.stopAll(title, incarnation, threadGone(title));
        return E.right(undefined);
      });
    });

  /**
   * Deletes removed thread `title`'s upload files `filenames`, then ends its intent record `intent`, with
   * only the thread's lock held; lets their names and the title go once the record has ended.
   */
  const deleteUploads = async (intent: string, title: string, filenames: readonly string[]): Promise<void> => {
    const leftovers: string[] = [];
    let ended = false;
    try {
      for (const f of filenames) {
        // Each deletion and sync counted as a write under way (disk-watch.ts): the thread's lock is held meanwhile.
        if (await deleteCounted(ctx, pathIn(ctx, uploadFileName(title, f)), (path) => ctx.disk.run(() => unlinkIfPresent(path)))) continue;
        // Kept from CRT and UPD until the next open deletes it (a record of it stays for that).
        contents.otherNames.add(uploadFileName(title, f));
        leftovers.push(f);
      }
      await ctx.disk.run(() => syncDir(dir));
      ended = await ctx.disk.run(() => keepOnlyLeftovers(intent, title, leftovers));
    } finally {
      // Not before: until the record has ended, the next open would delete a thread or upload file made
      // under one of these names. If it could not be ended, they all stay taken until that open has rolled
      // it forward. No namespace lock needed: a name only goes from taken to free here, in one synchronous step.
      if (ended) {
        for (const f of filenames) contents.countUpload(uploadFileName(title, f), -1);
        contents.holdRemoving(title, -1);
      }
    }
  };

  /**
   * Ends RMV's intent record `intent` while the thread's lock is still held: deleted, or, when upload
   * files `leftovers` could not be deleted, rewritten in place (one rename) as a record naming only
   * them. Left as it was, the next open would delete the thread's file again, by then maybe a newer
   * thread of the same title; so says whether it was ended (if not, the caller keeps the names taken).
   */
  const keepOnlyLeftovers = async (intent: string, title: string, leftovers: readonly string[]): Promise<boolean> => {
    const ended =
      leftovers.length > 0
        ? replaceIntent(dir, intent, { op: 'removeUploads', thread: title, filenames: [...leftovers] })
        : unlinkIfPresent(join(dir, intent)).then(() => syncDir(dir));
    return ended.then(() => true, () => false);
  };

  return { createThread, removeThread };
};
