/**
 * One server per data directory. The file store caches the directory and
 * writes through, and on start it undoes or finishes what its journal and
 * intent records say a crash cut short: a second server on the same directory
 * would roll back the first one's writes in flight and each would overwrite
 * the other's files from a stale cache. So a server holds a lock file naming
 * its process id while it runs; another refuses to start on the directory
 * while that process lives, and takes over a lock whose process is gone (a
 * server killed with SIGKILL), saying so.
 */
import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, realpath, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';

/** The lock file's name in the data directory (a leading dot: no thread or upload can take it). */
export const LOCK_FILE = '.forum-server.lock';

/** A lock held on a data directory. */
export interface DataDirLock {
  /** For the log: the stale lock this one replaced (a server killed without cleaning up), if any. */
  readonly tookOver: string | undefined;
  /** Gives the directory up (the lock file is deleted). */
  release(): Promise<void>;
}

const codeOf = (e: unknown): unknown => (e as { code?: unknown }).code;

// The locks this process holds (by the directory's real path). A lock file naming this process's id
// is taken for a stale one (a restart as the same pid), so a second server started in this process
// on the same directory would take it over, and the first one's stop delete it under the second.
const heldHere = new Set<string>();

/** Whether process `pid` runs: signal 0 checks without sending anything (EPERM: it runs, as another user). */
const running = (pid: number): boolean => {
  // This process's own id in a stale file: a server restarted as the same pid (PID 1 in a container).
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return codeOf(e) === 'EPERM';
  }
};

/** The process id a lock file holds, `undefined` if it holds none (empty: a server killed as it wrote it). */
const holderOf = (text: string): number | undefined => {
  const m = /^([0-9]{1,10})\n?$/.exec(text);
  return m === null ? undefined : Number(m[1]);
};

/**
 * Creates the lock file holding this process's id, whole or not at all: the
 * id is written to a file of its own and linked to the lock's name, which
 * fails if the name exists. (Created empty and written after, a server
 * starting beside it read the empty file as a dead server's, deleted it and
 * took the lock too: both held it in 5 of 10 starts side by side.)
 */
const created = async (path: string): Promise<boolean> => {
  const own = `${path}.${process.pid}.${randomUUID()}`;
  await writeFile(own, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
  try {
    await link(own, path);
    return true;
  } catch (e) {
    if (codeOf(e) === 'EEXIST') return false;
    throw e;
  } finally {
    await unlink(own).catch(() => undefined);
  }
};

/**
 * Removes the stale lock whose text was `stale`, and only that one. Deleted
 * by name, a lock another server had meanwhile replaced went with it, and
 * both servers held the directory. So a takeover holds a guard of its own
 * (`LOCK.takeover`, created as the lock is): under it the lock can only be
 * the stale one (nobody else deletes it, and a name that exists cannot be
 * linked over), and it is checked once more before it is deleted. A guard
 * whose process is gone (killed in these few milliseconds) goes the same
 * way, unguarded: two crashes in a row.
 */
const removedStale = async (path: string, stale: string): Promise<void> => {
  const guard = `${path}.takeover`;
  if (!(await created(guard))) {
    const text = await readFile(guard, 'utf8').catch(() => undefined);
    const holder = text === undefined ? undefined : holderOf(text);
    if (text !== undefined && (holder === undefined || !running(holder))) {
      if ((await readFile(guard, 'utf8').catch(() => undefined)) === text) await unlink(guard).catch(() => undefined);
    } else {
      // Another server is taking over: it is done within milliseconds.
      await delay(5);
    }
    return;
  }
  try {
    if ((await readFile(path, 'utf8').catch(() => undefined)) === stale) await unlink(path).catch(() => undefined);
  } finally {
    await unlink(guard).catch(() => undefined);
  }
};

/**
 * Takes the lock of data directory `dir` (creating the directory if needed).
 * Rejects with a readable error when a running process holds it.
 */
export const lockDataDir = async (dir: string): Promise<DataDirLock> => {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    // mkdir's own words for a file in the way ("EEXIST: file already exists, mkdir") name the wrong problem.
    if (codeOf(e) === 'EEXIST' || codeOf(e) === 'ENOTDIR') throw new Error('not a directory');
    throw e;
  }
  const path = join(dir, LOCK_FILE);
  const here = await realpath(dir);
  if (heldHere.has(here)) throw new Error(`in use by a server of this process (${path}); one server per data directory`);
  // Held from here on, not only once taken: two starts in this process at once would otherwise both see
  // the other's fresh lock, naming this process, as stale.
  heldHere.add(here);
  try {
    return await takeLock(path, here);
  } catch (e) {
    heldHere.delete(here);
    throw e;
  }
};

/** {@link lockDataDir}'s loop: the lock file of `here` at `path` taken, or a readable refusal. */
const takeLock = async (path: string, here: string): Promise<DataDirLock> => {
  let tookOver: string | undefined;
  // A stale lock is removed and the lock taken again; servers starting together wait for each other's takeover.
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await created(path)) {
      let released = false;
      return {
        tookOver,
        release: async () => {
          if (released) return;
          released = true;
          // Only our own: a lock another server took over meanwhile stays.
          const text = await readFile(path, 'utf8').catch(() => '');
          if (holderOf(text) === process.pid) await unlink(path).catch(() => undefined);
          heldHere.delete(here);
        },
      };
    }
    const text = await readFile(path, 'utf8').catch(() => undefined);
    // Gone since the link failed (its server stopped, or another took it over): try again.
    if (text === undefined) continue;
    const holder = holderOf(text);
    if (holder !== undefined && running(holder)) {
      throw new Error(`in use by forum-server process ${holder} (${path}); one server per data directory`);
    }
    tookOver = `Took over the data directory lock ${path}, left by ${holder === undefined ? 'a server killed as it started' : `process ${holder}, which is no longer running`}`;
    await removedStale(path, text);
  }
  throw new Error(`could not take ${path}: other servers are starting on it`);
};
