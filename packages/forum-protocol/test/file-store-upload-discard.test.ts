/**
 * An unfinished upload's temporary file, deleted (aborted, stopped by RMV, refused at commit), is
 * reported through `onUploadsRemoved` as RMV's upload files are: the server's quota counted its bytes
 * as stored as they landed and, reusing a measurement of the directory, kept counting them after the
 * file was gone (attack round 8: an 8 MB upload under a 24 MB quota refused in an empty directory).
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openFileStore, type ForumStore, type UploadWriter } from '../src/index.js';
import { lines, run, upload } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const open = async (freed: number[]): Promise<{ dir: string; s: ForumStore }> => {
  const dir = mkdtempSync(join(tmpdir(), 'forum-upload-discard-'));
  dirs.push(dir);
  const opened = await openFileStore(dir, { onUploadsRemoved: (bytes) => void freed.push(bytes) })();
  if (E.isLeft(opened)) throw new Error(opened.left.message);
  return { dir, s: opened.right };
};

/** Begins an upload and writes `n` bytes of it (landed: the write's callback has run). */
const begun = async (s: ForumStore, title: string, filename: string, n: number): Promise<UploadWriter> => {
  const w = await s.beginUpload(title, filename, 'alice')();
  if (E.isLeft(w)) throw new Error(JSON.stringify(w.left));
  await new Promise<void>((resolve, reject) => w.right.stream.write(Buffer.alloc(n, 1), (e) => (e ? reject(e) : resolve())));
  return w.right;
};

const temps = (dir: string): string[] => readdirSync(dir).filter((n) => n.startsWith('.forum-tmp-'));

describe('file store: an unfinished upload\'s temporary file is reported as removed', () => {
  it('aborted: its bytes are told before the file goes', async () => {
    const freed: number[] = [];
    const { dir, s } = await open(freed);
    expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
    const w = await begun(s, 'T', 'a.bin', 5_000);
    expect(temps(dir)).toHaveLength(1);
    await w.abort();
    expect(temps(dir)).toEqual([]);
    expect(freed).toEqual([5_000]);
  });

  it('stopped by RMV of its thread: its bytes are told, then the thread\'s own uploads', async () => {
    const freed: number[] = [];
    const { dir, s } = await open(freed);
    expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
    expect(E.isRight(await upload(s, 'T', 'done.bin', 'alice', Buffer.alloc(700, 2)))).toBe(true);
    const w = await begun(s, 'T', 'b.bin', 3_000);
    expect(await lines(run(s, 'alice', 'RMV T'))).toEqual(['Thread T removed']);
    expect((await w.stopped).kind).toBe('noThread');
    expect(temps(dir)).toEqual([]);
    expect(freed.sort((a, b) => a - b)).toEqual([700, 3_000]);
  });

  it('stopped by RMV while its sender aborts it: told once', async () => {
    const freed: number[] = [];
    const { dir, s } = await open(freed);
    expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
    const w = await begun(s, 'T', 'b.bin', 3_000);
    const [removed] = await Promise.all([lines(run(s, 'alice', 'RMV T')), w.abort()]);
    expect(removed).toEqual(['Thread T removed']);
    expect(temps(dir)).toEqual([]);
    expect(freed).toEqual([3_000]);
  });

  it('aborted by its sender once RMV has begun to stop it: told once', async () => {
    const freed: number[] = [];
    const { dir, s } = await open(freed);
    expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
    const w = await begun(s, 'T', 'b.bin', 3_000);
    const removed = lines(run(s, 'alice', 'RMV T'));
    // The stop has begun (it destroys the stream first, then waits for it to close and deletes the file).
    while (!w.stream.destroyed) await new Promise((resolve) => setImmediate(resolve));
    await w.abort();
    expect(await removed).toEqual(['Thread T removed']);
    expect(temps(dir)).toEqual([]);
    // Before: both deletions measured the file before either unlinked it, and both told its bytes.
    expect(freed).toEqual([3_000]);
  });

  it('refused at commit (its name taken meanwhile): its bytes are told; a committed upload tells nothing', async () => {
    const freed: number[] = [];
    const { dir, s } = await open(freed);
    expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
    const first = await begun(s, 'T', 'c.bin', 2_000);
    const second = await begun(s, 'T', 'c.bin', 900);
    expect(E.isRight(await first.commit())).toBe(true);
    expect(freed).toEqual([]);
    const refused = await second.commit();
    expect(E.isLeft(refused) && refused.left.kind).toBe('fileExists');
    expect(temps(dir)).toEqual([]);
    expect(freed).toEqual([900]);
  });
});
