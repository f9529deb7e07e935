/**
 * The template cluster's lock (scripts/template-cluster.mjs) taken over from a process that died holding it,
 * by two waiters at once (vitest's workers starting after a run killed during the build). Each judged the
 * lock stale and removed it: the first then made it again, and the second's removal took the first's fresh
 * lock, so both held it: two builds side by side, each deleting the other's `building-` directory.
 *
 * The file system is scripted, not timed: the first removal of the lock waits until both waiters read the
 * dead holder's pid, any later one until a live holder has the lock, which is where the second waiter's
 * removal landed whenever it came after the first's mkdir.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

/** The lock the test scripts the removals of. */
const scripted = { lock: '', reads: 0, removals: 0 };
/** Counts each time a contender waits for another (the lock's 50 ms poll). */
const waits = { count: 0 };

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const pidIn = (lock: string): Promise<string> => fs.readFile(join(lock, 'pid'), 'utf8').catch(() => '');
  /** Waits (a bounded number of turns, so that a state never reached cannot hang the test) until `holds`. */
  const until = async (holds: () => boolean | Promise<boolean>): Promise<void> => {
    for (let i = 0; i < 5_000 && !(await holds()); i++) await new Promise((resolve) => setImmediate(resolve));
  };
  return {
    ...fs,
    readFile: (...args: Parameters<typeof fs.readFile>) => {
      if (scripted.lock !== '' && args[0] === join(scripted.lock, 'pid')) scripted.reads++;
      return fs.readFile(...args);
    },
    rm: async (path: string, options?: Parameters<typeof fs.rm>[1]) => {
      if (scripted.lock !== '' && path === scripted.lock) {
        // The first removal once both contenders saw the dead holder's pid; any other once a live holder
        // (this process) has the lock: where a waiter's removal decided on a stale look lands.
        if (++scripted.removals === 1) await until(() => scripted.reads >= 2);
        else await until(async () => (await pidIn(path)) === String(process.pid));
      }
      return fs.rm(path, options);
    },
  };
});

vi.mock('node:timers/promises', async (importOriginal) => {
  const timers = await importOriginal<typeof import('node:timers/promises')>();
  return {
    ...timers,
    setTimeout: (ms?: number, value?: unknown) => {
      waits.count++;
      return timers.setTimeout(ms, value);
    },
  };
});

const { withLock } = await import('../../../scripts/template-cluster.mjs');

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('template cluster lock: a dead holder', () => {
  it('taken over by two waiters at once, lets one of them in at a time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'template-takeover-'));
    dirs.push(dir);
    const lock = join(dir, 'lock');
    // A pid that was a process's and is no longer (it ran and was reaped).
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    await mkdir(lock);
    await writeFile(join(lock, 'pid'), String(gone));
    scripted.lock = lock;
    let inside = 0;
    let most = 0;
    let entered = 0;
    const holder = async (): Promise<void> => {
      inside++;
      entered++;
      most = Math.max(most, inside);
      // The first in holds the lock until the other contender came in too, or waits for it: whichever it does.
      const [seenWaits, seenEntered] = [waits.count, entered];
      if (entered === 1) {
        for (let i = 0; i < 100_000 && entered === seenEntered && waits.count === seenWaits; i++) await new Promise((resolve) => setImmediate(resolve));
      }
      inside--;
    };
    try {
      await Promise.all([withLock(lock, holder), withLock(lock, holder)]);
    } finally {
      scripted.lock = '';
    }
    expect(most).toBe(1);
    await expect(stat(lock)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
