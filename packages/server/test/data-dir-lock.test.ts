/** The data directory lock within one process (the lock between processes: e2e-data-dir-lock.test.ts). */
import { mkdir, readdir, readFile, readlink, realpath, rename, rmdir, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, tempDir } from './forum-processes.js';
import { hostname, uptime } from 'node:os';
import { abandonDataDirLocks, DataDirLockLostError, LOCK_FILE, lockDataDir, nodeLockFs, type LockFs } from '../src/data-dir-lock.js';
import { SLOW_READ_MS } from '../src/lock-holder.js';
import { commandErrorText, createMemoryStore, unconfirmedWriteText, type ForumStore } from 'forum-protocol';
import { AFTER_WRITE_REREAD_MS, AFTER_WRITE_REREADS, fencedStore, LOCK_LOST_ERROR } from '../src/fenced-store.js';

describe('data directory lock in one process', () => {
  const { dirs } = cleanupAfterEach();

  it('a directory removed after it was made, before the lock file is created (a failed start taking away what it made), is made again and locked', async () => {
    const top = await tempDir('forum-lock');
    dirs.push(top);
    const dir = join(top, 'data');
    // The failed start's rmdir (start-leftovers.ts) lands between this start's mkdir and its lock file's create.
    const fs: LockFs = {
      ...nodeLockFs,
      realpath: async (path) => {
        const real = await nodeLockFs.realpath(path);
        await rmdir(path);
        return real;
      },
    };
    // Before: refused, "ENOENT: no such file or directory, open '…/.forum-server.lock.PID.UUID'".
    const lock = await lockDataDir(dir, { fs });
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('a directory removed between its mkdir and its realpath (a failed start taking away what it made, parents too) is made again and locked', async () => {
    const top = await tempDir('forum-lock');
    dirs.push(top);
    const dir = join(top, 'made', 'data');
    // The failed start's rmdirs (start-leftovers.ts, deepest first) land just after this start's mkdir.
    let removed = 0;
    const fs: LockFs = {
      ...nodeLockFs,
      mkdir: async (path) => {
        await nodeLockFs.mkdir(path);
        if (removed++ > 0) return;
        await rmdir(path);
        await rmdir(join(top, 'made'));
      },
    };
    // Before: refused, "ENOENT: no such file or directory, realpath '…/made/data'".
    const lock = await lockDataDir(dir, { fs });
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('a second server of this process on the directory (by another path too) is refused, and the first keeps its lock', async () => {
    const top = await tempDir('forum-lock');
    dirs.push(top);
    const dir = join(top, 'data');
    const first = await lockDataDir(dir);
    await symlink(dir, join(top, 'alias'));
    // The lock names this process, which reads as a stale lock of a restart as the same pid: before, the
    // second took it over ("left by process N, which is no longer running") and both ran.
    await expect(lockDataDir(dir)).rejects.toThrow(`in use by a server of this process (${join(dir, LOCK_FILE)})`);
    await expect(lockDataDir(join(top, 'alias'))).rejects.toThrow('in use by a server of this process');
    const firstText = await readFile(join(dir, LOCK_FILE), 'utf8');
    expect(JSON.parse(firstText)).toMatchObject({ pid: process.pid });
    await first.release();
    // Released: taken again; a release called twice does not delete the new holder's lock.
    const again = await lockDataDir(dir);
    expect(again.tookOver).toBeUndefined();
    await first.release();
    const againText = await readFile(join(dir, LOCK_FILE), 'utf8');
    expect(JSON.parse(againText)).toMatchObject({ pid: process.pid });
    expect(againText).not.toBe(firstText);
    await again.release();
  });

  it('two servers of this process starting on the directory at once: one takes it, the other is refused', async () => {
    const top = await tempDir('forum-lock');
    dirs.push(top);
    const dir = join(top, 'data');
    // Before: both saw the other's fresh lock, naming this process, as a stale one and one took it over.
    const both = await Promise.allSettled([lockDataDir(dir), lockDataDir(dir)]);
    expect(both.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = both.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(String(refused?.reason)).toContain('in use by a server of this process');
    const held = both.find((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof lockDataDir>>> => r.status === 'fulfilled');
    expect(held?.value.tookOver).toBeUndefined();
    await held?.value.release();
  });
});

/** A lock file's text as a server of `place` running as `pid` writes it. */
const lockOf = (pid: number, place: { readonly host: string; readonly boot: string | undefined; readonly pidns: string | undefined }): string =>
  `${JSON.stringify({ pid, host: place.host, boot: place.boot ?? null, pidns: place.pidns ?? null, token: 'test' })}\n`;

/** Where this process runs, read here as the lock should (not through the module under test). */
const currentPlace = async (): Promise<{ host: string; boot: string | undefined; pidns: string | undefined }> => ({
  host: hostname(),
  boot: (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim() || undefined,
  pidns: (await readlink('/proc/self/ns/pid').catch(() => '')) || undefined,
});

/** A process id that runs nowhere here (above Linux's pid_max of 2^22). */
const GONE = 999_999_999;

describe('data directory lock: where the holder runs', () => {
  const { dirs } = cleanupAfterEach();
  const lockedDir = async (text: string): Promise<{ dir: string; lock: string }> => {
    const dir = await tempDir('forum-lock');
    dirs.push(dir);
    await writeFile(join(dir, LOCK_FILE), text);
    return { dir, lock: join(dir, LOCK_FILE) };
  };

  it('a lock of another pid namespace of this host (two containers, both PID 1) that its holder renews is refused, saying so', async () => {
    const here = await currentPlace();
    const other = { ...here, pidns: 'pid:[4026532999]' };
    const { dir, lock } = await lockedDir(lockOf(process.pid, other));
    // The other container's server renews its lock's time as a live holder does.
    const holder = setInterval(() => void utimes(lock, new Date(), new Date()).catch(() => undefined), 50);
    const waits: string[] = [];
    try {
      // Before this: the lock named this process's id, read as a restart of it, and was taken over by both containers.
      await expect(lockDataDir(dir, { renewMs: 50, onWait: (m) => waits.push(m) })).rejects.toThrow(
        `in use by forum-server process ${process.pid} in another container or process-id namespace of this host (pid:[4026532999], here ${here.pidns ?? 'unknown'}), which renews it (${lock}); one server per data directory`,
      );
    } finally {
      clearInterval(holder);
    }
    expect(waits).toEqual([`The data directory lock ${lock} is another container's; waiting up to 30 s to see whether it is renewed`]);
    expect(await readFile(lock, 'utf8')).toBe(lockOf(process.pid, other));
  });

  it('a lock of another pid namespace of this host left unrenewed (a container killed and started again) is taken over once stale', async () => {
    const here = await currentPlace();
    const other = { ...here, pidns: 'pid:[4026532999]' };
    // Unrenewed since it was written: taken over once it has gone unrenewed for staleMs.
    const fresh = await lockedDir(lockOf(1, other));
    const start = performance.now();
    // Stale after 400 ms, said in whole seconds: 0, or 1 once the check came 100 ms late (a loaded machine).
    const taken = await lockDataDir(fresh.dir, { renewMs: 50, staleMs: 400 });
    expect(performance.now() - start).toBeGreaterThanOrEqual(300);
    expect(taken.tookOver).toMatch(/left by process 1 in another container or process-id namespace of this host \(pid:\[4026532999\], here .*\), unrenewed for [01] s$/);
    await taken.release();
    // Last modified a minute ago: stale (with the default 30 s) once watched through two renewals (here 50 ms each).
    const old = await lockedDir(lockOf(1, other));
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(old.lock, minuteAgo, minuteAgo);
    const at = performance.now();
    const again = await lockDataDir(old.dir, { renewMs: 50 });
    expect(performance.now() - at).toBeGreaterThanOrEqual(100);
    // Not the default staleMs (30 s) of waiting: two renewals' watch, with room for a loaded machine's stalls.
    expect(performance.now() - at).toBeLessThan(15_000);
    expect(again.tookOver).toMatch(/, unrenewed for 60 s$/);
    await again.release();
    // Before this: either lock was refused until an operator deleted it.
  });

  it('a live lock of another pid namespace whose time looks a minute old (the wall clock stepped forward since its last renewal) is not taken over: its next renewal is waited for', async () => {
    const here = await currentPlace();
    const other = { ...here, pidns: 'pid:[4026532999]' };
    const { dir, lock } = await lockedDir(lockOf(1, other));
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(lock, minuteAgo, minuteAgo);
    // Its holder renews it every 50 ms from now on, from the stepped clock.
    const holder = setInterval(() => void utimes(lock, new Date(), new Date()).catch(() => undefined), 50);
    try {
      // Before: taken over at once ("unrenewed for 60 s"), beside the live holder (attack/clock-step.ts: 3 ms).
      await expect(lockDataDir(dir, { renewMs: 50 })).rejects.toThrow(/which renews it/);
    } finally {
      clearInterval(holder);
    }
  });

  it('a holder renews its lock while it holds it, and stops when it gives it up', async () => {
    const dir = await tempDir('forum-lock');
    dirs.push(dir);
    const lock = join(dir, LOCK_FILE);
    const held = await lockDataDir(dir, { renewMs: 50 });
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(lock, minuteAgo, minuteAgo);
    await expect.poll(async () => Date.now() - (await stat(lock)).mtimeMs, { timeout: 5_000 }).toBeLessThan(10_000);
    await held.release();
  });

  it('a lock of another host is refused even when its pid does not run here; one of this host before a reboot is taken over', async () => {
    const here = await currentPlace();
    const away = await lockedDir(lockOf(GONE, { ...here, host: 'elsewhere.example', boot: '11111111-1111-1111-1111-111111111111' }));
    await expect(lockDataDir(away.dir)).rejects.toThrow(`in use by forum-server process ${GONE} on host "elsewhere.example" (${away.lock}), which cannot be checked from here`);
    const before = await lockedDir(lockOf(GONE, { ...here, boot: '00000000-0000-0000-0000-000000000000' }));
    // Last renewed before this host booted, as a lock of its earlier boot is.
    const beforeBoot = new Date(Date.now() - uptime() * 1000 - 60_000);
    await utimes(before.lock, beforeBoot, beforeBoot);
    const taken = await lockDataDir(before.dir);
    // Before this: refused until an operator deleted it, so a server did not come back by itself after a power cut.
    expect(taken.tookOver).toBe(
      `Took over the data directory lock ${before.lock}, left by process ${GONE} before this host restarted (boot id 00000000-0000-0000-0000-000000000000, now ${here.boot ?? 'unknown'})`,
    );
    await taken.release();
  });

  it('a lock of this boot under another host name (a container recreated: a new name, a new namespace) is judged by its renewals, not refused as another host\'s', async () => {
    const here = await currentPlace();
    // Without a boot id (not Linux) the host name alone stands for the place: nothing to test.
    if (here.boot === undefined) return;
    const recreated = { ...here, host: '3f2a9c1d7e55', pidns: 'pid:[4026532999]' };
    const left = await lockedDir(lockOf(1, recreated));
    const start = performance.now();
    // Before this: refused as "on host \"3f2a9c1d7e55\" … which cannot be checked from here" until an operator deleted it.
    const taken = await lockDataDir(left.dir, { renewMs: 50, staleMs: 400 });
    expect(performance.now() - start).toBeGreaterThanOrEqual(300);
    expect(taken.tookOver).toMatch(/left by process 1 in another container of this host \(host name "3f2a9c1d7e55", boot id [0-9a-f-]+\), unrenewed for [01] s$/);
    await taken.release();
    // One whose holder lives (it renews) is refused, as another container's beside a live one.
    const live = await lockedDir(lockOf(1, recreated));
    const holder = setInterval(() => void utimes(live.lock, new Date(), new Date()).catch(() => undefined), 50);
    try {
      await expect(lockDataDir(live.dir, { renewMs: 50, staleMs: 2_000 })).rejects.toThrow(/in use by forum-server process 1 in another container of this host \(host name "3f2a9c1d7e55", .*\), which renews it/);
    } finally {
      clearInterval(holder);
    }
  });

  it('a lock of another boot id under this host name modified since this host booted (another machine of the same name) is judged by its renewals', async () => {
    const here = await currentPlace();
    if (here.boot === undefined) return;
    const twin = { ...here, boot: '33333333-3333-3333-3333-333333333333' };
    const live = await lockedDir(lockOf(1, twin));
    // Its holder renews it: before this, read as this host's before its last boot and taken over at once (both ran).
    const holder = setInterval(() => void utimes(live.lock, new Date(), new Date()).catch(() => undefined), 50);
    try {
      await expect(lockDataDir(live.dir, { renewMs: 50, staleMs: 2_000 })).rejects.toThrow(
        /in use by forum-server process 1 of boot id 33333333-3333-3333-3333-333333333333 \(here [0-9a-f-]+\) on a host named ".*" too, modified since shortly before this host booted, which renews it/,
      );
    } finally {
      clearInterval(holder);
    }
    // Left unrenewed: taken over once stale.
    const left = await lockedDir(lockOf(1, twin));
    const taken = await lockDataDir(left.dir, { renewMs: 50, staleMs: 400 });
    expect(taken.tookOver).toMatch(/modified since shortly before this host booted, unrenewed for [01] s$/);
    await taken.release();
  });

  it('a lock of another machine of the same name last renewed just before this host booted (a server started at boot) is judged by its renewals, not taken over', async () => {
    const here = await currentPlace();
    if (here.boot === undefined) return;
    const twin = { ...here, boot: '44444444-4444-4444-4444-444444444444' };
    const live = await lockedDir(lockOf(1, twin));
    // Its holder renews every RENEW_MS (5 s); this host booted 100 ms ago, after the last renewal (300 ms ago).
    const lastRenewal = new Date(Date.now() - 300);
    await utimes(live.lock, lastRenewal, lastRenewal);
    const holder = setInterval(() => void utimes(live.lock, new Date(), new Date()).catch(() => undefined), 500);
    try {
      // Before: read as this host's before its boot and taken over at once, though its holder lived (both ran).
      await expect(lockDataDir(live.dir, { place: { ...here, bootedAt: Date.now() - 100 }, renewMs: 50, staleMs: 2_000 })).rejects.toThrow(
        /in use by forum-server process 1 of boot id 44444444-4444-4444-4444-444444444444 .*, which renews it/,
      );
    } finally {
      clearInterval(holder);
    }
  });

  it('a lock of this host, boot and namespace whose process is gone is taken over; one whose process runs is refused', async () => {
    const here = await currentPlace();
    const { dir, lock } = await lockedDir(lockOf(GONE, here));
    const taken = await lockDataDir(dir);
    expect(taken.tookOver).toBe(`Took over the data directory lock ${lock}, left by process ${GONE}, which is no longer running`);
    expect(JSON.parse(await readFile(lock, 'utf8'))).toMatchObject({ pid: process.pid, host: here.host, boot: here.boot ?? null, pidns: here.pidns ?? null });
    await taken.release();
    await expect(stat(lock)).rejects.toMatchObject({ code: 'ENOENT' });
    const live = await lockedDir(lockOf(process.ppid, here));
    await expect(lockDataDir(live.dir)).rejects.toThrow(`in use by forum-server process ${process.ppid} (${live.lock}); one server per data directory`);
  });

  it('an older server\'s lock (a bare pid) is judged by its pid as before', async () => {
    const gone = await lockedDir(`${GONE}\n`);
    const taken = await lockDataDir(gone.dir);
    expect(taken.tookOver).toBe(`Took over the data directory lock ${gone.lock}, left by process ${GONE}, which is no longer running (an older forum-server's lock, without host)`);
    await taken.release();
    const live = await lockedDir(`${process.ppid}\n`);
    await expect(lockDataDir(live.dir)).rejects.toThrow(`in use by forum-server process ${process.ppid} (${live.lock})`);
  });
});

describe('data directory lock: something unreadable in its place', () => {
  const { dirs } = cleanupAfterEach();

  it('a directory where the lock file goes is refused at once, naming it and the way out', async () => {
    const dir = await tempDir('forum-lock');
    dirs.push(dir);
    await mkdir(join(dir, LOCK_FILE));
    // Before: 200 attempts in milliseconds, then "other servers are starting on it (if none is, delete ….takeover)", a file that was not there.
    await expect(lockDataDir(dir)).rejects.toThrow(`cannot read the lock file ${join(dir, LOCK_FILE)} (EISDIR: illegal operation on a directory, read); if no server uses the directory, remove it and start again`);
    // Nothing left beside it, and the directory may be taken once it is removed.
    expect(await readdir(dir)).toEqual([LOCK_FILE]);
    await rmdir(join(dir, LOCK_FILE));
    await (await lockDataDir(dir)).release();
  });
});

describe('data directory lock on a file system without hard links', () => {
  const { dirs } = cleanupAfterEach();
  /** The real file system, with `link` failing as vfat's does, and a log of what the lock did. */
  const noLinks = (calls: string[], onRead?: (path: string, text: string) => Promise<void>): LockFs => ({
    ...nodeLockFs,
    link: async (_existing, path) => {
      calls.push(`link ${basename(path)}`);
      throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
    },
    writeFile: async (path, data, options) => {
      await writeFile(path, data, options);
      calls.push(`create ${basename(path)}`);
    },
    readFile: async (path) => {
      const text = await readFile(path, 'utf8');
      await onRead?.(path, text);
      return text;
    },
    unlink: (path) => unlink(path),
    mkdir: (path) => mkdir(path, { recursive: true }),
    realpath: (path) => realpath(path),
  });

  it('the lock is created exclusively with its record when links fail with EPERM, and released', async () => {
    const dir = await tempDir('forum-lock');
    dirs.push(dir);
    const calls: string[] = [];
    const held = await lockDataDir(dir, { fs: noLinks(calls) });
    // Before: the EPERM of link was thrown, and the server did not start.
    expect(calls).toContain(`link ${LOCK_FILE}`);
    expect(calls.at(-1)).toBe(`create ${LOCK_FILE}`);
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    // Only the lock is left: the temporary file the link was tried from is gone.
    expect(await readdir(dir)).toEqual([LOCK_FILE]);
    await held.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('an empty lock (created, not yet written) is waited for, not taken over: its record, written meanwhile, counts', async () => {
    const dir = await tempDir('forum-lock');
    dirs.push(dir);
    const lock = join(dir, LOCK_FILE);
    await writeFile(lock, '');
    const here = await currentPlace();
    const record = lockOf(GONE, { ...here, host: 'writer.example', boot: '22222222-2222-2222-2222-222222222222' });
    let emptyReads = 0;
    // The writer finishes right after the first time the empty file is read.
    const fs = noLinks([], async (path, text) => {
      if (path === lock && text === '' && emptyReads++ === 0) await writeFile(lock, record);
    });
    // Before: an empty lock was a server killed as it started, deleted, and the lock taken (both held it).
    await expect(lockDataDir(dir, { fs, partialGraceMs: 30_000 })).rejects.toThrow(`in use by forum-server process ${GONE} on host "writer.example"`);
    expect(emptyReads).toBe(1);
    expect(await readFile(lock, 'utf8')).toBe(record);
  });

  it('a lock left empty past the grace is a server killed as it started, and taken over', async () => {
    const dir = await tempDir('forum-lock');
    dirs.push(dir);
    await writeFile(join(dir, LOCK_FILE), '{"pid":12');
    const start = performance.now();
    const held = await lockDataDir(dir, { fs: noLinks([]), partialGraceMs: 150 });
    expect(performance.now() - start).toBeGreaterThanOrEqual(150);
    expect(held.tookOver).toBe(`Took over the data directory lock ${join(dir, LOCK_FILE)}, left by a server killed as it started`);
    await held.release();
  });
});

/** Lock file operations whose reads of the lock fail with EMFILE (descriptors run out) while `failing.on`. */
const lockReadFailing = (): { readonly failing: { on: boolean }; readonly fs: LockFs } => {
  const failing = { on: false };
  const fs: LockFs = {
    ...nodeLockFs,
    readFile: async (path) => {
      if (failing.on && basename(path) === LOCK_FILE) throw Object.assign(new Error(`EMFILE: too many open files, open '${path}'`), { code: 'EMFILE' });
      return nodeLockFs.readFile(path);
    },
  };
  return { failing, fs };
};

describe('data directory lock: a holder that lost it (fencing)', () => {
  const { dirs } = cleanupAfterEach();
  /** A fresh directory and the lock taken on it with `options`. */
  const heldIn = async (options: Parameters<typeof lockDataDir>[1] = {}): Promise<{ dir: string; lock: string; held: Awaited<ReturnType<typeof lockDataDir>> }> => {
    const dir = await tempDir('forum-lock');
    dirs.push(dir);
    return { dir, lock: join(dir, LOCK_FILE), held: await lockDataDir(dir, options) };
  };
  /** Replaces the lock file whole with `text`, as a server taking it over leaves it (renamed into place). */
  const replaceWith = async (lock: string, text: string): Promise<void> => {
    await writeFile(`${lock}.new`, text);
    await rename(`${lock}.new`, lock);
  };
  const other = async (): Promise<string> => lockOf(4242, { ...(await currentPlace()), host: 'taker.example' });

  it('a write asks, and the lock taken over meanwhile (no renewal yet: a frozen holder just woken) answers false, naming the new holder; its lock stays', async () => {
    // A renewal that never comes within the test: the check does not wait for the timer.
    const { lock, held } = await heldIn({ renewMs: 3_600_000 });
    expect(await held.held()).toBe(true);
    expect(held.lost.aborted).toBe(false);
    const taker = await other();
    await replaceWith(lock, taker);
    // Before: nothing checked, and the holder went on writing beside the new one.
    expect(await held.held()).toBe(false);
    expect(held.lost.aborted).toBe(true);
    expect(held.lost.reason).toBeInstanceOf(DataDirLockLostError);
    expect(held.lost.reason).toMatchObject({
      code: 'ERR_DATA_DIR_LOCK_LOST',
      message: `lost the data directory lock ${lock}: it now names forum-server process 4242 on host "taker.example" (boot id ${(await currentPlace()).boot ?? 'unknown'}, pid namespace ${(await currentPlace()).pidns ?? 'unknown'}), which took the directory over; this server stops so that two servers never write the directory`,
    });
    // Lost for good, and the new holder's lock is not deleted by the release.
    await replaceWith(lock, await readFile(lock, 'utf8'));
    expect(await held.held()).toBe(false);
    await held.release();
    expect(await readFile(lock, 'utf8')).toBe(taker);
  });

  it('a read of the lock answered before a freeze and seen after it (slower than SLOW_READ_MS) is made again, and finds the lock taken over', async () => {
    const taker = await other();
    let freeze: ((lock: string) => Promise<void>) | undefined;
    const fs: LockFs = {
      ...nodeLockFs,
      readFile: async (path) => {
        const text = await nodeLockFs.readFile(path);
        const frozen = freeze;
        freeze = undefined;
        // The process frozen with this answer in hand, and the lock taken over meanwhile.
        await frozen?.(path);
        return text;
      },
    };
    const { held } = await heldIn({ fs, renewMs: 3_600_000 });
    freeze = async (lock) => {
      await replaceWith(lock, taker);
      await new Promise((resolve) => setTimeout(resolve, SLOW_READ_MS + 50));
    };
    // Before: true (the answer read before the freeze), and the write went ahead beside the new holder.
    expect(await held.held()).toBe(false);
    expect(held.lost.aborted).toBe(true);
  });

  it('the renewal finds the lock taken over without any write, and aborts `lost`', async () => {
    const { lock, held } = await heldIn({ renewMs: 50 });
    const aborted = new Promise<unknown>((resolve) => held.lost.addEventListener('abort', () => resolve(held.lost.reason)));
    await replaceWith(lock, `${GONE}\n`);
    // Before: the renewal saw another's text and silently stopped renewing.
    expect(await aborted).toMatchObject({ message: expect.stringContaining(`it now names process ${GONE} (an older forum-server's lock)`) });
    await held.release();
    expect(await readFile(lock, 'utf8')).toBe(`${GONE}\n`);
  });

  it('a lock deleted under its holder is lost, held again until the holder lets go (so no server starts meanwhile), then deleted', async () => {
    const { dir, lock, held } = await heldIn({ renewMs: 3_600_000 });
    const mine = await readFile(lock, 'utf8');
    await unlink(lock);
    expect(await held.held()).toBe(false);
    expect(held.lost.reason).toMatchObject({
      message: `lost the data directory lock ${lock}: the lock file was deleted while this server held it, and another server may have used the directory meanwhile; this server stops so that two servers never write the directory`,
    });
    // Its record is back while it stops: a server starting now is refused, not let in beside the writes finishing.
    expect(await readFile(lock, 'utf8')).toBe(mine);
    await held.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('a holder that lets go as soon as it hears its deleted lock is lost leaves no lock behind', async () => {
    const { dir, lock, held } = await heldIn({ renewMs: 3_600_000 });
    let released: Promise<void> | undefined;
    held.lost.addEventListener('abort', () => (released = held.release()));
    await unlink(lock);
    expect(await held.held()).toBe(false);
    await released;
    // Before: the loss was told before the lock was created again, the release found no file, and the re-created one stayed.
    expect(await readdir(dir)).toEqual([]);
  });

  it('an unreadable lock refuses the writes, and is lost once unread for staleMs', async () => {
    const failing = { on: false };
    const fs: LockFs = {
      ...nodeLockFs,
      readFile: async (path) => {
        if (failing.on && basename(path) === LOCK_FILE) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
        return nodeLockFs.readFile(path);
      },
    };
    const { held } = await heldIn({ fs, renewMs: 3_600_000, staleMs: 300 });
    failing.on = true;
    // Cannot tell: no write goes ahead (unknown, not false), but the holder keeps its lock while others cannot judge it stale yet.
    await expect(held.held()).rejects.toMatchObject({ code: 'ERR_DATA_DIR_LOCK_UNREADABLE', message: expect.stringMatching(/could not be read \(EIO: i\/o error, read\): the write is refused, not lost/) });
    expect(held.lost.aborted).toBe(false);
    failing.on = false;
    expect(await held.held()).toBe(true);
    failing.on = true;
    const start = performance.now();
    await expect.poll(async () => (await held.held().catch(() => undefined), held.lost.aborted), { interval: 50, timeout: 5_000 }).toBe(true);
    expect(performance.now() - start).toBeGreaterThanOrEqual(250);
    expect(held.lost.reason).toMatchObject({ message: expect.stringMatching(/: it could not be read for 0 s \(EIO: i\/o error, read\), and other servers may judge it stale; /) });
    failing.on = false;
    await held.release();
  });

  it('writes asking at once share reads of the lock, and one asking during a read gets the next read, begun after it', async () => {
    let reads = 0;
    let during: (() => Promise<void>) | undefined;
    const fs: LockFs = {
      ...nodeLockFs,
      readFile: async (path) => {
        const text = await nodeLockFs.readFile(path);
        if (basename(path) === LOCK_FILE) {
          reads++;
          const hook = during;
          during = undefined;
          await hook?.();
        }
        return text;
      },
    };
    const { lock, held } = await heldIn({ fs, renewMs: 3_600_000 });
    const asked = await Promise.all(Array.from({ length: 20 }, () => held.held()));
    expect(asked).toEqual(Array.from({ length: 20 }, () => true));
    // The first read, and one more for all who asked while it ran.
    expect(reads).toBe(2);
    // The lock is taken over while a read is under way: that read saw it ours, a write asking meanwhile is refused.
    const taker = await other();
    let late: Promise<boolean> | undefined;
    during = async () => {
      await replaceWith(lock, taker);
      late = held.held();
    };
    expect(await held.held()).toBe(true);
    expect(await late).toBe(false);
    await held.release();
  });

  it('an abandoned lock (a process exiting at once) is deleted synchronously, during a release under way too; one taken over meanwhile stays', async () => {
    const { lock, held } = await heldIn();
    const releasing = held.release();
    // No turn of the event loop between: the release has not read the file yet.
    held.abandon();
    await expect(stat(lock)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await held.held()).toBe(false);
    await releasing;
    const taken = await heldIn();
    const taker = await other();
    await replaceWith(taken.lock, taker);
    taken.held.abandon();
    expect(await readFile(taken.lock, 'utf8')).toBe(taker);
  });

  it('abandonDataDirLocks (a process exiting at once during a start) deletes every lock of this process synchronously; one taken over meanwhile stays', async () => {
    const first = await heldIn();
    const second = await heldIn();
    const taker = await other();
    await replaceWith(second.lock, taker);
    abandonDataDirLocks();
    await expect(stat(first.lock)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await first.held.held()).toBe(false);
    expect(await readFile(second.lock, 'utf8')).toBe(taker);
    // Given up: the directory may be locked again in this process.
    const again = await lockDataDir(first.dir);
    await again.release();
  });

  it("abandonDataDirLocks leaves a lock whose holder is busy (the store's recovery writing under it as the server starts), and deletes it once not", async () => {
    let busy = true;
    const { lock, held } = await heldIn({ busy: () => busy });
    const mine = await readFile(lock, 'utf8');
    // Before: deleted, and a recovery write on a slow disk landed after it while another server took the directory.
    abandonDataDirLocks();
    expect(await readFile(lock, 'utf8')).toBe(mine);
    expect(await held.held()).toBe(true);
    busy = false;
    abandonDataDirLocks();
    await expect(stat(lock)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('out of descriptors (EMFILE reading the lock), a fenced write is refused as the lock unreadable, not lost; the next one goes ahead', async () => {
    const { failing, fs } = lockReadFailing();
    const { held } = await heldIn({ fs, renewMs: 3_600_000 });
    const base = createMemoryStore();
    const { store } = fencedStore(base, () => held.held());
    failing.on = true;
    // Several at once share one read: each is refused with its reason.
    const refused = await Promise.all([store.createThread('t', 'yoda')(), store.createAccount({ username: 'leia', password: 'pw' })()]);
    for (const r of refused) {
      // Before: 'write refused: this server no longer holds the data directory lock', while it did.
      expect(r).toEqual({ _tag: 'Left', left: { kind: 'io', message: expect.stringMatching(/^write refused, nothing written: the data directory lock .* could not be read \(EMFILE: too many open files/) } });
      expect(r._tag === 'Left' && r.left.kind === 'io' && r.left.message).not.toContain(LOCK_LOST_ERROR.message);
    }
    expect(await base.listThreads()()).toEqual({ _tag: 'Right', right: [] });
    expect(held.lost.aborted).toBe(false);
    failing.on = false;
    expect(await store.createThread('t', 'yoda')()).toEqual({ _tag: 'Right', right: true });    await held.release();
  });

  it('a lock file unreadable from a write on, past the fenced re-reads and past staleMs: the change is answered "may or may not be stored", one refused before its write as failed', async () => {
    const { failing, fs } = lockReadFailing();
    const unconfirmed = unconfirmedWriteText('command');
    const generic = 'The server could not complete the command, please try again';
    for (const staleMs of [60_000, 150]) {
      failing.on = false;
      const { held } = await heldIn({ fs, renewMs: 3_600_000, staleMs });
      const base = createMemoryStore({ accounts: [{ username: 'yoda', password: 'pw' }] });
      // Descriptors run out while the thread is written, for longer than the 3 re-reads (300 ms), or than staleMs.
      const writing: ForumStore = {
        ...base,
        createThread: (title, creator) => async () => {
          const r = await base.createThread(title, creator)();
          failing.on = true;
          return r;
        },
      };
      const { store } = fencedStore(writing, () => held.held());
      const written = await store.createThread('t', 'yoda')();
      expect(await base.listThreads()()).toEqual({ _tag: 'Right', right: ['t'] });
      expect(written._tag === 'Left' && commandErrorText(written.left)).toBe(unconfirmed);
      expect(held.lost.aborted).toBe(staleMs < AFTER_WRITE_REREADS * AFTER_WRITE_REREAD_MS);
      // Still unreadable (or lost): the next change is refused before it writes, and said to have failed.
      const refused = await store.createThread('u', 'yoda')();
      expect(refused._tag === 'Left' && commandErrorText(refused.left)).toBe(generic);
      expect(await base.listThreads()()).toEqual({ _tag: 'Right', right: ['t'] });
      failing.on = false;
      await held.release();
    }
  });

  it('a released lock answers false: nothing is written after the server let go', async () => {
    const { held } = await heldIn();
    await held.release();
    expect(await held.held()).toBe(false);
    expect(held.lost.aborted).toBe(false);
  });
});

describe('data directory lock: a start given up (its signal aborted)', () => {
  const { dirs } = cleanupAfterEach();

  it("the wait for another container's lock ends at once, rejecting with an AbortError; that lock stays", async () => {
    const dir = await tempDir('forum-lock');
    dirs.push(dir);
    const text = lockOf(1, { ...(await currentPlace()), pidns: 'pid:[4026532999]' });
    await writeFile(join(dir, LOCK_FILE), text);
    const controller = new AbortController();
    let aborted = 0;
    // Aborted as the wait (up to staleMs, 30 s) begins. Before: the option did not exist, and the start waited on.
    const taking = lockDataDir(dir, {
      signal: controller.signal,
      onWait: () => {
        aborted = performance.now();
        controller.abort();
      },
    });
    await expect(taking).rejects.toMatchObject({ name: 'AbortError' });
    // Far under the 30 s the old start waited, far over a loaded machine's stall (a 1 s bound was within one).
    expect(performance.now() - aborted).toBeLessThan(10_000);
    expect(await readFile(join(dir, LOCK_FILE), 'utf8')).toBe(text);
    // Nothing of this process holds the directory: it may be taken (here once the other lock is gone).
    await unlink(join(dir, LOCK_FILE));
    const held = await lockDataDir(dir);
    await held.release();
  });

  it('a lock taken as the start is given up is released, not left behind', async () => {
    const dir = await tempDir('forum-lock');
    dirs.push(dir);
    const controller = new AbortController();
    const taking = lockDataDir(dir, { signal: controller.signal });
    // While the lock is being taken (its directory read, its file created): the take completes, then lets go.
    controller.abort();
    await expect(taking).rejects.toMatchObject({ name: 'AbortError' });
    await expect(stat(join(dir, LOCK_FILE))).rejects.toMatchObject({ code: 'ENOENT' });
    const held = await lockDataDir(dir);
    await held.release();
  });
});

describe('data directory lock: a takeover guard left behind', () => {
  const { dirs } = cleanupAfterEach();
  /** A directory with a stale lock (its process gone) and a takeover guard holding `guard`, last modified `ageMs` ago. */
  const guarded = async (guard: string, ageMs: number): Promise<{ dir: string; lock: string; guardPath: string }> => {
    const dir = await tempDir('forum-lock');
    dirs.push(dir);
    const lock = join(dir, LOCK_FILE);
    await writeFile(lock, lockOf(GONE, await currentPlace()));
    const guardPath = `${lock}.takeover`;
    await writeFile(guardPath, guard);
    const at = new Date(Date.now() - ageMs);
    await utimes(guardPath, at, at);
    return { dir, lock, guardPath };
  };

  it('a guard whose process is gone (a takeover killed mid-way) is removed and the lock taken over, the log naming both', async () => {
    const { dir, lock, guardPath } = await guarded(lockOf(GONE - 1, await currentPlace()), 0);
    const taken = await lockDataDir(dir);
    expect(taken.tookOver).toBe(
      `Took over the data directory lock ${lock}, left by process ${GONE}, which is no longer running (and its takeover guard ${lock}.takeover, left by process ${GONE - 1}, which is no longer running)`,
    );
    await expect(stat(guardPath)).rejects.toMatchObject({ code: 'ENOENT' });
    await taken.release();
  });

  const oldGuards = [
    // Judged by its age (a guard is never renewed), not as a lock, which waits for two renewals first.
    ['another container', { pidns: 'pid:[4026532999]' }, 'a takeover that did not finish within 60 s'],
    // Before: refused as held by a host that cannot be checked, or waited for as being written, until the attempts ran out.
    ['another host', { host: 'elsewhere.example', boot: '55555555-5555-5555-5555-555555555555' }, 'a takeover that did not finish within 60 s'],
    ['a record cut short', undefined, 'a takeover that did not finish within 60 s'],
  ] as const;
  for (const [what, place, by] of oldGuards) {
    it(`a guard of ${what} older than staleMs is removed at once`, async () => {
      const here = await currentPlace();
      const { dir, lock, guardPath } = await guarded(place === undefined ? '{"pid":1' : lockOf(1, { ...here, ...place }), 60_000);
      const start = performance.now();
      // Before (another host, cut short): every start failed with "could not take …: other servers are starting on it (if none is, delete ….takeover)".
      const taken = await lockDataDir(dir, { partialGraceMs: 60_000 });
      // Not the 60 s grace: bounded far under it, and far over a loaded machine's stalls.
      expect(performance.now() - start).toBeLessThan(15_000);
      expect(taken.tookOver).toMatch(new RegExp(`\\(and its takeover guard ${lock.replace(/[.]/g, '\\.')}\\.takeover, left by ${by}\\)$`));
      await expect(stat(guardPath)).rejects.toMatchObject({ code: 'ENOENT' });
      await taken.release();
    });
  }

  it("a fresh guard of another container is waited for (its takeover may be under way), and removed once it has been there staleMs", async () => {
    const here = await currentPlace();
    const { dir, guardPath } = await guarded(lockOf(1, { ...here, pidns: 'pid:[4026532999]' }), 0);
    const start = performance.now();
    // Before: the attempts ran out within a second or two, the start failed, and so did every later one within staleMs.
    const taken = await lockDataDir(dir, { renewMs: 50, staleMs: 4_000 });
    expect(performance.now() - start).toBeGreaterThanOrEqual(3_900);
    expect(taken.tookOver).toMatch(/\.takeover, left by process 1 in another container or process-id namespace of this host \(.*\), unrenewed for \d+ s\)$/);
    await expect(stat(guardPath)).rejects.toMatchObject({ code: 'ENOENT' });
    await taken.release();
  });

  it("a guard another server removes as its takeover ends is waited for, not removed: that server's lock is then judged", async () => {
    const here = await currentPlace();
    const { dir, lock, guardPath } = await guarded(lockOf(process.ppid, here), 0);
    // The other server (this test's parent process, which runs) finishes its takeover 300 ms later: its lock replaces the stale one.
    const finish = setTimeout(() => {
      void writeFile(lock, lockOf(process.ppid, here)).then(() => unlink(guardPath));
    }, 300);
    try {
      await expect(lockDataDir(dir, { staleMs: 10_000 })).rejects.toThrow(`in use by forum-server process ${process.ppid} (${lock})`);
    } finally {
      clearTimeout(finish);
    }
  });
});
