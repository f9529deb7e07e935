import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskQuota } from '../src/disk-quota.js';
import { FIRST_RESERVATION_BYTES, MAX_RESERVATION_AHEAD_BYTES, UploadReservation } from '../src/upload-reservation.js';
import { UploadsPerUser } from '../src/uploads-per-user.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
const tempDir = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'reservation-'));
  dirs.push(d);
  return d;
};

const started = async (quota: DiskQuota, size: number): Promise<UploadReservation> => {
  const r = await UploadReservation.start(quota, size);
  if (!r.ok) throw new Error(r.reason);
  return r.reservation;
};

describe('UploadReservation', () => {
  it('eight uploads announcing 1 GiB that sent a byte each hold a first piece each, not 8 GiB: a 10 MiB upload still fits', async () => {
    // The finding's numbers: 8.5 GiB usable over the floor.
    const quota = new DiskQuota(await tempDir(), undefined, GiB, async () => GiB + 8.5 * GiB);
    const held = await Promise.all(Array.from({ length: 8 }, () => started(quota, GiB)));
    for (const r of held) expect(await r.cover(1)).toBeUndefined();
    expect(held.map((r) => r.held)).toEqual(Array<number>(8).fill(FIRST_RESERVATION_BYTES));
    expect((await UploadReservation.start(quota, 10 * MiB)).ok).toBe(true);
  });

  it('an upload stopped early frees the room it had not written at once, though the quota reuses its last walk of the directory', async () => {
    // A directory walk reused for good (the clock stands still): only the quota's own counts move.
    const quota = new DiskQuota('/nonexistent', MiB + MiB / 2, 0, async () => 1e12, async () => 0, () => 0);
    const stopped = await started(quota, MiB);
    stopped.written(3);
    stopped.release();
    // Before, the unwritten rest of its first MiB was counted as stored until the next walk: refused.
    const next = await UploadReservation.start(quota, MiB);
    expect(next.ok).toBe(true);
  });

  it('an honest upload is reserved ahead piece by piece, never more than 32 MiB past its bytes, and completes when the whole file fits', async () => {
    let onDisk = 0;
    // 1.2 GiB usable; the disk fills as the bytes land.
    const quota = new DiskQuota(await tempDir(), undefined, GiB, async () => 2.2 * GiB - onDisk);
    const size = GiB;
    const r = await started(quota, size);
    let most = 0;
    for (let got = 0; got < size; ) {
      got = Math.min(size, got + 4 * MiB);
      expect(await r.cover(got)).toBeUndefined();
      most = Math.max(most, r.held);
      onDisk = got;
      r.written(got);
    }
    expect(most).toBeLessThanOrEqual(MAX_RESERVATION_AHEAD_BYTES + 4 * MiB);
    expect(r.held).toBe(0);
    r.release();
    expect((await UploadReservation.start(quota, 0.2 * GiB - MiB)).ok).toBe(true);
  });

  it('refuses a file that cannot fit now before its bytes, and a piece that no longer fits with the quota\'s line', async () => {
    // 15 MiB usable.
    const quota = new DiskQuota(await tempDir(), undefined, 1000, async () => 1000 + 15 * MiB);
    expect(await UploadReservation.start(quota, 15 * MiB + 1)).toEqual({ ok: false, reason: `disk nearly full: the server keeps 1000 bytes free, ${15 * MiB} can be used, this file has ${15 * MiB + 1}` });
    const a = await started(quota, 10 * MiB);
    const b = await started(quota, 10 * MiB);
    // Both fit alone (each holds 1 MiB so far); together they do not: the one that reaches the room second is refused as it does.
    expect(await a.cover(10 * MiB)).toBeUndefined();
    expect(await b.cover(10 * MiB)).toBe(`disk nearly full: the server keeps 1000 bytes free, ${4 * MiB} can be used, this file needs ${9 * MiB} more (of its ${10 * MiB})`);
    a.release();
    b.release();
    expect((await UploadReservation.start(quota, 10 * MiB)).ok).toBe(true);
  });
});

describe('UploadsPerUser', () => {
  it('counts each user alone, and an ended upload frees its place once', () => {
    const u = new UploadsPerUser(2);
    const a1 = u.start('a');
    const a2 = u.start('a');
    expect(u.start('a')).toBeUndefined();
    expect(u.start('b')).toBeDefined();
    a1?.();
    a1?.();
    expect(u.start('a')).toBeDefined();
    expect(u.start('a')).toBeUndefined();
    a2?.();
    expect(u.refusal).toBe('too many uploads at once: a user may send at most 2 at a time');
  });
});
