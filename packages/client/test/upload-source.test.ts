/** The local file of a UPD, checked before anything is sent: missing, a directory, not a regular file, unreadable. */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, tempDir } from '../../server/test/forum-processes.js';
import { uploadSourceProblem } from '../src/upload-source.js';

describe('uploadSourceProblem', () => {
  const { dirs } = cleanupAfterEach();

  it('names what is wrong with the file, and nothing for a readable regular file', async () => {
    const dir = await tempDir('upload-source');
    dirs.push(dir);
    const file = join(dir, 'a.txt');
    await writeFile(file, 'x');
    await mkdir(join(dir, 'sub'));
    expect(await uploadSourceProblem(file)).toBeUndefined();
    expect(await uploadSourceProblem(join(dir, 'missing'))).toBe(`File ${join(dir, 'missing')} does not exist`);
    // Before: "does not exist" for a directory.
    expect(await uploadSourceProblem(join(dir, 'sub'))).toBe(`File ${join(dir, 'sub')} is a directory, not a file`);
    expect(await uploadSourceProblem('/dev/null')).toBe('File /dev/null is not a regular file');
  });

  it('refuses an unreadable file before the server is asked (it used to fail after the upload was granted)', async () => {
    const dir = await tempDir('upload-source');
    dirs.push(dir);
    await chmod(dir, 0o755);
    const file = join(dir, 'secret.txt');
    await writeFile(file, 'x');
    await chmod(file, 0o000);
    // Root opens any file whatever its mode (CI runs as root): the check runs as nobody, as a user's would.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) process.seteuid?.(65534);
    try {
      expect(await uploadSourceProblem(file)).toBe(`File ${file} cannot be read (permission denied)`);
    } finally {
      if (asRoot) process.seteuid?.(0);
    }
  });
});
