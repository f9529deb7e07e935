import { describe, expect, it } from 'vitest';
import { quantileSorted, summarize } from '../src/stats/summary.js';
import { mathisThroughputBps } from '../src/stats/mathis.js';

describe('summarize', () => {
  it('uses nearest-rank percentiles over 1..100', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // unsorted on purpose
    const s = summarize(values);
    expect(s).toEqual({ count: 100, mean: 50.5, p50: 50, p99: 99, max: 100 });
  });

  it('picks a measured value, never an interpolation', () => {
    expect(quantileSorted([10, 20, 30], 0.5)).toBe(20);
    expect(quantileSorted([10, 20, 30, 40], 0.99)).toBe(40);
    expect(quantileSorted([7], 0.01)).toBe(7);
  });

  it('gives NaN figures for an empty sample', () => {
    const s = summarize([]);
    expect(s.count).toBe(0);
    expect(Number.isNaN(s.p99)).toBe(true);
  });
});

describe('mathisThroughputBps', () => {
  it('is (MSS/RTT)·1.22/√p', () => {
    // 1000 bytes / 0.1 s = 80 kbit/s; × 1.22 / √0.01 = 976 kbit/s
    expect(mathisThroughputBps(1000, 100, 0.01, 1e9)).toBeCloseTo(976_000, 6);
  });

  it('is capped at the bottleneck and equals it without loss', () => {
    expect(mathisThroughputBps(1460, 70, 0.0001, 10e6)).toBe(10e6);
    expect(mathisThroughputBps(1460, 70, 0, 10e6)).toBe(10e6);
  });
});
