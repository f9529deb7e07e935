/** The transfer pace as a rule, on vitest's fake clock: what it asks over a window, when it judges, and what a hold leaves out. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_TRANSFER_PACE, downloadTailMs, transferTooSlow, watchTransferPace } from '../src/transfer-pace.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('transfer pace', () => {
  beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => void vi.useRealTimers());

  it('asks 4 KiB a second over the last 30 s: 122,880 bytes pass, one fewer does not; the reason says which way and what it counted', () => {
    expect(transferTooSlow('download', 122_880)).toBeUndefined();
    expect(transferTooSlow('download', 122_879)).toBe('download too slow: 122879 bytes taken in the last 30 s, the server needs 4096 bytes a second');
    expect(transferTooSlow('upload', 122_879)).toBe('upload too slow: 122879 bytes received in the last 30 s, the server needs 4096 bytes a second');
    // Over a span longer than the window (a late timer), in proportion.
    expect(transferTooSlow('upload', 131_072, DEFAULT_TRANSFER_PACE, 32_000)).toBeUndefined();
    expect(transferTooSlow('upload', 131_071, DEFAULT_TRANSFER_PACE, 32_000)).toBe('upload too slow: 131071 bytes received in the last 32 s, the server needs 4096 bytes a second');
  });

  it('judges nothing before a whole window; then each tenth of one, over the last window only (4 MiB taken at once and nothing more: cut at 33 s, the first window that leaves them out)', () => {
    let taken = 0;
    const reasons: string[] = [];
    watchTransferPace('download', () => taken, DEFAULT_TRANSFER_PACE, (r) => reasons.push(r));
    // The kernel's send buffer filled in the first second; the receiver reads nothing after.
    taken = 4 * MiB;
    vi.advanceTimersByTime(29_999);
    expect(reasons).toEqual([]);
    vi.advanceTimersByTime(3_001);
    expect(reasons).toEqual(['download too slow: 0 bytes taken in the last 30 s, the server needs 4096 bytes a second']);
    // Once: the connection is gone.
    vi.advanceTimersByTime(60_000);
    expect(reasons).toHaveLength(1);
  });

  it('an upload of 100 MiB in its first second and then a byte every 25 s is cut 33 s in (an average since the start gave it 7.1 hours)', () => {
    let received = 0;
    const reasons: string[] = [];
    watchTransferPace('upload', () => received, DEFAULT_TRANSFER_PACE, (r) => reasons.push(r));
    received = 100 * MiB;
    for (let s = 1; s <= 32; s++) {
      if (s % 25 === 0) received++;
      vi.advanceTimersByTime(1000);
    }
    expect(reasons).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(reasons).toEqual(['upload too slow: 1 bytes received in the last 30 s, the server needs 4096 bytes a second']);
  });

  it('a transfer at the pace runs on for good, one at 8 KiB a second too, and a stopped watch judges nothing', () => {
    let moved = 0;
    let fast = 0;
    const reasons: string[] = [];
    const watches = [watchTransferPace('download', () => moved, DEFAULT_TRANSFER_PACE, (r) => reasons.push(r)), watchTransferPace('upload', () => fast, DEFAULT_TRANSFER_PACE, (r) => reasons.push(r))];
    for (let s = 0; s < 3600; s++) {
      moved += 4096;
      fast += 8192;
      vi.advanceTimersByTime(1000);
    }
    expect(reasons).toEqual([]);
    for (const w of watches) w.stop();
    vi.advanceTimersByTime(120_000);
    expect(reasons).toEqual([]);
  });

  it("the server's hold is not the client's time: an upload at 8 KiB a second held 5 minutes by its store goes on; nothing is judged during a hold", () => {
    let received = 0;
    const reasons: string[] = [];
    const pace = watchTransferPace('upload', () => received, DEFAULT_TRANSFER_PACE, (r) => reasons.push(r));
    const run = (seconds: number): void => {
      for (let s = 0; s < seconds; s++) {
        received += 8192;
        vi.advanceTimersByTime(1000);
      }
    };
    run(40);
    // The store's write pends 5 minutes: the server reads nothing meanwhile, so nothing arrives.
    pace.hold();
    pace.hold();
    pace.release();
    vi.advanceTimersByTime(300_000);
    pace.release();
    run(60);
    expect(reasons).toEqual([]);
  });

  it("a hold does not excuse the client's own silence: held 10 s, then silent, an upload is cut a window of its own time after it began", () => {
    const reasons: string[] = [];
    const pace = watchTransferPace('upload', () => 0, DEFAULT_TRANSFER_PACE, (r) => reasons.push(r));
    vi.advanceTimersByTime(5_000);
    pace.hold();
    vi.advanceTimersByTime(10_000);
    pace.release();
    // 5 s before the hold and 25 s after it: 30 s of the client's time, judged at the next tick.
    vi.advanceTimersByTime(25_000 + 3_000);
    expect(reasons).toEqual(['upload too slow: 0 bytes received in the last 30 s, the server needs 4096 bytes a second']);
  });

  it("a transfer the server holds back 99 % of the time is checked once a tick of the client's time: 10 minutes of 99 ms holds 1 ms apart, 6 s of the client's, 2 checks (before: its timer, set by real time, fired 798 times)", () => {
    // Each timer the watch sets, counted as it fires: a check of the pace.
    let fired = 0;
    const fakeSetTimeout = globalThis.setTimeout;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) =>
      fakeSetTimeout(() => {
        fired++;
        fn();
      }, ms)) as typeof setTimeout);
    let received = 0;
    let samples = 0;
    const reasons: string[] = [];
    const pace = watchTransferPace(
      'upload',
      () => {
        samples++;
        return received;
      },
      DEFAULT_TRANSFER_PACE,
      (r) => reasons.push(r),
    );
    expect(samples).toBe(1);
    // A store that takes each write in 99 ms; between two, the client's 8 bytes of its 1 ms (8 KiB a second of its time).
    for (let i = 0; i < 6000; i++) {
      pace.hold();
      vi.advanceTimersByTime(99);
      pace.release();
      received += 8;
      vi.advanceTimersByTime(1);
    }
    // The ticks at 3 s and 6 s of the client's time, and nothing else.
    expect(fired).toBe(2);
    expect(samples).toBe(3);
    expect(reasons).toEqual([]);
    // The rule as before: silent from now, it is judged at 30 s of its own time, over that window (48,000 bytes).
    vi.advanceTimersByTime(23_999);
    expect(reasons).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(reasons).toEqual(['upload too slow: 48000 bytes received in the last 30 s, the server needs 4096 bytes a second']);
    // Its ticks at 9, 12, … 30 s.
    expect(fired).toBe(2 + 8);
  });

  it('0 bytes a second: no pace', () => {
    const reasons: string[] = [];
    watchTransferPace('upload', () => 0, { minBytesPerSecond: 0, windowMs: 1000 }, (r) => reasons.push(r));
    vi.advanceTimersByTime(60_000);
    expect(reasons).toEqual([]);
  });

  it('a tail lasts what the kernel may still hold at 4 KiB a second: 17 min for 4 MiB or more, never under the stall limit', () => {
    expect(downloadTailMs(4 * MiB, 4 * MiB, 30_000)).toBe(1_024_000);
    // Past the send buffer's ceiling the rest was taken (read) already.
    expect(downloadTailMs(100 * MiB, 4 * MiB, 30_000)).toBe(1_024_000);
    expect(downloadTailMs(MiB, 4 * MiB, 30_000)).toBe(256_000);
    expect(downloadTailMs(1000, 4 * MiB, 30_000)).toBe(30_000);
    expect(downloadTailMs(MiB, 4 * MiB, 30_000, { minBytesPerSecond: 0, windowMs: 30_000 })).toBe(30_000);
  });
});
