/**
 * Writes to the data directory only while its lock is this server's. A
 * server that lost its lock (another took the directory over after judging
 * it stale) writes from a cache of what the directory held before: each of
 * its writes could put back what the other server changed. So every write
 * of the store first checks the lock (one read of the lock file, shared by
 * the writes asking at once), and is refused once it is lost; the writes
 * already under way are counted, so the server can let them finish (each
 * leaves the directory whole, as the file store writes it) before it lets go.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ForumStore, IoError } from 'forum-protocol';

/** fp-ts's `TaskEither`, structurally (this package does not depend on fp-ts). */
type Attempt<L, A> = () => Promise<{ readonly _tag: 'Left'; readonly left: L } | { readonly _tag: 'Right'; readonly right: A }>;

/** The store's error for a write refused because the lock is lost (the client is told the command failed). */
export const LOCK_LOST_ERROR: IoError = { kind: 'io', message: 'write refused: this server no longer holds the data directory lock' };

/**
 * The store's error for a write that ended after the lock was lost: the
 * server that took the directory over may have undone it (its recovery) or
 * written the file since, so it is not confirmed (it may or may not be there).
 */
export const LOCK_LOST_DURING_WRITE_ERROR: IoError = {
  kind: 'io',
  message: 'this server lost the data directory lock while writing: the change may or may not be stored',
  outcomeUnknown: 'data directory',
};

/**
 * The store's error for a write refused because the lock file could not be
 * read (out of descriptors, EIO): whether the lock is still this server's is
 * unknown, so nothing is written, but it is not lost either; the next write
 * reads it again.
 */
export const lockUnreadableError = (why: string): IoError => ({ kind: 'io', message: `write refused, nothing written: ${why}` });

/**
 * The store's error for a write whose lock could not be read once it was done,
 * nor {@link AFTER_WRITE_REREADS} times after: as
 * {@link LOCK_LOST_DURING_WRITE_ERROR}, it is not confirmed.
 */
export const lockUnreadableAfterWriteError = (why: string): IoError => ({
  kind: 'io',
  message: `the data directory lock could not be read once the write was done (${why}): the change may or may not be stored`,
  outcomeUnknown: 'data directory',
});

/** Times the lock is read again, {@link AFTER_WRITE_REREAD_MS} apart, when it could not be read once a write was done. */
export const AFTER_WRITE_REREADS = 3;
/** The pause before each of those reads, ms. */
export const AFTER_WRITE_REREAD_MS = 100;

/** How a write is fenced: see {@link fencedStore}'s `fenced`. */
interface FenceOptions<A> {
  readonly stallFirst?: boolean;
  readonly undo?: (written: A) => Promise<void>;
  readonly unchanged?: (written: A) => boolean;
}

/** A store's answer that it changed nothing: a create of a name that exists, a secret of no account. */
const isFalse = (written: boolean): boolean => !written;

/** A store whose writes wait for the lock's check, and a way to wait for those under way. */
export interface FencedStore {
  readonly store: ForumStore;
  /** Resolves once no write is under way (at once if none is). */
  idle(): Promise<void>;
  /** Whether a write is under way now (asked, checking the lock, or writing): for a process about to exit. */
  busy(): boolean;
}

/**
 * Wraps `store` so that each write (accounts, threads, messages, an upload's
 * beginning and its commit) runs only if `held()` answers `true` when the
 * write is asked for, and is confirmed only if it answers `true` again once
 * the write is done; reads and an upload's abort are not checked (an upload
 * whose commit is refused before it runs is aborted). `held()`
 * rejecting (the lock file could not be read) refuses the write too, with
 * its reason, not as a lock lost.
 */
export const fencedStore = (store: ForumStore, held: () => Promise<boolean>): FencedStore => {
  let running = 0;
  let wake: (() => void) | undefined;
  let idle: Promise<void> | undefined;
  /** `held()`, with a lock that could not be read (it rejects) told apart from one lost: its reason. */
  const check = (): Promise<boolean | string> => held().catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
  /**
   * `write`, fenced. With `stallFirst`, refused at once while the store says its disk stopped answering: the
   * lock's check reads the lock file on libuv's thread pool, which a few hung syncs fill, and would then never
   * answer. Not an upload's commit: refused here, its bytes and temporary file would be left to nobody. With
   * `undo`, a write that stores none of the user's change (an upload's beginning: a temporary file) is undone
   * when the lock cannot be confirmed after it, and answered as refused before it: nothing of the change may
   * be stored, so "may or may not be stored" was false (and the upload's writer was left open). With
   * `unchanged`, an answer saying the write changed nothing (a create of a name that exists: `false`) is given
   * whatever the lock's check after it says: nothing was written to be undone.
   */
  const fenced =
    <L, A>(write: () => Attempt<L, A>, { stallFirst = true, undo, unchanged }: FenceOptions<A> = {}): Attempt<L | IoError, A> =>
    async () => {
      const stalled = stallFirst ? store.diskStalled?.() : undefined;
      if (stalled !== undefined) return { _tag: 'Left', left: stalled };
      running++;
      try {
        const before = await check();
        if (before !== true) return { _tag: 'Left', left: before === false ? LOCK_LOST_ERROR : lockUnreadableError(before) };
        const written = await write()();
        if (written._tag === 'Left' || unchanged?.(written.right) === true) return written;
        // Checked again once written (attack round 9: a server frozen mid-write past its lock's takeover
        // finished the write after the new holder's recovery had undone it, and confirmed it to its client).
        let after = await check();
        // Unreadable once written (descriptors run out for a moment): read again before the change is answered
        // "may or may not be stored", which the client shows as the spec's failure line and retries, a MSG
        // then posted twice (attack round 18, fd-exhaustion: 5 of 5 such answers were stored).
        for (let i = 0; typeof after === 'string' && i < AFTER_WRITE_REREADS; i++) {
          await sleep(AFTER_WRITE_REREAD_MS);
          after = await check();
        }
        if (after === true) return written;
        if (undo !== undefined) {
          await undo(written.right);
          return { _tag: 'Left', left: after === false ? LOCK_LOST_ERROR : lockUnreadableError(after) };
        }
        return { _tag: 'Left', left: after === false ? LOCK_LOST_DURING_WRITE_ERROR : lockUnreadableAfterWriteError(after) };
      } finally {
        if (--running === 0) {
          wake?.();
          wake = undefined;
          idle = undefined;
        }
      }
    };
  const fencedStore: ForumStore = {
    warnings: store.warnings,
    ...(store.recovered === undefined ? {} : { recovered: store.recovered }),
    getAccount: (username) => store.getAccount(username),
    listAccounts: () => store.listAccounts(),
    ...(store.similarAccount === undefined ? {} : { similarAccount: (username: string) => store.similarAccount?.(username) }),
    ...(store.damagedAccount === undefined ? {} : { damagedAccount: (username: string) => store.damagedAccount?.(username) }),
    ...(store.diskStalled === undefined ? {} : { diskStalled: () => store.diskStalled?.() }),
    createAccount: (account) => fenced(() => store.createAccount(account), { unchanged: isFalse }),
    replaceAccountSecret: (username, secret) => fenced(() => store.replaceAccountSecret(username, secret), { unchanged: isFalse }),
    listThreads: () => store.listThreads(),
    getThread: (title) => store.getThread(title),
    createThread: (title, creator) => fenced(() => store.createThread(title, creator), { unchanged: isFalse }),
    updateThread: (title, update, actor) => fenced(() => store.updateThread(title, update, actor)),
    appendEntry: (title, entry, guard, actor) => fenced(() => store.appendEntry(title, entry, guard, actor)),
    changeMessage: (title, n, change, actor) => fenced(() => store.changeMessage(title, n, change, actor)),
    removeThread: (title, guard) => fenced(() => store.removeThread(title, guard)),
    checkUpload: (title, filename, uploader) => store.checkUpload(title, filename, uploader),
    beginUpload: (title, filename, uploader, incarnation, size) => async () => {
      const begun = await fenced(() => store.beginUpload(title, filename, uploader, incarnation, size), { undo: (writer) => writer.abort() })();
      if (begun._tag === 'Left') return begun;
      const writer = begun.right;
      // The bytes go to a temporary file of the upload's own; the commit puts them in place and writes the line.
      // Refused by the lock's check before it ran, it is aborted here: the server answers a refused commit and
      // aborts nothing, so its temporary file and its hold on its uploader's share (maxUserUploadBytes) were
      // left to nobody, the share's bytes held for as long as the server ran.
      const commit = async (): Promise<Awaited<ReturnType<typeof writer.commit>>> => {
        let ran = false;
        const done = await fenced(
          () => {
            ran = true;
            return writer.commit;
          },
          { stallFirst: false },
        )();
        if (!ran) await writer.abort();
        return done;
      };
      return { _tag: 'Right', right: { stream: writer.stream, commit, abort: writer.abort, stopped: writer.stopped } };
    },
    statUpload: (title, filename) => store.statUpload(title, filename),
    openDownload: (title, filename, incarnation) => store.openDownload(title, filename, incarnation),
  };
  return {
    store: fencedStore,
    idle: () => (running === 0 ? Promise.resolve() : (idle ??= new Promise<void>((resolve) => (wake = resolve)))),
    busy: () => running > 0,
  };
};
