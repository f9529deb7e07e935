import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isNoHardLinks } from './no-hard-links.js';

/** Prefix of every temporary file the data-directory store creates (and of intent records' `temp`). */
export const TEMP_PREFIX = '.forum-tmp-';

/**
 * What follows {@link TEMP_PREFIX} in a temporary file's name, before its 16
 * random hex digits: the mark that the store made it. An open deletes only
 * names of that exact shape ({@link isOwnTempName}); any `.forum-tmp-*`
 * name was deleted before, another program's files of the prefix with it.
 */
export const TEMP_MARK = 'forum-server-';

// Also the shape earlier versions made (no mark, `.forum-tmp-` and 16 hex digits): a server upgraded after a
// crash would otherwise keep their temporary files, whole uploads perhaps, forever.
const OWN_TEMP = /^\.forum-tmp-(?:forum-server-)?[0-9a-f]{16}$/;

/** Whether `name` is a temporary file's name as {@link tempPath} makes them, or as versions before the mark did (a leftover of this store's to delete). */
export const isOwnTempName = (name: string): boolean => OWN_TEMP.test(name);

/** A fresh temporary path in `dir` (a dot file, so no valid thread or upload name can clash with it). */
export const tempPath = (dir: string): string => join(dir, `${TEMP_PREFIX}${TEMP_MARK}${randomBytes(8).toString('hex')}`);

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

/** A new temporary file of `dir` holding `data`, synced; its path. Removed again if writing it fails. */
const writeSyncedTemp = async (dir: string, data: string | Uint8Array): Promise<string> => {
  const tmp = tempPath(dir);
  const h = await open(tmp, 'wx', 0o644);
  try {
    try {
      await h.writeFile(data);
      await h.sync();
    } finally {
      await h.close();
    }
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  return tmp;
};

/**
 * Creates `dir/name` holding `data`, whole, unless the name exists (then
 * `false`): written to a temporary file, synced, and linked to the name,
 * which fails if something is there. A file that appeared under the name
 * since the caller looked (another writer's: a server that lost the
 * directory, woken mid-CRT, attack round 9) is not replaced. Without hard
 * links the temporary file is renamed (replacing, as before).
 */
export const createFileAtomic = async (dir: string, name: string, data: string | Uint8Array): Promise<boolean> => {
  const tmp = await writeSyncedTemp(dir, data);
  try {
    try {
      await link(tmp, join(dir, name));
    } catch (e) {
      if ((e as { code?: unknown }).code === 'EEXIST') return false;
      if (!isNoHardLinks(e)) throw e;
      await rename(tmp, join(dir, name));
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  await syncDir(dir);
  return true;
};

/**
 * Replaces `dir/name` with `data` so that a crash at any instant leaves either
 * the old file or the new one: write a temporary file, fsync it, rename over.
 */
export const writeFileAtomic = async (dir: string, name: string, data: string | Uint8Array): Promise<void> => {
  const tmp = await writeSyncedTemp(dir, data);
  try {
    await rename(tmp, join(dir, name));
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await syncDir(dir);
};
