/**
 * The multiset behind the resend queue's earliest time and frame sizes:
 * its smallest value against a sorted list under random adds and removes
 * with many repeats, values leaving and coming back.
 */
import { describe, expect, it } from 'vitest';
import { expectIs } from '../helpers/cheap-expect.js';
import { MinMultiset } from '../../src/core/min-multiset.js';
import { createRandom, randomInt } from '../../src/testing/prng.js';

describe('MinMultiset', () => {
  it('says the smallest value held through random adds and removes', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = createRandom(seed);
      const set = new MinMultiset();
      const members: number[] = [];
      for (let step = 0; step < 2_000; step++) {
        if (members.length > 0 && randomInt(rng, 0, 2) === 0) {
          const [v] = members.splice(randomInt(rng, 0, members.length), 1) as [number];
          set.remove(v);
        } else {
          // Few distinct values, negative ones too (the largest is kept as the smallest negated).
          const v = randomInt(rng, -8, 8) / 2;
          members.push(v);
          set.add(v);
        }
        expectIs(set.min(), members.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...members));
      }
    }
  });

  it('says so, and changes nothing, when asked to remove a value it does not hold (no throw out of the core)', () => {
    const set = new MinMultiset();
    set.add(3);
    set.add(5);
    expect(set.remove(3)).toBe(true);
    expect(set.remove(3)).toBe(false);
    expect(set.remove(4)).toBe(false);
    expect(set.min()).toBe(5);
    expect(set.remove(5)).toBe(true);
    expect(set.min()).toBe(Number.POSITIVE_INFINITY);
  });
});
