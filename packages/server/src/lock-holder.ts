/**
 * A data-directory lock as its holder keeps it: renewed, checked before
 * each write, found lost (another server's record in the file, or no file)
 * and then refusing every write, and released.
 */
import { systemErrorCode } from 'forum-protocol';
import { deleteIfOursSync, type LockFs } from './lock-fs.js';
import { holderOf } from './lock-record.js';

/** A lock held on a data directory. */
export interface DataDirLock {
  /** For the log: the stale lock this one replaced (a server killed without cleaning up), if any. */
  readonly tookOver: string | undefined;
  /**
   * Aborted once the lock is found lost (another server's record in the
   * file, the file deleted, or unreadable for `staleMs`): its `reason` is a
   * {@link DataDirLockLostError} naming what was found. The server must then
   * write nothing more to the directory and stop.
   */
  readonly lost: AbortSignal;
  /**
   * Whether the lock is still this holder's now: the lock file is read and
   * compared (calls made while a read is under way share the next one, which
   * starts after them). A write to the directory goes ahead only on `true`;
   * `false` once the lock is lost or released. Rejects with a
   * {@link DataDirLockUnreadableError} when the file cannot be read now (EMFILE,
   * EIO, a read slower than {@link SLOW_READ_MS} three times running) and was
   * read as this holder's less than `staleMs` ago: nobody can tell, so no
   * write goes ahead, but the lock is not lost either.
   */
  held(): Promise<boolean>;
  /** Gives the directory up (the lock file is deleted if it is still this holder's). */
  release(): Promise<void>;
  /**
   * Gives the directory up synchronously, for a process that exits right
   * after without waiting for its writes (a second stop signal): the lock
   * file is deleted if it is still this holder's, whatever `release` or
   * check is under way. The writes it cuts short are the next start's
   * recovery, as after a crash; a lock left behind would be the next
   * start's to judge (by pid, or up to `staleMs` of renewals in a restarted
   * container).
   */
  abandon(): void;
}

/** The error a lost lock's {@link DataDirLock.lost} is aborted with (`code` `ERR_DATA_DIR_LOCK_LOST`). */
export class DataDirLockLostError extends Error {
  readonly code = 'ERR_DATA_DIR_LOCK_LOST';
  constructor(message: string) {
    super(message);
    this.name = 'DataDirLockLostError';
  }
}

/**
 * The lock file could not be read (`code` `ERR_DATA_DIR_LOCK_UNREADABLE`):
 * whether it is still this holder's is unknown, not false. Attack round 18
 * (attack/fd-exhaustion.ts): out of descriptors, the holder answered 190
 * writes "this server no longer holds the data directory lock" while it did.
 */
export class DataDirLockUnreadableError extends Error {
  readonly code = 'ERR_DATA_DIR_LOCK_UNREADABLE';
  constructor(message: string) {
    super(message);
    this.name = 'DataDirLockUnreadableError';
  }
}

/**
 * How long a read of the lock may take and still count, ms. A read answered
 * just before the process was frozen (SIGSTOP, a paused container) is seen
 * only when it wakes, maybe after another server took the lock over: a write
 * let through on it would land beside that server's (attack round 9). Such a
 * read is made again; a local read takes well under a millisecond.
 */
export const SLOW_READ_MS = 1_000;

/** What {@link holding} needs of the lock's settings and of the code that took it. */
export interface HolderSettings {
  readonly fs: LockFs;
  /** How often the lock's modification time is renewed, ms. */
  readonly renewMs: number;
  /** How long an unreadable lock file is held before it counts as lost, ms (others may judge it stale from then). */
  readonly staleMs: number;
  /** Creates the lock file holding this holder's record again if the name is free; whether it did. */
  readonly recreate: () => Promise<boolean>;
  /** Told when the lock is released (after its file, if still this holder's, is deleted). */
  readonly onRelease: () => void;
}

/**
 * The lock `path`, just created holding `mine`: renewed every
 * `renewMs` while it is ours, and checked before every write (`held`). Found
 * holding another's record, it is lost: another server judged it stale (this
 * one was frozen, its clock jumped, or a container went unrenewed for
 * `staleMs`) and may already be writing. Found deleted, it is lost too,
 * though nobody holds it now: another server may have held it meanwhile
 * (started and stopped while this one was frozen) and changed files this
 * one's cache still holds the old state of, which its next write would put
 * back. So it is created again, exclusively, only to keep a server starting
 * now from opening the directory (whose recovery would undo this one's
 * writes in flight) while those finish and the holder stops; `release`
 * deletes it. A file that cannot be read (EIO, EACCES) refuses the writes
 * meanwhile, and is lost once unread for `staleMs`: others may judge it stale
 * from then.
 */
export const holding = (h: HolderSettings, path: string, mine: string, tookOver: string | undefined): DataDirLock => {
  const lost = new AbortController();
  let released = false;
  // When the file last read as ours, by this process's clock (see STALE_MS): the clock of an unreadable file.
  let verifiedAt = performance.now();
  const lose = (why: string): void => {
    clearInterval(renewal);
    lost.abort(new DataDirLockLostError(`lost the data directory lock ${path}: ${why}; this server stops so that two servers never write the directory`));
  };
  const verify = async (slowReads = 0): Promise<boolean> => {
    if (released || lost.signal.aborted) return false;
    const began = performance.now();
    let text: string | undefined;
    try {
      text = await h.fs.readFile(path);
    } catch (e) {
      if (systemErrorCode(e) !== 'ENOENT') {
        const unread = performance.now() - verifiedAt;
        const why = e instanceof Error ? e.message : String(e);
        if (unread < h.staleMs) throw new DataDirLockUnreadableError(`the data directory lock ${path} could not be read (${why}): the write is refused, not lost; try again`);
        if (!lost.signal.aborted) lose(`it could not be read for ${Math.round(unread / 1000)} s (${why}), and other servers may judge it stale`);
        return false;
      }
    }
    if (released || lost.signal.aborted) return false;
    if (text === mine) {
      // Read again (SLOW_READ_MS); a disk this slow three times running refuses the write, without losing the lock.
      if (performance.now() - began > SLOW_READ_MS) {
        if (slowReads < 3) return verify(slowReads + 1);
        throw new DataDirLockUnreadableError(`the data directory lock ${path} took over ${SLOW_READ_MS / 1000} s to read ${slowReads + 1} times running: the write is refused, not lost; try again`);
      }
      verifiedAt = performance.now();
      return true;
    }
    if (text !== undefined) {
      lose(`it now names ${holderOf(text)}, which took the directory over`);
      return false;
    }
    // Held again only while this one stops (see above); if another was quicker, it keeps it. Before the
    // loss is told: the stop it starts ends in `release`, which must find the file to delete it.
    const again = await h.recreate().catch(() => false);
    if (released) {
      // Released meanwhile (a stop under way): not left behind.
      if (again) await h.fs.unlink(path).catch(() => undefined);
      return false;
    }
    if (!lost.signal.aborted) lose('the lock file was deleted while this server held it, and another server may have used the directory meanwhile');
    return false;
  };
  // Calls during a read share the next one, which starts after them: a write goes ahead only on a read begun after it asked.
  let current: Promise<boolean> | undefined;
  let next: Promise<boolean> | undefined;
  const held = (): Promise<boolean> => {
    if (current === undefined) {
      current = verify()
        .catch((e: unknown) => (e instanceof DataDirLockUnreadableError ? Promise.reject(e) : false))
        .finally(() => {
          current = undefined;
        });
      return current;
    }
    const again = (): Promise<boolean> => {
      next = undefined;
      return held();
    };
    next ??= current.then(again, again);
    return next;
  };
  // Renewed while it is ours (see STALE_MS); the timer keeps no process alive.
  const renewal = setInterval(() => {
    void held().then(
      async (ours) => {
        if (ours) await h.fs.touch(path).catch(() => undefined);
      },
      // Unreadable now: not renewed this time (lost once unread for staleMs, in `verify`).
      () => undefined,
    );
  }, h.renewMs);
  renewal.unref();
  return {
    tookOver,
    lost: lost.signal,
    held,
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(renewal);
      // Only our own (and the one held again while stopping): a lock another server took over meanwhile stays.
      if ((await h.fs.readFile(path).catch(() => '')) === mine) await h.fs.unlink(path).catch(() => undefined);
      h.onRelease();
    },
    abandon: () => {
      released = true;
      clearInterval(renewal);
      // Only our own, as `release`: a lock another server took over meanwhile stays.
      deleteIfOursSync(h.fs, path, mine);
      h.onRelease();
    },
  };
};
