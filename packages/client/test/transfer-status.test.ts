import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, RateMeter, statusText } from '../src/transfer-status.js';

describe('transfer status text', () => {
  it('sizes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(400 * 1024 * 1024)).toBe('400.0 MiB');
    expect(formatBytes(1.2 * 1024 ** 3)).toBe('1.20 GiB');
  });

  it('durations rounded up to the second', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(6.2)).toBe('7s');
    expect(formatDuration(125)).toBe('2m 05s');
    expect(formatDuration(3600 + 4 * 60 + 1)).toBe('1h 04m');
  });

  it('size, rate and time left; unknown rate as …, no progress as stalled', () => {
    const MiB = 1024 * 1024;
    expect(statusText(100 * MiB, 400 * MiB, 50 * MiB)).toBe('100.0 MiB of 400.0 MiB · 50.0 MiB/s · 6s left');
    expect(statusText(0, 2048, undefined)).toBe('0 B of 2.0 KiB · … · …');
    expect(statusText(10, 2048, 0)).toBe('10 B of 2.0 KiB · 0 B/s · stalled');
  });
});

describe('RateMeter', () => {
  it('unknown until two samples 100 ms apart', () => {
    const m = new RateMeter();
    expect(m.rate()).toBeUndefined();
    m.record(0, 1000);
    m.record(500, 1050);
    expect(m.rate()).toBeUndefined();
    m.record(1000, 1100);
    expect(m.rate()).toBe(10_000);
  });

  it('follows the recent rate, not the average since the start', () => {
    const m = new RateMeter(1000);
    // 1 MB/s for 10 s, then 10 kB/s for 2 s.
    for (let t = 0; t <= 10_000; t += 200) m.record(t * 1000, t);
    for (let t = 10_200; t <= 12_000; t += 200) m.record(10_000_000 + (t - 10_000) * 10, t);
    expect(m.rate()).toBeCloseTo(10_000, 0);
  });

  it('a stall reads 0', () => {
    const m = new RateMeter(1000);
    m.record(0, 0);
    m.record(5000, 500);
    for (let t = 700; t <= 3000; t += 200) m.record(5000, t);
    expect(m.rate()).toBe(0);
  });
});
