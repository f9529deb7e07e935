import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { systemErrorCode } from 'forum-protocol';
import { namedFew } from './named-few.js';

/**
 * Warnings for the files of the data directory `dir` this process may not write: `credentials.txt` (new
 * accounts, a password rehashed) and the thread files `titles` (MSG, EDT, DLT, an upload's line, RMV).
 * A directory copied or restored as another user, or a file made read-only by hand, had every such change
 * answered `The server could not complete the command, please try again`, which no retry mends, with
 * nothing said at start (attack round 19). Said once here; the changes still fail, and work again as soon
 * as the file is writable (no restart). Never rejects: a file gone meanwhile is not warned of.
 */
export const unwritableFileWarnings = async (dir: string, titles: readonly string[]): Promise<readonly string[]> => {
  const check = (name: string): Promise<string | undefined> =>
    access(join(dir, name), constants.W_OK).then(
      () => undefined,
      (e: unknown) => (systemErrorCode(e) === 'ENOENT' ? undefined : String(systemErrorCode(e))),
    );
  const warnings: string[] = [];
  const credentials = await check('credentials.txt');
  if (credentials !== undefined) warnings.push(`credentials.txt is not writable by this process (${credentials}): new accounts will fail until it is`);
  const threads: string[] = [];
  for (const title of titles) {
    const code = await check(title);
    if (code !== undefined) threads.push(`${title} (${code})`);
  }
  if (threads.length > 0) warnings.push(`thread files not writable by this process, whose changes will fail until they are: ${namedFew(threads)}`);
  return warnings;
};

/** The error codes of a file this process may not create or write (permissions, a read-only mount). */
const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * Why a file could not be made in the directory `dir`, in words, when `e` says it may not be written there;
 * `undefined` for any other error. An unwritable data or key directory failed the start with Node's bare
 * `EACCES: permission denied, open '…/.forum-server.lock.PID.UUID'`, naming a file the user never made.
 */
export const notWritableReason = (e: unknown, dir: string): string | undefined => {
  const code = systemErrorCode(e);
  if (code === undefined || !NOT_WRITABLE.has(code)) return undefined;
  const who = process.getuid === undefined ? 'this process' : `this process (user id ${process.getuid()})`;
  return code === 'EROFS' ? `${dir} is on a read-only file system (EROFS)` : `${dir} is not writable by ${who} (${code})`;
};
