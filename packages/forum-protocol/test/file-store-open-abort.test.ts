/**
 * A data directory's open given up (a server told to stop while it starts): it stops between its steps,
 * before the next thread file, and answers an error instead of a store. Before, the signal did not exist
 * and a large directory was read to its end (20,000 threads: 10 s) before the start could stop.
 */
import * as E from 'fp-ts/lib/Either.js';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openFileStore } from '../src/index.js';

describe('file store: an open given up (its signal aborted)', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('aborted while the directory is read (credentials.txt being read: a FIFO holds it), it answers an error, and a later open reads everything', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forum-open-abort-'));
    dirs.push(dir);
    for (const t of ['a', 'b', 'c']) await writeFile(join(dir, t), `yoda\n1 yoda: in ${t}\n`);
    const credentials = join(dir, 'credentials.txt');
    execFileSync('mkfifo', [credentials]);
    const controller = new AbortController();
    const opening = openFileStore(dir, { signal: controller.signal })();
    // Returns once the open reads the FIFO: its recovery is done, no thread read yet.
    const writer = await open(credentials, 'w');
    controller.abort();
    await writer.write('yoda pw\n');
    await writer.close();
    const opened = await opening;
    // Before: a store with the three threads.
    expect(E.isLeft(opened) && opened.left).toMatchObject({ kind: 'io', message: expect.stringMatching(/aborted/) });
    await unlink(credentials);
    await writeFile(credentials, 'yoda pw\n');
    const again = await openFileStore(dir)();
    if (E.isLeft(again)) throw new Error(again.left.message);
    const listed = await again.right.listThreads()();
    expect(listed).toEqual(E.right(['a', 'b', 'c']));
  });

  it('aborted before it begins, it touches nothing (the directory is not even created)', async () => {
    const top = await mkdtemp(join(tmpdir(), 'forum-open-abort-'));
    dirs.push(top);
    const opened = await openFileStore(join(top, 'data'), { signal: AbortSignal.abort() })();
    expect(E.isLeft(opened) && opened.left.kind).toBe('io');
    await expect(stat(join(top, 'data'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
