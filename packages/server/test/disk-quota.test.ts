import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { availableBytes, DiskQuota } from '../src/disk-quota.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
const tempDir = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'quota-'));
  dirs.push(d);
  return d;
};

describe('DiskQuota', () => {
  it('keeps minFreeBytes free: uploads in progress count against the free space until released', async () => {
    const dir = await tempDir();
    let free = 10_000;
    const quota = new DiskQuota(dir, undefined, 4_000, async () => free);
    const a = await quota.reserve(5_000);
    expect(a.ok).toBe(true);
    // 10,000 free less 5,000 promised leaves 5,000: 1,001 more would leave under 4,000.
    expect(await quota.reserve(1_001)).toEqual({ ok: false, reason: 'disk nearly full: the server keeps 4000 bytes free, 1000 can be used, this file has 1001' });
    const b = await quota.reserve(1_000);
    expect(b.ok).toBe(true);
    if (a.ok) a.release();
    if (b.ok) b.release();
    expect((await quota.reserve(6_000)).ok).toBe(true);
    free = 100;
    expect(await quota.reserve(1)).toMatchObject({ ok: false, reason: expect.stringContaining('0 can be used') as unknown });
  });

  it('concurrent reservations see each other: of two that fit only one at a time, one is refused', async () => {
    const dir = await tempDir();
    const quota = new DiskQuota(dir, undefined, 1_000, async () => 7_000);
    const grants = await Promise.all([quota.reserve(4_000), quota.reserve(4_000)]);
    expect(grants.map((g) => g.ok).sort()).toEqual([false, true]);
    // Both limits on: each measurement is awaited, and still neither reservation may miss the other.
    const capped = new DiskQuota(dir, 5_000, 1, async () => 1e9);
    const both = await Promise.all([capped.reserve(3_000), capped.reserve(3_000)]);
    expect(both.map((g) => g.ok).sort()).toEqual([false, true]);
  });

  it('an upload that ends while another measures is not lost between the measurement and the release', async () => {
    const dir = await tempDir();
    let free = 10_000;
    let measured: () => void = () => undefined;
    let measuring: Promise<void> = Promise.resolve();
    const quota = new DiskQuota(dir, undefined, 4_000, async () => {
      const seen = free;
      await measuring;
      return seen;
    });
    const a = await quota.reserve(5_000);
    expect(a.ok).toBe(true);
    measuring = new Promise((resolve) => (measured = resolve));
    const b = quota.reserve(5_000);
    // A's bytes land on disk and its reservation ends while B's measurement (10,000 free) is under way.
    free = 5_000;
    if (a.ok) a.release();
    measured();
    expect((await b).ok).toBe(false);
  });

  it('checks the quota of the directory and the free space both; 0 keeps no free space', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'x'), Buffer.alloc(3_000));
    const both = new DiskQuota(dir, 5_000, 1, async () => 1_000_000);
    expect(await both.reserve(2_001)).toMatchObject({ ok: false, reason: expect.stringMatching(/^disk quota exceeded/) as unknown });
    expect((await both.reserve(2_000)).ok).toBe(true);
    const none = new DiskQuota(dir, undefined, 0, async () => 0);
    expect((await none.reserve(1e12)).ok).toBe(true);
  });

  it('counts a file whose name is not UTF-8 (read as a string, its name came back with U+FFFD and its stat found nothing)', async () => {
    const dir = await tempDir();
    await writeFile(Buffer.concat([Buffer.from(join(dir, 'caf')), Buffer.from([0xe9])]), Buffer.alloc(3_000));
    const quota = new DiskQuota(dir, 5_000, 0, async () => 1_000_000);
    expect(await quota.reserve(2_001)).toMatchObject({ ok: false, reason: expect.stringMatching(/^disk quota exceeded/) as unknown });
    expect((await quota.reserve(2_000)).ok).toBe(true);
  });

  it('measures the real file system', async () => {
    const free = await availableBytes(await tempDir());
    expect(Number.isSafeInteger(free) && free > 0).toBe(true);
  });
});

describe('DiskQuota: measuring the directory (a stat per file)', () => {
  /** A quota of 5,000 bytes over a fake directory: its measurements counted, each ended by hand, on a hand-moved clock. */
  const fakeDirectory = (): { quota: DiskQuota; calls: () => number; end: (bytes: number, tookMs: number) => void; clock: { now: number } } => {
    const clock = { now: 0 };
    const pending: ((bytes: number) => void)[] = [];
    let calls = 0;
    const quota = new DiskQuota(
      '/nonexistent',
      5_000,
      0,
      async () => 1e12,
      () => {
        calls++;
        return new Promise<number>((resolve) => pending.push(resolve));
      },
      () => clock.now,
    );
    const end = (bytes: number, tookMs: number): void => {
      clock.now += tookMs;
      for (const r of pending.splice(0)) r(bytes);
    };
    return { quota, calls: () => calls, end, clock };
  };

  it('reservations that overlap share one measurement, and one that follows within 10 times its duration reuses it (attack round 5: a stat per file per upload)', async () => {
    const { quota, calls, end, clock } = fakeDirectory();
    const grants = Array.from({ length: 20 }, () => quota.reserve(10));
    // Each reservation used to walk the whole directory: 20 walks, now one.
    await Promise.resolve();
    expect(calls()).toBe(1);
    end(1_000, 100);
    expect((await Promise.all(grants)).every((g) => g.ok)).toBe(true);
    clock.now += 1_000;
    expect((await quota.reserve(10)).ok).toBe(true);
    expect(calls()).toBe(1);
    clock.now += 1;
    const later = quota.reserve(10);
    await Promise.resolve();
    expect(calls()).toBe(2);
    end(1_000, 1);
    expect((await later).ok).toBe(true);
  });

  it('a reused measurement still counts the bytes of uploads that ended since it started', async () => {
    const { quota, end } = fakeDirectory();
    const first = quota.reserve(3_000);
    end(0, 100);
    const a = await first;
    expect(a.ok).toBe(true);
    // A's 3,000 bytes land and its room is released; the measurement (0 bytes) is reused: 2,001 more do not fit.
    if (a.ok) a.release();
    expect(await quota.reserve(2_001)).toMatchObject({ ok: false, reason: expect.stringContaining('2000 are free') as unknown });
    expect((await quota.reserve(2_000)).ok).toBe(true);
  });

  it('upload files RMV deleted are counted off a reused measurement at once; those deleted while it ran stay counted', async () => {
    const { quota, end } = fakeDirectory();
    const first = quota.reserve(10);
    end(4_500, 100);
    expect((await first).ok).toBe(true);
    // The measurement (4,500 of 5,000) is reused for 1 s: the room an RMV freed was refused meanwhile.
    quota.uploadsRemoved(4_000);
    expect((await quota.reserve(4_490)).ok).toBe(true);
    // Removed while a measurement runs: it may have been counted or not, so it is not taken off.
    const { quota: q2, end: end2, clock } = fakeDirectory();
    const a = q2.reserve(10);
    await Promise.resolve();
    q2.uploadsRemoved(4_000);
    end2(4_500, 100);
    expect((await a).ok).toBe(true);
    clock.now += 1;
    expect(await q2.reserve(500)).toMatchObject({ ok: false, reason: expect.stringContaining('490 are free') as unknown });
  });

  it('a deletion RMV reported and then took back (its unlink failed) is counted again', async () => {
    const { quota, end } = fakeDirectory();
    const first = quota.reserve(10);
    end(4_500, 100);
    expect((await first).ok).toBe(true);
    quota.uploadsRemoved(4_000);
    quota.uploadsRemoved(-4_000);
    expect(await quota.reserve(500)).toMatchObject({ ok: false, reason: expect.stringContaining('490 are free') as unknown });
  });

  it('a failed measurement is not reused', async () => {
    let calls = 0;
    const quota = new DiskQuota('/nonexistent', 5_000, 0, async () => 1e12, async () => {
      calls++;
      if (calls === 1) throw new Error('EIO');
      return 0;
    });
    await expect(quota.reserve(10)).rejects.toThrow('EIO');
    expect((await quota.reserve(10)).ok).toBe(true);
    expect(calls).toBe(2);
  });
});
