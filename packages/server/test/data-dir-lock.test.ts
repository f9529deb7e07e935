/** The data directory lock within one process (the lock between processes: e2e-data-dir-lock.test.ts). */
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCK_FILE, lockDataDir } from '../src/data-dir-lock.js';

describe('data directory lock in one process', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('a second server of this process on the directory (by another path too) is refused, and the first keeps its lock', async () => {
    const top = await mkdtemp(join(tmpdir(), 'forum-lock-'));
    dirs.push(top);
    const dir = join(top, 'data');
    const first = await lockDataDir(dir);
    await symlink(dir, join(top, 'alias'));
    // The lock names this process, which reads as a stale lock of a restart as the same pid: before, the
    // second took it over ("left by process N, which is no longer running") and both ran.
    await expect(lockDataDir(dir)).rejects.toThrow(`in use by a server of this process (${join(dir, LOCK_FILE)})`);
    await expect(lockDataDir(join(top, 'alias'))).rejects.toThrow('in use by a server of this process');
    expect(await readFile(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    await first.release();
    // Released: taken again; a release called twice does not delete the new holder's lock.
    const again = await lockDataDir(dir);
    expect(again.tookOver).toBeUndefined();
    await first.release();
    expect(await readFile(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    await again.release();
  });
});
