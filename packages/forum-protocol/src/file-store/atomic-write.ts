import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Prefix of every temporary file the data-directory store creates; such files are deleted when a store opens. */
export const TEMP_PREFIX = '.forum-tmp-';

/** A fresh temporary path in `dir` (a dot file, so no valid thread or upload name can clash with it). */
export const tempPath = (dir: string): string => join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);

/** Flushes a directory entry change to disk; best effort (some platforms cannot open a directory). */
export const syncDir = async (dir: string): Promise<void> => {
  try {
    const h = await open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // Durability of the rename is a bonus; atomicity does not depend on it.
  }
};

/**
 * Replaces `dir/name` with `data` so that a crash at any instant leaves either
 * the old file or the new one: write a temporary file, fsync it, rename over.
 */
export const writeFileAtomic = async (dir: string, name: string, data: string | Uint8Array): Promise<void> => {
  const tmp = tempPath(dir);
  try {
    const h = await open(tmp, 'wx', 0o644);
    try {
      await h.writeFile(data);
      await h.sync();
    } finally {
      await h.close();
    }
    await rename(tmp, join(dir, name));
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await syncDir(dir);
};
