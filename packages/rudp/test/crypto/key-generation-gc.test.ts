/**
 * Key generation under garbage collection. Node 20's `generateKeyPairSync`
 * deadlocks when the collector frees a finished key-generation job while one
 * of that job's keys is being exported (the job's destructor takes the mutex
 * the export holds): the many-real benchmark's client processes hung, every
 * thread asleep, within a few thousand handshakes. The provider no longer
 * uses it; this runs the provider in a child process (a deadlocked thread
 * cannot be stopped from inside) with a 1 MiB young generation, where the
 * old code hung within the first thousand pairs.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

describe('X25519 key generation (node:crypto) under garbage collection', () => {
  it('makes 20,000 key pairs with the collector running throughout, and never deadlocks', () => {
    const child = spawnSync(process.execPath, ['--max-semi-space-size=1', '--import', 'tsx', join(here, '../fixtures/generate-key-pairs.ts'), '20000'], {
      cwd: here,
      encoding: 'utf8',
      // About a second when it works; a deadlock never ends.
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    expect(child.signal, 'the child deadlocked (killed after 60 s)').toBeNull();
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual({ made: 20_000, distinct: 1000 });
  });
});
