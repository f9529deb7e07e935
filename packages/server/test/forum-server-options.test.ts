/** startForumServer refuses option values it cannot honour before it opens anything (embedding callers skip the command line's checks). */
import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, tempDir } from './forum-processes.js';
import { startForumServer } from '../src/forum-server.js';

describe('startForumServer options', () => {
  const { dirs } = cleanupAfterEach();

  it('refuses an idle timeout no timer can wait (over 2^31 - 1 ms, 0, NaN) with ERR_OUT_OF_RANGE, and leaves the data directory untouched', async () => {
    const dir = await tempDir('forum-options');
    dirs.push(dir);
    // Before: 3,000,000,000 ms was taken, and every session's idle timer then fired after 1 ms and re-armed.
    for (const idleTimeoutMs of [3_000_000_000, 2 ** 31, 0, Number.NaN]) {
      await expect(
        startForumServer({ port: 0, host: '127.0.0.1', dataDir: dir, idleTimeoutMs, transferPort: 0, log: () => undefined, warn: () => undefined }),
      ).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses a transfer header deadline no timer can wait the same way', async () => {
    const dir = await tempDir('forum-options');
    dirs.push(dir);
    for (const transferHeaderTimeoutMs of [3_000_000_000, 0, -1, Number.NaN]) {
      await expect(
        startForumServer({ port: 0, host: '127.0.0.1', dataDir: dir, idleTimeoutMs: 60_000, transferHeaderTimeoutMs, transferPort: 0, log: () => undefined, warn: () => undefined }),
      ).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('"transferHeaderTimeoutMs"') });
    }
    expect(await readdir(dir)).toEqual([]);
  });
});
