/**
 * The temporary key files a start deletes before creating the key: those of the shapes forum-server makes, now
 * (`KEY.tmp-PID.UUID`) and before (`KEY.tmp-PID`, the versions before the UUID), no other name of the prefix; and
 * a key path that is a link to a file that is gone.
 */
import { readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, tempDir } from './forum-processes.js';
import { loadOrCreateIdentity } from '../src/identity-key.js';

describe('identity key: temporary files of a start that was killed', () => {
  const { dirs } = cleanupAfterEach();

  it("deletes an earlier version's (KEY.tmp-PID) as well as this one's: an upgrade after a crash keeps no litter", async () => {
    const dir = await tempDir('identity-sweep');
    dirs.push(dir);
    // Before: KEY.tmp-4243, the shape every version before the UUID made, was kept for ever.
    const leftovers = ['identity.tmp-4242.0b9c1f2e-3d4a-4b5c-8d6e-7f8091a2b3c4', 'identity.tmp-4243'];
    const foreign = ['identity.tmp-notes', 'identity.tmp-4242.backup', 'identity.tmp-', 'identity.tmp-42a'];
    for (const name of [...leftovers, ...foreign]) await writeFile(join(dir, name), 'x');
    const made = await loadOrCreateIdentity(dir, join(dir, 'identity'));
    expect(made.created).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['identity', ...foreign].sort());
  });
});

describe('identity key: a symbolic link to a key that is gone', () => {
  const { dirs } = cleanupAfterEach();

  it('is refused naming the link and its target, and no key is made through it', async () => {
    const dir = await tempDir('identity-link');
    dirs.push(dir);
    const target = join(dir, 'moved', 'identity');
    await symlink(target, join(dir, 'identity'));
    // Before: "ENOENT: no such file or directory, stat '…/identity'", of a name that is there.
    await expect(loadOrCreateIdentity(dir, join(dir, 'identity'))).rejects.toThrow(
      `${join(dir, 'identity')} is a symbolic link to ${target}, which does not exist: point it at the key file, or remove it to create a new key (a new identity)`,
    );
    expect(await readdir(dir)).toEqual(['identity']);
  });
});
