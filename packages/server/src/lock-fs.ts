/** The file operations of the data-directory lock, and their `node:fs` implementation. */
import { readFileSync, unlinkSync } from 'node:fs';
import * as nodeFs from 'node:fs/promises';

/** The file operations the lock uses (a seam: tests simulate file systems without hard links). */
export interface LockFs {
  readonly link: (existing: string, path: string) => Promise<void>;
  readonly writeFile: (path: string, data: string, options: { readonly flag: 'wx'; readonly mode: number }) => Promise<void>;
  readonly readFile: (path: string) => Promise<string>;
  readonly unlink: (path: string) => Promise<void>;
  readonly mkdir: (path: string) => Promise<unknown>;
  readonly realpath: (path: string) => Promise<string>;
  /** The file's modification time, ms since the epoch. */
  readonly mtimeMs: (path: string) => Promise<number>;
  /** Sets the file's modification time to now (the holder's renewal). */
  readonly touch: (path: string) => Promise<void>;
  /** `readFile`, synchronously: for a process that exits right after, with no turn of the event loop left. */
  readonly readFileSync: (path: string) => string;
  /** `unlink`, synchronously (see `readFileSync`). */
  readonly unlinkSync: (path: string) => void;
}

/**
 * The lock's operations on `node:fs`, looked up at each call (not bound at import), so a test's module
 * mock of node:fs/promises reaches them.
 */
export const nodeLockFs: LockFs = {
  link: (existing, path) => nodeFs.link(existing, path),
  writeFile: (path, data, options) => nodeFs.writeFile(path, data, options),
  readFile: (path) => nodeFs.readFile(path, 'utf8'),
  unlink: (path) => nodeFs.unlink(path),
  mkdir: (path) => nodeFs.mkdir(path, { recursive: true }),
  realpath: (path) => nodeFs.realpath(path),
  mtimeMs: async (path) => (await nodeFs.stat(path)).mtimeMs,
  touch: async (path) => {
    const now = new Date();
    await nodeFs.utimes(path, now, now);
  },
  readFileSync: (path) => readFileSync(path, 'utf8'),
  unlinkSync: (path) => unlinkSync(path),
};

/**
 * Deletes the lock file at `path` synchronously if it still holds `mine` (a lock another server took over
 * stays), for a process about to exit at once. Gone already, not there yet, or out of reach: nothing more
 * such a process can do, so nothing is thrown.
 */
export const deleteIfOursSync = (fs: LockFs, path: string, mine: string): void => {
  try {
    if (fs.readFileSync(path) === mine) fs.unlinkSync(path);
  } catch {
    // Not there (not created yet, released, or deleted), or out of reach.
  }
};
