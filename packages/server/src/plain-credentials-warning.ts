import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CREDENTIALS_FILE, isPasswordHash, parseCredentials } from 'forum-protocol';

/**
 * The start's warning for a data directory `dir` whose `credentials.txt`
 * holds a plain password (the spec's format, the default) and may be read by
 * its group or by anyone: every password is then theirs to read. Files made
 * by servers before 0600 (or copied, or unpacked from an archive) are 0644.
 * Only said, not refused: other tools may read the spec's format, and the
 * operator may mean the group to. `hashPasswords`: the server runs with
 * `--hash-passwords` (the plain ones left are hashed as their accounts log in).
 * `undefined` when there is nothing to say, or the file cannot be read (never
 * rejects), and on Windows, whose files have no such modes.
 */
export const plainCredentialsWarning = async (dir: string, hashPasswords: boolean): Promise<string | undefined> => {
  if (process.platform === 'win32') return undefined;
  const path = join(dir, CREDENTIALS_FILE);
  try {
    const found = await stat(path);
    const mode = found.mode & 0o777;
    if (!found.isFile() || (mode & 0o044) === 0) return undefined;
    const { accounts } = parseCredentials(await readFile(path, 'utf8'));
    const plain = accounts.filter((a) => !isPasswordHash(a.password)).length;
    if (plain === 0) return undefined;
    const who = (mode & 0o004) !== 0 ? 'any local user' : 'its group';
    const fix = hashPasswords
      ? `chmod 600 ${path} (--hash-passwords hashes each at its account's next login)`
      : `chmod 600 ${path}, or start with --hash-passwords (which hashes each at its account's next login)`;
    return `${path} holds ${plain} plain ${plain === 1 ? 'password' : 'passwords'} and is mode ${mode.toString(8).padStart(4, '0')}, readable by ${who}: ${fix}`;
  } catch {
    // Gone, or unreadable: the store's own open says so if it matters.
    return undefined;
  }
};
