/** The data directory lock within one process (the lock between processes: e2e-data-dir-lock.test.ts). */
import { readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, tempDir } from './forum-processes.js';
import { LOCK_FILE, lockDataDir } from '../src/data-dir-lock.js';

describe('data directory lock in one process', () => {
  const { dirs } = cleanupAfterEach();

  it('a second server of this process on the directory (by another path too) is refused, and the first keeps its lock', async () => {
    const top = await tempDir('forum-lock');
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

  it('two servers of this process starting on the directory at once: one takes it, the other is refused', async () => {
    const top = await tempDir('forum-lock');
    dirs.push(top);
    const dir = join(top, 'data');
    // Before: both saw the other's fresh lock, naming this process, as a stale one and one took it over.
    const both = await Promise.allSettled([lockDataDir(dir), lockDataDir(dir)]);
    expect(both.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = both.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(String(refused?.reason)).toContain('in use by a server of this process');
    const held = both.find((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof lockDataDir>>> => r.status === 'fulfilled');
    expect(held?.value.tookOver).toBeUndefined();
    await held?.value.release();
  });
});
