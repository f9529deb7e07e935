/**
 * One server per data directory. The file store caches the directory and
 * writes through, and on start it undoes or finishes what its journal and
 * intent records say a crash cut short: a second server on the same directory
 * would roll back the first one's writes in flight and each would overwrite
 * the other's files from a stale cache. So a server holds a lock file while
 * it runs, naming its process id and where that id means something (host
 * name, boot id, process-id namespace); another refuses to start on the
 * directory while that process lives, and takes over a lock whose process is
 * provably gone (a server killed with SIGKILL), saying so. The holder renews
 * the lock's modification time every `RENEW_MS`: a lock of this host from an
 * earlier boot (last modified `STALE_MS` or more before this one began) is gone with that boot, and one of another container of this
 * boot (whose processes cannot be seen from here) is stale once it goes
 * unrenewed for `STALE_MS`. A lock from another host cannot be checked from
 * here and is refused, with the way to remove it. The holder checks the
 * lock before each write and at each renewal; found another's, or deleted,
 * it is lost and the server stops (`holding`).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { dirname, join } from 'node:path';
import { systemErrorCode } from 'forum-protocol';
import { deleteIfOursSync, nodeLockFs, type LockFs } from './lock-fs.js';
import { holding, type DataDirLock } from './lock-holder.js';
import { currentPlace, recordText, type LockPlace } from './lock-record.js';
import { verdictOf, type LockSighting, type Verdict } from './lock-verdict.js';
import { createWhole } from './no-hard-links.js';

export { nodeLockFs, type LockFs } from './lock-fs.js';
export { DataDirLockLostError, DataDirLockUnreadableError, type DataDirLock } from './lock-holder.js';
export { currentPlace, type LockPlace } from './lock-record.js';

/** The lock file's name in the data directory (a leading dot: no thread or upload can take it). */
export const LOCK_FILE = '.forum-server.lock';

/** Options of {@link lockDataDir}; the defaults are the real ones, tests replace them. */
export interface LockOptions {
  /** The file system (default `node:fs`). */
  readonly fs?: LockFs;
  /** Where this process runs (default: read from the host, once per process). */
  readonly place?: LockPlace;
  /** How long a lock file that holds no complete record counts as one being written (default 3000 ms). */
  readonly partialGraceMs?: number;
  /** How often the holder renews its lock's modification time (default `RENEW_MS`). */
  readonly renewMs?: number;
  /** How long a lock of another container of this host may go unrenewed before it is stale (default `STALE_MS`). */
  readonly staleMs?: number;
  /** Told once when the start waits to see whether such a lock is renewed (for the log). */
  readonly onWait?: (message: string) => void;
  /**
   * Gives the start up (a stop signal during start-up): a wait for another's
   * lock (up to `staleMs`) ends at once, a lock taken as it came is released,
   * and the promise rejects with an `AbortError`.
   */
  readonly signal?: AbortSignal;
  /**
   * While it answers true (the store's recovery writing under the lock as
   * the server starts), {@link abandonDataDirLocks} leaves this lock, as
   * `ForumServer.abandon` leaves one while a write is under way: the exit
   * runs the file operations already queued, and one on a slow or hung disk
   * would land after the lock file is gone, while a server waiting for it
   * recovers the directory. Left, the lock is judged by its pid (or its
   * renewals, in a restarted container).
   */
  readonly busy?: () => boolean;
}

/** How often a holder renews its lock (its modification time), ms. */
export const RENEW_MS = 5_000;

/**
 * How long a lock of another process-id namespace of this host and boot (a
 * container killed and started again gets a new one) may go unrenewed before
 * it counts as stale, ms: six renewals missed, so a server whose event loop
 * stalls for a while keeps its lock, and a restarted container waits at most
 * this long for its own lock instead of needing an operator.
 */
export const STALE_MS = 30_000;

let placeHere: Promise<LockPlace> | undefined;

// The locks this process holds or is taking (by the directory's real path), each with the way to give it
// up synchronously (`abandonDataDirLocks`). A lock file naming this process's id is taken for a stale one
// (a restart as the same pid), so a second server started in this process on the same directory would
// take it over, and the first one's stop delete it under the second.
const heldHere = new Map<string, () => void>();

/**
 * Gives up synchronously every data-directory lock this process holds or is
 * taking, each only if its file still holds this process's record (as
 * `DataDirLock.abandon`) and its holder is not busy writing under it
 * ({@link LockOptions.busy}), for a process about to exit at once: a second stop
 * signal while a start is being given up, when no server exists yet whose
 * `abandon` could be asked. A lock left behind would be the next start's to
 * judge (by pid, or up to `STALE_MS` of renewals in a restarted container).
 */
export const abandonDataDirLocks = (): void => {
  for (const abandon of [...heldHere.values()]) abandon();
};


/** The lock's file operations on one file system: create-whole and the judgement of what is found. */
interface Locker {
  readonly fs: LockFs;
  readonly here: LockPlace;
  readonly graceMs: number;
  readonly staleMs: number;
  readonly renewMs: number;
  readonly onWait: ((message: string) => void) | undefined;
  readonly signal: AbortSignal | undefined;
  readonly busy: (() => boolean) | undefined;
  /** When each text was first seen and its modification time then, per file (the clocks of its grace and renewals). */
  readonly seen: Map<string, { readonly text: string; readonly since: number; readonly mtimeMs: number | undefined }>;
}

/**
 * Creates the file `path` holding `content`, whole or not at all, `false` if
 * it exists: `content` is written to a file of its own and linked to the
 * name, which fails if the name exists. (Created empty and written after, a
 * server starting beside it read the empty file as a dead server's, deleted it
 * and took the lock too: both held it in 5 of 10 starts side by side.) On a
 * file system without hard links, the name is created exclusively and the
 * content written into it; readers then take a file without a whole record
 * for one being written (`partialGraceMs`), not for a dead server's.
 */
const created = async (l: Locker, path: string, content: string): Promise<boolean> =>
  (await createWhole(l.fs, path, `${path}.${process.pid}.${randomUUID()}`, content, 0o644)).created;

/**
 * {@link created}, the directory made again if it went since `lockDataDir`
 * made or found it: a start that failed removes the directory it made, once
 * empty and its lock released (start-leftovers.ts), and a start on the same
 * directory that came between was refused with ENOENT.
 */
const createdIn = async (l: Locker, path: string, content: string): Promise<boolean> => {
  try {
    return await created(l, path, content);
  } catch (e) {
    if (systemErrorCode(e) !== 'ENOENT') throw e;
    await l.fs.mkdir(dirname(path));
    return created(l, path, content);
  }
};

/** The verdict on the file `path` holding `text` (its clocks kept in `l`). */
const judged = async (l: Locker, path: string, text: string): Promise<Verdict> => {
  const mtimeMs = await l.fs.mtimeMs(path).catch(() => undefined);
  const first = l.seen.get(path);
  const again = first !== undefined && first.text === text;
  const since = again ? first.since : performance.now();
  const firstMtime = again ? first.mtimeMs : mtimeMs;
  l.seen.set(path, { text, since, mtimeMs: firstMtime });
  const sighting: LockSighting = {
    since,
    renewed: mtimeMs !== undefined && firstMtime !== undefined && mtimeMs !== firstMtime,
    ageMs: mtimeMs === undefined ? 0 : Math.max(0, Date.now() - mtimeMs),
  };
  return verdictOf(text, path, l.here, sighting, l.graceMs, l.staleMs, l.renewMs);
};

/**
 * Whether the takeover guard `guard`, found holding `text`, was left by a
 * takeover that never finished: its process is provably gone (judged as a
 * lock is), or it has been there `staleMs` (by its modification time, or as
 * long under watch here). A takeover holds its guard for milliseconds, and
 * a guard is never renewed: one of another container or host, or a record
 * cut short, would otherwise stop every start on the directory until an
 * operator deleted it. (Should its holder still be alive, frozen mid-takeover
 * that long, the lock it then deletes by name is the new holder's, which
 * notices and stops: `holding`.)
 */
const guardLeft = async (l: Locker, guard: string, text: string): Promise<string | undefined> => {
  const verdict = await judged(l, guard, text);
  if (verdict.kind === 'stale') return verdict.why;
  const mtimeMs = await l.fs.mtimeMs(guard).catch(() => undefined);
  const watched = performance.now() - (l.seen.get(guard)?.since ?? performance.now());
  const age = Math.max(mtimeMs === undefined ? 0 : Date.now() - mtimeMs, watched);
  if (age < l.staleMs) return undefined;
  // Judged a few milliseconds before, its record may have been just short of stale: judged again, its holder's
  // own account (whose process, where, unrenewed how long) goes in the log rather than the bare age.
  const again = await judged(l, guard, text);
  return again.kind === 'stale' ? again.why : `a takeover that did not finish within ${Math.round(age / 1000)} s`;
};

/**
 * Removes the stale lock whose text was `stale`, and only that one. Deleted
 * by name, a lock another server had meanwhile replaced went with it, and
 * both servers held the directory. So a takeover holds a guard of its own
 * (`LOCK.takeover`, created as the lock is): under it the lock can only be
 * the stale one (nobody else deletes it, and a name that exists cannot be
 * created again), and it is checked once more before it is deleted. A guard
 * found there is waited for while another takeover may be using it, and
 * deleted once left over (`guardLeft`; the log says so). `'waiting'`: another
 * takeover's guard is there (not counted against the caller's attempts:
 * bounded by `staleMs`).
 */
const removedStale = async (l: Locker, path: string, stale: string): Promise<{ readonly kind: 'done' | 'waiting' } | { readonly kind: 'guard-removed'; readonly why: string }> => {
  const guard = `${path}.takeover`;
  if (!(await created(l, guard, recordText(process.pid, l.here)))) {
    const text = await l.fs.readFile(guard).catch(() => undefined);
    if (text === undefined) return { kind: 'done' };
    const left = await guardLeft(l, guard, text);
    if (left !== undefined) {
      if ((await l.fs.readFile(guard).catch(() => undefined)) === text) await l.fs.unlink(guard).catch(() => undefined);
      return { kind: 'guard-removed', why: left };
    }
    // Another server is taking over: it is done within milliseconds.
    await delay(5, undefined, { signal: l.signal });
    return { kind: 'waiting' };
  }
  try {
    if ((await l.fs.readFile(path).catch(() => undefined)) === stale) await l.fs.unlink(path).catch(() => undefined);
  } finally {
    await l.fs.unlink(guard).catch(() => undefined);
  }
  return { kind: 'done' };
};

/** Makes the directory `dir` (if needed), once more if it went before its real path was read; its real path. */
const madeAndFound = async (fs: LockFs, dir: string): Promise<string> => {
  for (let attempt = 1; ; attempt++) {
    try {
      await fs.mkdir(dir);
    } catch (e) {
      // mkdir's own words for a file in the way ("EEXIST: file already exists, mkdir") name the wrong problem.
      if (systemErrorCode(e) === 'EEXIST' || systemErrorCode(e) === 'ENOTDIR') throw new Error('not a directory');
      throw e;
    }
    try {
      return await fs.realpath(dir);
    } catch (e) {
      // A start that failed removes the directories it made (start-leftovers.ts), and its rmdir may land between
      // this mkdir and this realpath, as between it and the lock file's create (`createdIn`).
      if (systemErrorCode(e) !== 'ENOENT' || attempt >= 3) throw e;
    }
  }
};

/**
 * Takes the lock of data directory `dir` (creating the directory if needed).
 * Rejects with a readable error when a running process holds it, or one that
 * cannot be checked from here (another host, container or boot).
 */
export const lockDataDir = async (dir: string, options: LockOptions = {}): Promise<DataDirLock> => {
  const fs = options.fs ?? nodeLockFs;
  const path = join(dir, LOCK_FILE);
  const here = await madeAndFound(fs, dir);
  if (heldHere.has(here)) throw new Error(`in use by a server of this process (${path}); one server per data directory`);
  // Held from here on, not only once taken: two starts in this process at once would otherwise both see
  // the other's fresh lock, naming this process, as stale.
  heldHere.set(here, () => undefined);
  let lock: DataDirLock;
  try {
    const place = options.place ?? (await (placeHere ??= currentPlace()));
    const l = { fs, here: place, graceMs: options.partialGraceMs ?? 3000, staleMs: options.staleMs ?? STALE_MS, renewMs: options.renewMs ?? RENEW_MS, onWait: options.onWait, signal: options.signal, busy: options.busy, seen: new Map() };
    lock = await takeLock(l, path, here);
  } catch (e) {
    heldHere.delete(here);
    throw e;
  }
  if (options.signal?.aborted === true) {
    await lock.release();
    options.signal.throwIfAborted();
  }
  return lock;
};

/** {@link lockDataDir}'s loop: the lock file of `dir` at `path` taken, or a readable refusal. */
const takeLock = async (l: Locker, path: string, dir: string): Promise<DataDirLock> => {
  let tookOver: string | undefined;
  let guardNote = '';
  let waited = false;
  const mine = recordText(process.pid, l.here);
  // From before the first create: one that lands just as the process is told to exit at once is still given up.
  heldHere.set(dir, () => deleteIfOursSync(l.fs, path, mine));
  // A stale lock is removed and the lock taken again; servers starting together wait for each other's
  // takeover. A lock being written is waited for too, up to its grace (then it is stale), and another
  // container's up to STALE_MS for a renewal (then it is stale): the bound is on the attempts that found
  // something else.
  for (let attempt = 0; attempt < 200; ) {
    l.signal?.throwIfAborted();
    if (await createdIn(l, path, mine)) {
      const lock = holding({ fs: l.fs, renewMs: l.renewMs, staleMs: l.staleMs, recreate: () => created(l, path, mine), onRelease: () => heldHere.delete(dir) }, path, mine, tookOver);
      heldHere.set(dir, () => {
        if (l.busy?.() !== true) lock.abandon();
      });
      return lock;
    }
    let unreadable: unknown;
    const text = await l.fs.readFile(path).catch((e: unknown) => {
      if (systemErrorCode(e) !== 'ENOENT') unreadable = e;
      return undefined;
    });
    // Something in the way that is no lock file (a directory, a file this user may not read): no attempt
    // changes that. (Attack round 9: a directory there used the 200 attempts in milliseconds and the
    // start failed with advice to delete a takeover guard that did not exist.)
    if (unreadable !== undefined) {
      throw new Error(`cannot read the lock file ${path} (${unreadable instanceof Error ? unreadable.message : String(unreadable)}); if no server uses the directory, remove it and start again`);
    }
    // Gone since the create failed (its server stopped, or another took it over): try again.
    if (text === undefined) {
      attempt++;
      continue;
    }
    const verdict = await judged(l, path, text);
    if (verdict.kind === 'held') throw new Error(verdict.why);
    if (verdict.kind === 'being-written') {
      await delay(20, undefined, { signal: l.signal });
      continue;
    }
    if (verdict.kind === 'unrenewed') {
      if (!waited) l.onWait?.(`The data directory lock ${path} is another container's; waiting up to ${Math.round(l.staleMs / 1000)} s to see whether it is renewed`);
      waited = true;
      await delay(Math.min(500, l.renewMs / 4), undefined, { signal: l.signal });
      continue;
    }
    tookOver = `Took over the data directory lock ${path}, left by ${verdict.why}${guardNote}`;
    const removed = await removedStale(l, path, text);
    if (removed.kind === 'waiting') continue;
    attempt++;
    if (removed.kind === 'guard-removed') {
      guardNote = ` (and its takeover guard ${path}.takeover, left by ${removed.why})`;
      tookOver += guardNote;
    }
  }
  throw new Error(`could not take ${path}: other servers are starting on it (if none is, delete ${path}.takeover)`);
};
