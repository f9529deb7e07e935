/**
 * Two servers creating one key file at once (servers behind one load balancer share one `--identity-file`):
 * the second one's start swept the first one's temporary key file, of the shape both make, while the first
 * was about to link it into place. node:fs/promises' `link` is wrapped so that the other start runs, whole,
 * at that very moment.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { cleanupAfterEach, tempDir } from './forum-processes.js';
import { IDENTITY_FILE, loadOrCreateIdentity } from '../src/identity-key.js';

const hook = vi.hoisted(() => ({ beforeFirstLink: undefined as (() => Promise<void>) | undefined }));
vi.mock('node:fs/promises', async (original) => {
  const real = await original<typeof import('node:fs/promises')>();
  const link = async (existing: string, path: string): Promise<void> => {
    const before = hook.beforeFirstLink;
    hook.beforeFirstLink = undefined;
    if (before !== undefined) await before();
    return real.link(existing, path);
  };
  return { ...real, link, default: { ...real, link } };
});

describe('two servers creating one identity key at once', () => {
  const { dirs } = cleanupAfterEach();

  it("the one whose temporary key file the other's start swept loads the other's key, not an ENOENT", async () => {
    const dir = await tempDir('forum-identity-race');
    dirs.push(dir);
    let second: Promise<Awaited<ReturnType<typeof loadOrCreateIdentity>>> | undefined;
    hook.beforeFirstLink = async () => {
      second = loadOrCreateIdentity(dir);
      await second;
    };
    // Before: the first start failed with "ENOENT: no such file or directory, link …identity.tmp-PID.UUID".
    const first = await loadOrCreateIdentity(dir);
    const other = await (second ?? Promise.reject(new Error('the second start never ran')));
    expect(other.created).toBe(true);
    expect(first.created).toBe(false);
    expect(first.fingerprint).toBe(other.fingerprint);
    expect(await readdir(dir)).toEqual([IDENTITY_FILE]);
    expect((await loadOrCreateIdentity(dir)).fingerprint).toBe(other.fingerprint);
    expect(join(dir, IDENTITY_FILE)).toBe(first.path);
  });
});
