import { randomBytes } from 'node:crypto';
import { link, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stats } from 'node:fs';
import { isEnoent } from './file-errors.js';
import { isNoHardLinks } from './no-hard-links.js';

/**
 * Mode of a new file of the forum's public content (a thread, an upload, an
 * intent record naming them), less the umask: what any forum user may read.
 */
export const PUBLIC_FILE_MODE = 0o644;

/**
 * Mode of a new file only the operator may read (`credentials.txt`, which
 * holds plain passwords by default, `.forum-account-origins`, which holds
 * client addresses, the undo journal, which holds the bytes a change
 * replaced), less the umask. At 0644, as they were made before, any local
 * user could read every password.
 */
export const PRIVATE_FILE_MODE = 0o600;

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

/**
 * Gives the open file `h` the mode and group of `old`, the file it is to
 * replace: an operator's choice (0640 and a group for a backup tool, 0600)
 * stays through every rewrite, where a temporary file made 0644 widened
 * `credentials.txt` at the first password changed or crash undone. The
 * group is changed only to one of this process's (else EPERM); a file it
 * cannot give the old group loses the group's bits rather than hand them to
 * another group. Before any byte is written: the bytes never sit in a file
 * wider than the one they replace.
 */
const takeModeOf = async (h: FileHandle, old: Stats): Promise<void> => {
  let mode = old.mode & 0o777;
  const { gid } = await h.stat();
  if (gid !== old.gid) {
    try {
      await h.chown(-1, old.gid);
    } catch {
      mode &= ~0o070;
    }
  }
  // A file system that refuses modes (some FUSE and network mounts) leaves the file owner-only, as it was made:
  // never wider than the old one, and no reason to refuse the write.
  await h.chmod(mode).catch(() => undefined);
};

/** What is at `path` now, or `undefined` if nothing is (any other failure is thrown). */
const statIfPresent = (path: string): Promise<Stats | undefined> => stat(path).catch((e: unknown) => (isEnoent(e) ? undefined : Promise.reject(e)));

/**
 * A new temporary file of `dir` holding `data`, synced; its path. Removed
 * again if writing it fails. Its mode: `old`'s if given (the file it is to
 * replace; made owner-only until then), else `mode` less the umask.
 */
const writeSyncedTemp = async (dir: string, data: string | Uint8Array, mode: number, old?: Stats): Promise<string> => {
  const tmp = tempPath(dir);
  const h = await open(tmp, 'wx', old === undefined ? mode : PRIVATE_FILE_MODE);
  try {
    try {
      if (old !== undefined) await takeModeOf(h, old);
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
 * links the temporary file is renamed (replacing, as before). Made `mode`
 * less the umask ({@link PUBLIC_FILE_MODE} unless told).
 */
export const createFileAtomic = async (dir: string, name: string, data: string | Uint8Array, mode: number = PUBLIC_FILE_MODE): Promise<boolean> => {
  const tmp = await writeSyncedTemp(dir, data, mode);
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
 * The new file keeps the mode (and group) of the one it replaces; one made
 * where there was none gets `newMode` less the umask. No default: each caller
 * says whether what it writes is the forum's public content
 * ({@link PUBLIC_FILE_MODE}) or the operator's alone ({@link PRIVATE_FILE_MODE}).
 */
export const writeFileAtomic = async (dir: string, name: string, data: string | Uint8Array, newMode: number): Promise<void> => {
  const tmp = await writeSyncedTemp(dir, data, newMode, await statIfPresent(join(dir, name)));
  try {
    await rename(tmp, join(dir, name));
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await syncDir(dir);
};
