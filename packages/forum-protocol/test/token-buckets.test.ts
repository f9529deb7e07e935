import { describe, expect, it } from 'vitest';
import { TokenBuckets } from '../src/index.js';

describe('token buckets', () => {
  it('a new key starts full; takes may go into debt, earned back at the rate', () => {
    const b = new TokenBuckets(10, 20);
    expect(b.level('k', 0)).toBe(20);
    b.take('k', 50, 0);
    expect(b.level('k', 0)).toBe(-30);
    expect(b.waitFor('k', 1, 0)).toBe(3_100);
    expect(b.level('k', 3_000)).toBe(0);
    // Never above the burst, however long it waits.
    expect(b.level('k', 1_000_000)).toBe(20);
  });

  it('a clock that steps back neither adds nor takes tokens', () => {
    const b = new TokenBuckets(10, 20);
    b.take('k', 20, 5_000);
    b.take('k', 0, 1_000);
    expect(b.level('k', 1_000)).toBe(0);
    expect(b.level('k', 5_000)).toBe(0);
    expect(b.level('k', 6_000)).toBe(10);
  });

  it('keys are apart, and past maxTracked the one taken from longest ago starts full again', () => {
    const b = new TokenBuckets(1, 5, 2);
    b.take('a', 10, 0);
    b.take('b', 10, 0);
    expect(b.level('a', 0)).toBe(-5);
    b.take('c', 1, 0);
    expect(b.level('a', 0)).toBe(5);
    expect(b.level('b', 0)).toBe(-5);
  });

  it('refuses a rate or burst that is not above zero', () => {
    expect(() => new TokenBuckets(0, 1)).toThrow(RangeError);
    expect(() => new TokenBuckets(1, Number.NaN)).toThrow(RangeError);
  });
});
