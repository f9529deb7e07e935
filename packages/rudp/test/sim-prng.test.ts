import { describe, expect, it } from 'vitest';
import { EventHeap } from '../src/testing/event-heap.js';
import { createRandom, deriveRandom, fillRandomBytes, randomFloat, randomInt } from '../src/testing/prng.js';

describe('createRandom', () => {
  it('is reproducible per seed and differs across seeds', () => {
    const a = createRandom(42);
    const b = createRandom(42);
    const c = createRandom(43);
    const sa = Array.from({ length: 8 }, () => a());
    expect(Array.from({ length: 8 }, () => b())).toEqual(sa);
    expect(Array.from({ length: 8 }, () => c())).not.toEqual(sa);
    for (const v of sa) expect(Number.isInteger(v) && v >= 0 && v < 2 ** 32).toBe(true);
  });

  it('distinguishes seeds that share their low 32 bits', () => {
    expect(createRandom(1)()).not.toBe(createRandom(2 ** 32 + 1)());
  });

  it('gives roughly uniform floats and ints', () => {
    const rng = createRandom(7);
    const buckets = new Array<number>(10).fill(0);
    const n = 100_000;
    let sum = 0;
    let outOfRange = 0;
    for (let i = 0; i < n; i++) {
      const f = randomFloat(rng);
      if (!(f >= 0 && f < 1)) outOfRange++;
      sum += f;
      const k = randomInt(rng, 0, 10);
      buckets[k] = buckets[k]! + 1;
    }
    expect(outOfRange).toBe(0);
    expect(sum / n).toBeCloseTo(0.5, 2);
    for (const count of buckets) expect(Math.abs(count - n / 10)).toBeLessThan(600); // ≈ 6σ
  });

  it('fills every byte, including a tail shorter than a word', () => {
    const bytes = fillRandomBytes(createRandom(3), new Uint8Array(4099));
    const seen = new Set(bytes);
    expect(seen.size).toBeGreaterThan(250);
    expect(bytes.subarray(4096).some((b) => b !== 0)).toBe(true);
  });

  it('derives independent streams per label', () => {
    const x = deriveRandom(1, 'link:a>b');
    const y = deriveRandom(1, 'link:b>a');
    const x2 = deriveRandom(1, 'link:a>b');
    const xs = [x(), x(), x()];
    expect([x2(), x2(), x2()]).toEqual(xs);
    expect([y(), y(), y()]).not.toEqual(xs);
  });
});

describe('EventHeap', () => {
  it('pops by time, ties by insertion sequence', () => {
    const heap = new EventHeap<{ at: number; seq: number }>();
    const rng = createRandom(5);
    const items = Array.from({ length: 2000 }, (_, seq) => ({ at: randomInt(rng, 0, 50), seq }));
    for (const item of items) heap.push(item);
    const out: { at: number; seq: number }[] = [];
    for (let it = heap.pop(); it !== undefined; it = heap.pop()) out.push(it);
    const sorted = [...items].sort((a, b) => a.at - b.at || a.seq - b.seq);
    expect(out).toEqual(sorted);
    expect(heap.size).toBe(0);
  });
});
