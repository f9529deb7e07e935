import { describe, expect, it } from 'vitest';
import { LinkImpairment, validateLinkConfig } from '../src/testing/impairment.js';
import type { LinkConfig } from '../src/testing/impairment.js';
import { createRandom } from '../src/testing/prng.js';

const payload = (n: number, fill = 0xab): Uint8Array => new Uint8Array(n).fill(fill);

/** Sends `n` datagrams 1 ms apart; returns for each whether at least one copy arrived. */
function lossPattern(config: LinkConfig, n: number, seed = 1): boolean[] {
  const link = new LinkImpairment(config, createRandom(seed));
  const data = payload(100);
  return Array.from({ length: n }, (_, i) => link.transmit(i, data).length > 0);
}

describe('LinkImpairment', () => {
  it('loses close to the configured rate, independently', () => {
    const n = 50_000;
    for (const loss of [0.01, 0.1, 0.3]) {
      const delivered = lossPattern({ loss }, n).filter(Boolean).length;
      const sigma = Math.sqrt(n * loss * (1 - loss));
      expect(Math.abs(n - delivered - n * loss)).toBeLessThan(5 * sigma);
    }
  });

  it('burst loss keeps the long-run rate and the mean burst length', () => {
    const n = 200_000;
    const pattern = lossPattern({ loss: 0.1, burst: { meanBurstLength: 3 } }, n);
    let lost = 0;
    let bursts = 0;
    pattern.forEach((ok, i) => {
      if (ok) return;
      lost++;
      if (i === 0 || pattern[i - 1] === true) bursts++;
    });
    expect(lost / n).toBeGreaterThan(0.09);
    expect(lost / n).toBeLessThan(0.11);
    expect(lost / bursts).toBeGreaterThan(2.8);
    expect(lost / bursts).toBeLessThan(3.2);
  });

  it('independent loss has bursts of mean length ≈ 1/(1−p)', () => {
    const pattern = lossPattern({ loss: 0.1 }, 100_000);
    let lost = 0;
    let bursts = 0;
    pattern.forEach((ok, i) => {
      if (ok) return;
      lost++;
      if (i === 0 || pattern[i - 1] === true) bursts++;
    });
    expect(lost / bursts).toBeCloseTo(1 / 0.9, 1);
  });

  it('duplicates at the configured rate, copies equal and separate', () => {
    const link = new LinkImpairment({ duplicate: 0.2 }, createRandom(2));
    const data = payload(64);
    let copies = 0;
    let badCopies = 0;
    for (let i = 0; i < 10_000; i++) {
      const out = link.transmit(i, data);
      copies += out.length;
      const [a, b] = out;
      if (a !== undefined && b !== undefined) {
        const same = a.at === b.at && a.data !== b.data && a.data.every((x, k) => x === b.data[k]);
        if (!same) badCopies++;
      }
    }
    expect(badCopies).toBe(0);
    expect(link.stats.duplicated).toBe(copies - 10_000);
    expect(link.stats.duplicated).toBeGreaterThan(1800);
    expect(link.stats.duplicated).toBeLessThan(2200);
  });

  it('corruption flips 1 to 3 bits of a copy, never the sender buffer', () => {
    const link = new LinkImpairment({ corrupt: 1 }, createRandom(3));
    const data = payload(32, 0);
    const flips = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const [d] = link.transmit(i, data);
      let bits = 0;
      for (const byte of d!.data) for (let b = byte; b !== 0; b &= b - 1) bits++;
      flips.add(bits);
    }
    expect([...flips].sort()).toEqual([1, 2, 3]);
    expect(data.every((b) => b === 0)).toBe(true);
    expect(link.stats.corrupted).toBe(1000);
  });

  it('truncation cuts to a shorter prefix', () => {
    const link = new LinkImpairment({ truncate: 1 }, createRandom(4));
    const data = Uint8Array.from({ length: 50 }, (_, i) => i);
    const lengths = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const [d] = link.transmit(i, data);
      expect(d!.data.length).toBeLessThan(50);
      expect(Array.from(d!.data)).toEqual(Array.from(data.subarray(0, d!.data.length)));
      lengths.add(d!.data.length);
    }
    expect(lengths.size).toBe(50); // every length 0..49 occurs
    expect(link.stats.truncated).toBe(2000);
  });

  it('drops datagrams above the MTU', () => {
    const link = new LinkImpairment({ mtu: 1200 }, createRandom(5));
    expect(link.transmit(0, payload(1200))).toHaveLength(1);
    expect(link.transmit(0, payload(1201))).toHaveLength(0);
    expect(link.stats.droppedMtu).toBe(1);
  });

  it('serializes at the bottleneck rate and drops at a full queue', () => {
    const link = new LinkImpairment({ bandwidthBps: 8_000_000, queueBytes: 10_000 }, createRandom(6));
    const out = Array.from({ length: 20 }, () => link.transmit(0, payload(1000)));
    // 1000 B at 8 Mbit/s = 1 ms each; the queue holds 10 of them.
    expect(out.slice(0, 10).map((d) => d[0]!.at)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(out.slice(10).every((d) => d.length === 0)).toBe(true);
    expect(link.stats.droppedQueue).toBe(10);
    // After 5 ms, 5 have left; 5 more fit.
    const later = Array.from({ length: 6 }, () => link.transmit(5, payload(1000)));
    expect(later.filter((d) => d.length > 0)).toHaveLength(5);
  });

  it('independent jitter reorders; FIFO jitter (the default) never does, with the same delays drawn', () => {
    const arrivals = (config: LinkConfig): number[] => {
      const link = new LinkImpairment(config, createRandom(7));
      return Array.from({ length: 2000 }, (_, i) => link.transmit(i * 0.5, payload(100))[0]!.at);
    };
    const inversions = (at: readonly number[]): number => at.filter((t, i) => i > 0 && t < at[i - 1]!).length;
    const fifo = arrivals({ delayMs: 5, jitterMs: 5 });
    const independent = arrivals({ delayMs: 5, jitterMs: 5, jitterMode: 'independent' });
    expect(inversions(fifo)).toBe(0);
    // Delays uniform in 0..10 ms, datagrams 0.5 ms apart: most neighbours swap about a third of the time.
    expect(inversions(independent)).toBeGreaterThan(400);
    independent.forEach((t, i) => {
      expect(t - i * 0.5).toBeGreaterThanOrEqual(0);
      expect(t - i * 0.5).toBeLessThanOrEqual(10);
    });
    expect(arrivals({ delayMs: 5, jitterMs: 5, jitterMode: 'fifo' })).toEqual(fifo);
  });

  it('a fixed reorder hold delays the chosen datagrams by exactly that much', () => {
    const link = new LinkImpairment({ delayMs: 5, reorder: 0.1, reorderHoldMs: 25, jitterMode: 'independent' }, createRandom(8));
    const delays = Array.from({ length: 5000 }, (_, i) => link.transmit(i, payload(100))[0]!.at - i);
    const held = delays.filter((d) => d === 30).length;
    expect(delays.every((d) => d === 5 || d === 30)).toBe(true);
    expect(held).toBe(link.stats.reordered);
    expect(held).toBeGreaterThan(400);
    expect(held).toBeLessThan(600);
  });

  it('charges headerBytes per datagram at the bottleneck (serialization and queue)', () => {
    // 100 B payload + 28 B header = 128 B = 1 ms at 1.024 Mbit/s.
    const link = new LinkImpairment({ bandwidthBps: 1_024_000, queueBytes: 4 * 128, headerBytes: 28 }, createRandom(9));
    const out = Array.from({ length: 6 }, () => link.transmit(0, payload(100)));
    expect(out.slice(0, 4).map((d) => d[0]!.at)).toEqual([1, 2, 3, 4]);
    expect(out.slice(4).every((d) => d.length === 0)).toBe(true);
    const bare = new LinkImpairment({ bandwidthBps: 1_024_000 }, createRandom(9));
    expect(bare.transmit(0, payload(100))[0]!.at).toBeCloseTo(100 / 128, 9);
  });

  it('rejects invalid configs', () => {
    expect(validateLinkConfig({ jitterMode: 'random' as 'fifo' })).toMatch(/jitterMode/);
    expect(validateLinkConfig({ reorderHoldMs: -1 })).toMatch(/reorderHoldMs/);
    expect(validateLinkConfig({ headerBytes: Number.POSITIVE_INFINITY })).toMatch(/headerBytes/);
    expect(validateLinkConfig({ loss: 1.5 })).toMatch(/loss/);
    expect(validateLinkConfig({ delayMs: -1 })).toMatch(/delayMs/);
    expect(validateLinkConfig({ bandwidthBps: 0 })).toMatch(/bandwidthBps/);
    expect(validateLinkConfig({ burst: { meanBurstLength: 0.5 } })).toMatch(/meanBurstLength/);
    expect(validateLinkConfig({ loss: 0.1, jitterMs: 5 })).toBeUndefined();
    expect(() => new LinkImpairment({ duplicate: Number.NaN }, createRandom(1))).toThrow(RangeError);
  });
});
