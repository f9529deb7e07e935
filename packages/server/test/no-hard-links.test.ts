/**
 * The data directory lock and the identity key where the file system refuses hard links (vfat, CIFS,
 * some FUSE ones): node:fs/promises' `link` is replaced for this file, so the server's own default
 * path meets the refusal as it would on such a mount.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { cleanupAfterEach, tempDir } from './forum-processes.js';
import { LOCK_FILE, lockDataDir } from '../src/data-dir-lock.js';
import { IDENTITY_FILE, loadOrCreateIdentity } from '../src/identity-key.js';

const refusals = vi.hoisted(() => ({ code: 'EPERM', count: 0 }));
vi.mock('node:fs/promises', async (original) => {
  const real = await original<typeof import('node:fs/promises')>();
  const link = async (): Promise<never> => {
    refusals.count++;
    throw Object.assign(new Error(`${refusals.code}: operation not permitted, link`), { code: refusals.code });
  };
  return { ...real, link, default: { ...real, link } };
});

describe('data directory lock without hard links', () => {
  const { dirs } = cleanupAfterEach();

  for (const code of ['EPERM', 'EOPNOTSUPP', 'ENOSYS']) {
    it(`links refused with ${code}: the lock is still taken, holding its record, and a second start is refused`, async () => {
      refusals.code = code;
      const before = refusals.count;
      const dir = await tempDir('forum-lock');
      dirs.push(dir);
      // Before: the link's error was thrown, and forum-server did not start on such a directory.
      const held = await lockDataDir(dir);
      expect(refusals.count).toBe(before + 1);
      expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
      expect(await readdir(dir)).toEqual([LOCK_FILE]);
      await expect(lockDataDir(dir)).rejects.toThrow('in use by a server of this process');
      await held.release();
      expect(await readdir(dir)).toEqual([]);
    });
  }
});

describe('identity key without hard links', () => {
  const { dirs } = cleanupAfterEach();

  it('the key is created in place (mode 0600), loaded again as the same key, and two servers creating it at once get the same one', async () => {
    refusals.code = 'EPERM';
    const dir = await tempDir('forum-identity');
    dirs.push(dir);
    const before = refusals.count;
    // Before: the link's EPERM was thrown, and forum-server did not start.
    const [a, b] = await Promise.all([loadOrCreateIdentity(dir), loadOrCreateIdentity(dir)]);
    expect(refusals.count).toBeGreaterThan(before);
    expect(a.fingerprint).toBe(b.fingerprint);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect((await stat(join(dir, IDENTITY_FILE))).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual([IDENTITY_FILE]);
    const again = await loadOrCreateIdentity(dir);
    expect(again).toMatchObject({ created: false, fingerprint: a.fingerprint });
  });
});
