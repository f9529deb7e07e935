/**
 * The local side of a download: the temporary file it is written to, the sweep of those a killed client
 * left, the free space it must fit in, and putting the finished file in place without replacing another.
 */
import { randomBytes } from 'node:crypto';
import { link, lstat, readdir, rename, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isNoHardLinks } from 'forum-protocol';
import { errorCode } from './error-code.js';

/** Why a download would not replace a local file: the local name is taken and overwriting was not asked for. */
export class LocalFileExistsError extends Error {
  override readonly name = 'LocalFileExistsError';
  readonly code = 'EEXIST';
}

// A download goes to `.forum-download-PID-RANDOM.tmp` first. A client killed
// mid-transfer cannot delete its own; the PID in the name lets the next client
// started in that directory tell a dead client's leftover from a live one's.
const TEMP_NAME = /^\.forum-download-([1-9][0-9]{0,9})-[0-9a-f]{16}\.tmp$/;
/** A fresh temporary name for a download of this process (see `TEMP_NAME`). */
export const tempName = (): string => `.forum-download-${process.pid}-${randomBytes(8).toString('hex')}.tmp`;

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as another user.
    return errorCode(e) === 'EPERM';
  }
};

/**
 * Deletes the download temporaries in `dir` left by clients that no longer
 * run (killed mid-DWN); those of running clients are left alone. Resolves
 * with how many were deleted; never rejects.
 */
export const sweepStaleDownloads = async (dir: string): Promise<number> => {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const pid = Number(TEMP_NAME.exec(name)?.[1] ?? 0);
    if (pid === 0 || pid === process.pid || isRunning(pid)) continue;
    removed += await unlink(join(dir, name)).then(
      () => 1,
      () => 0,
    );
  }
  return removed;
};

/**
 * Bytes an unprivileged process may still write on the file system of `dir`; `undefined` if it cannot be
 * told. A file system of no blocks has no size to tell (df leaves it out): ramfs and tmpfs mounted with
 * size=0 (no limit) say 0 blocks and 0 available, and a download there was refused whatever its size.
 */
export const freeBytes = (dir: string): Promise<number | undefined> =>
  statfs(dir).then(
    (s) => (s.blocks === 0 ? undefined : s.bavail * s.bsize),
    () => undefined,
  );

/**
 * Puts the finished temporary file in place as `dest`. Without `overwrite` a
 * hard link is made and the temporary removed: unlike a rename, the link
 * fails if `dest` appeared meanwhile, so a file is never silently replaced.
 */
export const putInPlace = async (tmp: string, dest: string, overwrite: boolean): Promise<void> => {
  if (overwrite) return rename(tmp, dest);
  try {
    await link(tmp, dest);
  } catch (e) {
    if (errorCode(e) === 'EEXIST') throw new LocalFileExistsError(`${dest} exists`);
    // A file system without hard links (FAT, some network mounts): check, then rename.
    if (!isNoHardLinks(e)) throw e;
    if (await lstat(dest).then(() => true, () => false)) throw new LocalFileExistsError(`${dest} exists`);
    return rename(tmp, dest);
  }
  await unlink(tmp);
};
