import * as E from 'fp-ts/lib/Either.js';
import type * as TE from 'fp-ts/lib/TaskEither.js';
import { open, stat } from 'node:fs/promises';
import type { NoFileError, StoreError } from '../store/errors.js';
import { isEnoent } from './file-errors.js';
import { attempt, noThread, pathIn, type FileStoreContext } from './file-store-context.js';
import type { Download, ForumStore, UploadStat } from '../store/store.js';
import { threadGone, type ThreadIncarnation } from '../store/thread-incarnations.js';
import { hasUpload, uploadFileName } from '../store/thread.js';

/** DWN in the file store whose shared state is `ctx`: an upload's size, and its file opened for reading. */
export const fileStoreDownloads = (ctx: FileStoreContext): Pick<ForumStore, 'statUpload' | 'openDownload'> => {
  const { contents, inFlight } = ctx;

  /** The upload's path and its thread's incarnation, or why there is none. */
  const locateUpload = (title: string, filename: string): E.Either<StoreError | NoFileError, { readonly path: string; readonly incarnation: ThreadIncarnation }> => {
    const thread = contents.threads.get(title)?.thread;
    const incarnation = contents.incarnations.of(title);
    if (thread === undefined || incarnation === undefined) return E.left(noThread(title));
    if (!hasUpload(thread, filename)) return E.left({ kind: 'noFile', title, filename });
    return E.right({ path: pathIn(ctx, uploadFileName(title, filename)), incarnation });
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
      if (granted !== undefined && contents.incarnations.of(title) !== granted) return E.left(threadGone(title));
      const located = locateUpload(title, filename);
      if (E.isLeft(located)) return located;
      const { incarnation } = located.right;
      let h;
      try {
        h = await open(located.right.path, 'r');
      } catch (e) {
        // Gone with its thread, removed while the file was being opened.
        if (isEnoent(e)) return E.left(contents.incarnations.of(title) === incarnation ? { kind: 'noFile', title, filename } : threadGone(title));
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
      if (contents.incarnations.of(title) !== incarnation) {
        await h.close();
        return E.left(threadGone(title));
      }
      // The stream owns the handle: RMV unlinks the name, and the disk is freed only once the handle closes.
      const stream = h.createReadStream({ autoClose: true });
      // RMV of the thread stops the download: the handle closed (the removed file's disk freed), the receiver told.
      const stop = inFlight.addDownload(title, incarnation, stream);
      return E.right({ stream, size, stopped: stop.stopped });
    });

  return { statUpload, openDownload };
};
