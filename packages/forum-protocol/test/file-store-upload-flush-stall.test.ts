/**
 * A disk that stops answering the sync an upload's stream makes as it closes (`flush`). That sync was no write
 * the disk watch counted: the upload's commit waited on it, and new changes went on to the same disk instead of
 * being refused past `diskStallMs`. Now it is counted as any write of the store's.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { openFileStore } from '../src/index.js';
import { lines, run } from './helpers.js';

/** While `hang` is set, the fsync of every write stream waits until `release` is called. */
const disk = vi.hoisted(() => {
  const state = { hang: false, release: () => {}, gate: Promise.resolve(), hungNow: () => {}, firstHung: Promise.resolve() };
  state.gate = new Promise((r) => (state.release = r));
  state.firstHung = new Promise((r) => (state.hungNow = r));
  return state;
});
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  type Sync = (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => void;
  const held =
    (sync: Sync): Sync =>
    (fd, cb) => {
      if (!disk.hang) return sync(fd, cb);
      disk.hungNow();
      void disk.gate.then(() => sync(fd, cb));
    };
  const fsync = held(fs.fsync as Sync);
  // A stream given no file operations of its own syncs through Node's, which no mock reaches: given node:fs's, fsync held.
  const createWriteStream = (path: string, options: { fs?: unknown } & Record<string, unknown>) =>
    fs.createWriteStream(path, { ...options, fs: options.fs ?? { ...fs, fsync } } as Parameters<typeof fs.createWriteStream>[1]);
  return { ...fs, default: { ...fs, createWriteStream, fsync }, createWriteStream, fsync };
});

describe("a disk that stops answering an upload stream's closing sync", () => {
  it('refuses new changes past diskStallMs, and the upload is stored once the sync returns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-flush-stall-'));
    let now = 0;
    const opened = await openFileStore(dir, { clock: () => now, diskStallMs: 30_000 })();
    if (E.isLeft(opened)) throw new Error(opened.left.message);
    const s = opened.right;
    expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
    const begun = await s.beginUpload('T', 'f.bin', 'alice')();
    if (E.isLeft(begun)) throw new Error('begin refused');
    disk.hang = true;
    begun.right.stream.end(Buffer.alloc(1000, 7));
    const commit = begun.right.commit();
    await disk.firstHung;
    now += 30_001;
    // Before: 'Message posted to T thread' (the flush unwatched), on a disk a real stall would hang for it too.
    expect(await lines(run(s, 'bob', 'MSG T after'))).toEqual(['The server could not complete the command, please try again']);
    expect(s.diskStalled?.()?.message).toMatch(/^the data directory's disk has not finished a write for 30 s/);
    disk.hang = false;
    disk.release();
    expect(await commit).toEqual(E.right(undefined));
    expect(s.diskStalled?.()).toBeUndefined();
    expect(await lines(run(s, 'bob', 'MSG T after'))).toEqual(['Message posted to T thread']);
    expect(await lines(run(s, 'bob', 'RDT T'))).toEqual(['alice uploaded f.bin', '1 bob: after']);
  });
});
