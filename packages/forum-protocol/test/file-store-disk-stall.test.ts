/**
 * A data directory whose disk stops answering: an fsync that does not
 * return. The write waiting on it cannot be given up (its change is on its
 * way to disk), but new changes queued behind it waited for ever. Once a
 * write has been under way past `diskStallMs`, new changes are refused at
 * once, reads go on, and writes are taken again when the sync returns.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { DiskWatch } from '../src/file-store/disk-watch.js';
import { openFileStore, type ForumStore } from '../src/index.js';
import { lines, run } from './helpers.js';

/** While `hang` is set, every fsync and fdatasync waits until `release` is called (a hung disk). */
const disk = vi.hoisted(() => {
  const state = {
    hang: false,
    /** Syncs waiting now. */
    waiting: 0,
    gate: Promise.resolve(),
    release: () => {},
    /** Resolved at the first sync that waits. */
    firstHung: Promise.resolve(),
    hungNow: () => {},
  };
  state.gate = new Promise((r) => (state.release = r));
  state.firstHung = new Promise((r) => (state.hungNow = r));
  return state;
});
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const held = <T>(sync: () => Promise<T>) => async (): Promise<T> => {
    if (disk.hang) {
      disk.waiting++;
      disk.hungNow();
      await disk.gate;
      disk.waiting--;
    }
    return sync();
  };
  return {
    ...fs,
    open: async (...args: Parameters<typeof fs.open>) => {
      const h = await fs.open(...args);
      const sync = h.sync.bind(h);
      const datasync = h.datasync.bind(h);
      return Object.assign(h, { sync: held(sync), datasync: held(datasync) });
    },
  };
});

const REFUSED = 'The server could not complete the command, please try again';

describe('a disk that stops answering a sync', () => {
  it('refuses new changes at once past diskStallMs, serves reads, and takes writes again once the sync returns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-disk-stall-'));
    let now = 0;
    const opened = await openFileStore(dir, { clock: () => now, diskStallMs: 30_000 })();
    if (E.isLeft(opened)) throw new Error(opened.left.message);
    const s: ForumStore = opened.right;
    expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
    expect(await lines(run(s, 'alice', 'CRT U'))).toEqual(['Thread U created']);
    expect(await lines(run(s, 'alice', 'MSG U before'))).toEqual(['Message posted to U thread']);

    disk.hang = true;
    const stuck = lines(run(s, 'alice', 'MSG T stuck'));
    await disk.firstHung;
    now += 30_001;

    // Answered before the sync returns (it is still held): refused, not queued behind it.
    const answers = [run(s, 'bob', 'MSG U after'), run(s, 'bob', 'CRT V'), run(s, 'bob', 'EDT U 1 changed'), run(s, 'bob', 'RMV U')];
    let answered = false;
    const all = Promise.all(answers.map(lines)).finally(() => (answered = true));
    // One turn of the event loop for the refusals (no I/O); the hung sync is released only after.
    await new Promise((r) => setImmediate(r));
    expect(answered).toBe(true);
    expect(disk.waiting).toBeGreaterThan(0);
    expect(await all).toEqual([[REFUSED], [REFUSED], [REFUSED], [REFUSED]]);
    expect((await s.createAccount({ username: 'carol', password: 'pw' })()) as unknown).toMatchObject({
      _tag: 'Left',
      left: { kind: 'io', message: expect.stringMatching(/^the data directory's disk has not finished a write for 30 s: changes are refused until it does/) },
    });
    expect((await s.beginUpload('U', 'f.txt', 'bob')())._tag).toBe('Left');
    // Reads go on.
    expect(await lines(run(s, 'bob', 'RDT U'))).toEqual(['1 alice: before']);
    expect(await lines(run(s, 'bob', 'LST'))).toEqual(['The list of active threads:', 'T', 'U']);

    // The disk answers again: the write it held completes, and new changes are taken.
    disk.hang = false;
    disk.release();
    expect(await stuck).toEqual(['Message posted to T thread']);
    expect(await lines(run(s, 'bob', 'MSG U after'))).toEqual(['Message posted to U thread']);
    expect(await lines(run(s, 'bob', 'RDT T'))).toEqual(['1 alice: stuck']);
  });
});

describe('DiskWatch', () => {
  it('says stalled only while a write has been under way past the limit, from the oldest one', async () => {
    let now = 1_000;
    const watch = new DiskWatch(() => now, 30_000);
    let endFirst = (): void => {};
    const first = watch.run(() => new Promise<void>((r) => (endFirst = r)));
    now += 10_000;
    let endSecond = (): void => {};
    const second = watch.run(() => new Promise<void>((r) => (endSecond = r)));
    now += 20_000;
    expect(watch.stalled()).toBeUndefined();
    now += 1;
    expect(watch.stalled()?.message).toMatch(/has not finished a write for 30 s/);
    endFirst();
    await first;
    // The second began 20,001 ms ago: under the limit.
    expect(watch.stalled()).toBeUndefined();
    endSecond();
    await second;
    now += 100_000;
    expect(watch.stalled()).toBeUndefined();
    // A write that fails ends too.
    await expect(watch.run(() => Promise.reject(new Error('EIO')))).rejects.toThrow('EIO');
    expect(watch.stalled()).toBeUndefined();
  });
});
