/**
 * What a start that fails leaves on disk: nothing it made. A start refused
 * for a port in use left the data directory it had just made (and its
 * parents) and the identity key it had just created in it, which the next
 * start then took for an existing forum and key.
 */
import { rmdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { systemErrorCode } from 'forum-protocol';

/**
 * The directories from `dir` up that do not exist, deepest first: those a
 * start that makes `dir` (`mkdir -p`) creates. Empty when `dir` exists, and
 * where a path cannot be looked at (`EACCES`): only what provably was not
 * there is ever removed.
 */
export const missingDirectories = async (dir: string): Promise<readonly string[]> => {
  const missing: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    const code = await stat(at).then(
      () => undefined,
      (e: unknown) => systemErrorCode(e),
    );
    if (code !== 'ENOENT') return missing;
    missing.push(at);
    if (dirname(at) === at) return missing;
  }
};

/**
 * Removes `dirs` (deepest first, as {@link missingDirectories} lists them)
 * while each is empty, and stops at the first that is not: `rmdir` never
 * removes a directory holding anything, so a file put there meanwhile (by
 * another server starting on the directory: its lock file) keeps it.
 */
export const removeEmptyDirectories = async (dirs: readonly string[]): Promise<void> => {
  for (const dir of dirs) {
    if (!(await rmdir(dir).then(
      () => true,
      () => false,
    )))
      return;
  }
};
