/** The download pace as a rule, on vitest's fake clock: what it asks over a window, and when it judges. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_DOWNLOAD_PACE, downloadTailMs, downloadTooSlow, watchDownloadPace } from '../src/download-pace.js';

describe('download pace', () => {
  afterEach(() => void vi.useRealTimers());

  it('asks 4 KiB a second over the last 30 s: 122,880 bytes pass, one fewer does not', () => {
    expect(downloadTooSlow(122_880)).toBeUndefined();
    expect(downloadTooSlow(122_879)).toBe('download too slow: 122879 bytes taken in the last 30 s, the server needs 4096 bytes a second');
  });

  it('judges nothing before a whole window; then each tenth of one, over the last window only (4 MiB taken at once and nothing more: cut at 33 s, the first window that leaves them out)', () => {
    vi.useFakeTimers();
    let taken = 0;
    const reasons: string[] = [];
    watchDownloadPace(() => taken, DEFAULT_DOWNLOAD_PACE, (r) => reasons.push(r));
    // The kernel's send buffer filled in the first second; the receiver reads nothing after.
    taken = 4 * 1024 * 1024;
    vi.advanceTimersByTime(29_999);
    expect(reasons).toEqual([]);
    vi.advanceTimersByTime(3_001);
    expect(reasons).toEqual(['download too slow: 0 bytes taken in the last 30 s, the server needs 4096 bytes a second']);
    // Once: the connection is gone.
    vi.advanceTimersByTime(60_000);
    expect(reasons).toHaveLength(1);
  });

  it('a receiver at the pace runs on for good, and a stopped watch judges nothing', () => {
    vi.useFakeTimers();
    let taken = 0;
    const reasons: string[] = [];
    const stop = watchDownloadPace(() => taken, DEFAULT_DOWNLOAD_PACE, (r) => reasons.push(r));
    for (let s = 0; s < 3600; s++) {
      taken += 4096;
      vi.advanceTimersByTime(1000);
    }
    expect(reasons).toEqual([]);
    stop();
    vi.advanceTimersByTime(120_000);
    expect(reasons).toEqual([]);
  });

  it('0 bytes a second: no pace', () => {
    vi.useFakeTimers();
    const reasons: string[] = [];
    watchDownloadPace(() => 0, { minBytesPerSecond: 0, windowMs: 1000 }, (r) => reasons.push(r));
    vi.advanceTimersByTime(60_000);
    expect(reasons).toEqual([]);
  });

  it('a tail lasts what the kernel may still hold at 4 KiB a second: 17 min for 4 MiB or more, never under the stall limit', () => {
    const MiB = 1024 * 1024;
    expect(downloadTailMs(4 * MiB, 4 * MiB, 30_000)).toBe(1_024_000);
    // Past the send buffer's ceiling the rest was taken (read) already.
    expect(downloadTailMs(100 * MiB, 4 * MiB, 30_000)).toBe(1_024_000);
    expect(downloadTailMs(MiB, 4 * MiB, 30_000)).toBe(256_000);
    expect(downloadTailMs(1000, 4 * MiB, 30_000)).toBe(30_000);
    expect(downloadTailMs(MiB, 4 * MiB, 30_000, { minBytesPerSecond: 0, windowMs: 30_000 })).toBe(30_000);
  });
});

