/**
 * The data directory's lock and the identity key on a full disk: the file is created, its write fails
 * (ENOSPC), and the start is refused. What the failed write created must not stay behind (attack round 19:
 * a start on a full tmpfs left `.forum-server.lock.PID.UUID`, empty, for good).
 */
import { readdir, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, tempDir } from './forum-processes.js';
import { lockDataDir } from '../src/data-dir-lock.js';
import { nodeLockFs, type LockFs } from '../src/lock-fs.js';
import { createWhole } from '../src/no-hard-links.js';

/** A write that creates its file, then fails as a full disk does. */
const fullDiskWrite: LockFs['writeFile'] = async (path, _data, options) => {
  await writeFile(path, '', options);
  throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
};

const noHardLinks = async (): Promise<never> => {
  throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
};

describe('the lock and the identity key on a full disk', () => {
  const { dirs } = cleanupAfterEach();

  it('a lock whose write fails with ENOSPC is refused, and leaves no file in the directory', async () => {
    const dir = await tempDir('forum-lock-full');
    dirs.push(dir);
    await expect(lockDataDir(dir, { fs: { ...nodeLockFs, writeFile: fullDiskWrite } })).rejects.toThrow('ENOSPC');
    // Before: ['.forum-server.lock.PID.UUID'], empty.
    expect(await readdir(dir)).toEqual([]);
  });

  it('without hard links, a failed write of the file in place leaves no empty file under its name', async () => {
    const dir = await tempDir('forum-whole-full');
    dirs.push(dir);
    let writes = 0;
    const fs = {
      ...nodeLockFs,
      link: noHardLinks,
      // The temporary file is written; the file in place (the fallback) meets the full disk.
      writeFile: async (path: string, data: string, options: { readonly flag: 'wx'; readonly mode: number }) => (++writes === 1 ? writeFile(path, data, options) : fullDiskWrite(path, data, options)),
    };
    await expect(createWhole(fs, `${dir}/key`, `${dir}/key.tmp`, 'content', 0o600)).rejects.toThrow('ENOSPC');
    // Before: ['key'], empty: read as a damaged key (or a lock) by the next start.
    expect(await readdir(dir)).toEqual([]);
  });

  it('an open that fails for want of descriptors (EMFILE, before the name is looked up) leaves the file in place alone', async () => {
    const dir = await tempDir('forum-whole-emfile');
    dirs.push(dir);
    // Another server's lock, in place (no hard links); this process is out of file descriptors.
    await writeFile(`${dir}/key`, 'theirs');
    let writes = 0;
    const fs = {
      ...nodeLockFs,
      link: noHardLinks,
      writeFile: async (path: string, data: string, options: { readonly flag: 'wx'; readonly mode: number }) => {
        if (++writes === 1) return writeFile(path, data, options);
        throw Object.assign(new Error(`EMFILE: too many open files, open '${path}'`), { code: 'EMFILE', syscall: 'open' });
      },
    };
    await expect(createWhole(fs, `${dir}/key`, `${dir}/key.tmp`, 'content', 0o600)).rejects.toThrow('EMFILE');
    // Before: [], the other server's file deleted.
    expect(await readdir(dir)).toEqual(['key']);
  });

  it('a name another process created first (EEXIST) is left alone', async () => {
    const dir = await tempDir('forum-whole-exists');
    dirs.push(dir);
    await writeFile(`${dir}/key.tmp`, 'theirs');
    await expect(createWhole(nodeLockFs, `${dir}/key`, `${dir}/key.tmp`, 'content', 0o600)).rejects.toThrow('EEXIST');
    expect(await readdir(dir)).toEqual(['key.tmp']);
  });
});
