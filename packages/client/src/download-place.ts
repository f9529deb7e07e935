import { constants } from 'node:fs';
import { access, lstat } from 'node:fs/promises';
import { errorCode } from './error-code.js';

/** Why a download cannot go ahead: its name is taken (`--overwrite` would replace it), or the place cannot take it at all. */
export type DownloadPlaceProblem = { readonly kind: 'exists' } | { readonly kind: 'unusable'; readonly text: string };

/**
 * Why a DWN's file cannot be put in the working directory as `localName`, checked once the server granted it
 * and before its bytes are fetched: `exists` (the name is taken and `overwrite` was not asked for; a symbolic
 * link of that name counts, even one leading nowhere), a directory of that name (no download replaces one),
 * or a directory this process cannot write in. `undefined`: it can go ahead. Before, the last two were found
 * once the server had begun sending (`Download of f failed: transfer broken off: EACCES: permission denied,
 * open '….forum-download-….tmp'`: no transfer was broken) or had sent the whole file (`… EISDIR: illegal
 * operation on a directory, rename …`), attack round 19.
 */
export const downloadPlaceProblem = async (localName: string, overwrite: boolean): Promise<DownloadPlaceProblem | undefined> => {
  const found = await lstat(localName).catch(() => undefined);
  if (found?.isDirectory() === true) return { kind: 'unusable', text: `File ${localName} is a directory here: a download cannot replace it` };
  if (found !== undefined && !overwrite) return { kind: 'exists' };
  // The temporary file is created beside it, then linked or renamed in: both need the directory writable.
  return access('.', constants.W_OK | constants.X_OK).then(
    () => undefined,
    (e: unknown) => ({ kind: 'unusable', text: `Cannot download ${localName}: this directory (${process.cwd()}) is not writable (${errorCode(e) ?? String(e)})` }),
  );
};
