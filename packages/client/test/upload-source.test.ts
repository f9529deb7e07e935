/** The local file of a UPD, checked before anything is sent: missing, a directory, not a regular file, unreadable. */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, tempDir } from '../../server/test/forum-processes.js';
import { openUploadSource, uploadSourceProblem } from '../src/upload-source.js';

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
    expect(await uploadSourceProblem('/dev/null')).toBe('File /dev/null is not a regular file (a character device): only a regular file can be uploaded');
  });

  it('refuses a named pipe at once, with no writer on it (opened plainly, it would wait for one for ever)', async () => {
    const dir = await tempDir('upload-source');
    dirs.push(dir);
    const fifo = join(dir, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expect(await uploadSourceProblem(fifo)).toBe(`File ${fifo} is not a regular file (a named pipe): only a regular file can be uploaded`);
    const opened = await openUploadSource(fifo);
    expect(opened).toEqual({ problem: `File ${fifo} is not a regular file (a named pipe): only a regular file can be uploaded` });
  });

  it('opens a regular file once: its size is measured on the handle its bytes are read from', async () => {
    const dir = await tempDir('upload-source');
    dirs.push(dir);
    const file = join(dir, 'a.txt');
    await writeFile(file, 'hello');
    const opened = await openUploadSource(file);
    if ('problem' in opened) throw new Error(opened.problem);
    try {
      // Replaced by name after the open: the handle still reads what was measured.
      await rm(file);
      await writeFile(file, 'another, longer file');
      expect(opened.size).toBe(5);
      expect((await opened.handle.readFile()).toString()).toBe('hello');
    } finally {
      await opened.handle.close();
    }
  });

  // /proc and /sys files are regular files whose size reads 0 whatever they hold: sent as an empty upload, the
  // server stored an empty file and the client said `F uploaded` (a link in the working directory names one).
  it('refuses a regular file whose size reads 0 but that has bytes (/proc/cpuinfo through a link); an empty file passes', async () => {
    const dir = await tempDir('upload-source');
    dirs.push(dir);
    const link = join(dir, 'cpuinfo');
    await symlink('/proc/cpuinfo', link);
    expect(await uploadSourceProblem(link)).toBe(`File ${link} has no size to announce (it reads 0 bytes long but has content: a /proc or /sys file?)`);
    const empty = join(dir, 'empty');
    await writeFile(empty, '');
    expect(await uploadSourceProblem(empty)).toBeUndefined();
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
