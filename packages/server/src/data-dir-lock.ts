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
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
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
  let tookOver: string | undefined;
  // A stale lock is deleted and the lock taken again; twice more at most, should servers start together.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const file = await open(path, 'wx', 0o644);
      try {
        await file.writeFile(`${process.pid}\n`);
      } finally {
        await file.close();
      }
      return {
        tookOver,
        release: async () => {
          // Only our own: a lock another server took over meanwhile stays.
          const text = await readFile(path, 'utf8').catch(() => '');
          if (holderOf(text) === process.pid) await unlink(path).catch(() => undefined);
        },
      };
    } catch (e) {
      if (codeOf(e) !== 'EEXIST') throw e;
    }
    const text = await readFile(path, 'utf8').catch(() => '');
    const holder = holderOf(text);
    if (holder !== undefined && running(holder)) {
      throw new Error(`in use by forum-server process ${holder} (${path}); one server per data directory`);
    }
    tookOver = `Took over the data directory lock ${path}, left by ${holder === undefined ? 'a server killed as it started' : `process ${holder}, which is no longer running`}`;
    await unlink(path).catch((err: unknown) => {
      if (codeOf(err) !== 'ENOENT') throw err;
    });
  }
  throw new Error(`could not take ${path}: other servers are starting on it`);
};
