/**
 * A disk that stops answering in the writes that end an intent record: an
 * upload commit's record deleted and the directory synced (under the thread's
 * and the namespace's locks), RMV's upload files deleted and the directory
 * synced (under the thread's lock). Those writes were not counted by the
 * store's DiskWatch, so a sync hung there held every CRT, RMV and upload
 * commit (the namespace lock), or every change of the thread, for as long as
 * the disk did, queued rather than refused past diskStallMs.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openFileStore, type ForumStore } from '../src/index.js';
import { lines, run, upload } from './helpers.js';

/**
 * Every fsync and fdatasync waits until `release` once `hang` is set; `hangAfterUnlink` sets it as a file whose
 * name starts with that prefix is deleted (so the sync that follows that deletion is the first to hang).
 */
const disk = vi.hoisted(() => {
  const state = {
    hang: false,
    hangAfterUnlink: undefined as string | undefined,
    gate: Promise.resolve(),
    release: () => {},
    firstHung: Promise.resolve(),
    hungNow: () => {},
    reset: () => {},
  };
  state.reset = () => {
    state.hang = false;
    state.hangAfterUnlink = undefined;
    state.gate = new Promise((r) => (state.release = r));
    state.firstHung = new Promise((r) => (state.hungNow = r));
  };
  state.reset();
  return state;
});
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const held = <T>(sync: () => Promise<T>) => async (): Promise<T> => {
    if (disk.hang) {
      disk.hungNow();
      await disk.gate;
    }
    return sync();
  };
  return {
    ...fs,
    open: async (...args: Parameters<typeof fs.open>) => {
      const h = await fs.open(...args);
      return Object.assign(h, { sync: held(h.sync.bind(h)), datasync: held(h.datasync.bind(h)) });
    },
    unlink: async (path: string) => {
      await fs.unlink(path);
      if (disk.hangAfterUnlink !== undefined && basename(path).startsWith(disk.hangAfterUnlink)) disk.hang = true;
    },
  };
});

afterEach(() => {
  disk.release();
  disk.reset();
});

const REFUSED = 'The server could not complete the command, please try again';

/** A store in a new directory on a clock the test moves; `now` moves it. */
const openStore = async (): Promise<{ s: ForumStore; tick: (ms: number) => void }> => {
  const dir = mkdtempSync(join(tmpdir(), 'forum-disk-stall-intents-'));
  let now = 0;
  const opened = await openFileStore(dir, { clock: () => now, diskStallMs: 30_000 })();
  if (E.isLeft(opened)) throw new Error(opened.left.message);
  return { s: opened.right, tick: (ms) => (now += ms) };
};

/** Whether `p` settles within one turn of the event loop (refusals do no I/O). */
const settlesAtOnce = async (p: Promise<unknown>): Promise<boolean> => {
  let settled = false;
  void p.finally(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  return settled;
};

describe('a disk that stops answering while an intent record is ended', () => {
  it("an upload commit's record end hung: CRT, MSG and RMV are refused at once past diskStallMs, not queued behind it", async () => {
    const { s, tick } = await openStore();
    expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
    expect(await lines(run(s, 'alice', 'CRT U'))).toEqual(['Thread U created']);
    disk.hangAfterUnlink = '.forum-intent-';
    const committed = upload(s, 'T', 'f.txt', 'bob', Buffer.from('bytes'));
    await disk.firstHung;
    tick(30_001);

    // Said to a caller that must not wait for anything that touches the disk first (forum-server's lock check).
    expect(s.diskStalled?.()).toMatchObject({ kind: 'io', message: expect.stringMatching(/has not finished a write for 30 s/) });
    const crt = lines(run(s, 'bob', 'CRT V'));
    const msg = lines(run(s, 'bob', 'MSG T hello'));
    const rmv = lines(run(s, 'alice', 'RMV U'));
    expect(await settlesAtOnce(Promise.all([crt, msg, rmv]))).toBe(true);
    expect(await Promise.all([crt, msg, rmv])).toEqual([[REFUSED], [REFUSED], [REFUSED]]);

    disk.hang = false;
    disk.release();
    expect(E.isRight(await committed)).toBe(true);
    expect(s.diskStalled?.()).toBeUndefined();
    expect(await lines(run(s, 'bob', 'CRT V'))).toEqual(['Thread V created']);
    expect(await lines(run(s, 'bob', 'RDT T'))).toEqual(['bob uploaded f.txt']);
  });

  it("RMV's upload files deleted and the directory sync hung: a CRT of the title is refused at once past diskStallMs", async () => {
    const { s, tick } = await openStore();
    expect(await lines(run(s, 'alice', 'CRT T'))).toEqual(['Thread T created']);
    expect(E.isRight(await upload(s, 'T', 'f.txt', 'bob', Buffer.from('bytes')))).toBe(true);
    disk.hangAfterUnlink = 'T-f.txt';
    const removed = lines(run(s, 'alice', 'RMV T'));
    await disk.firstHung;
    tick(30_001);

    const crt = lines(run(s, 'bob', 'CRT T'));
    expect(await settlesAtOnce(crt)).toBe(true);
    expect(await crt).toEqual([REFUSED]);

    disk.hang = false;
    disk.release();
    expect(await removed).toEqual(['Thread T removed']);
    expect(await lines(run(s, 'bob', 'CRT T'))).toEqual(['Thread T created']);
  });
});
