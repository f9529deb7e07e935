/**
 * The multiset behind the resend queue's earliest time and frame sizes:
 * its smallest value against a sorted list under random adds and removes
 * with many repeats, values leaving and coming back; and the resend queue's
 * tally recovering from a removal its multisets do not hold.
 */
import { describe, expect, it } from 'vitest';
import { MinMultiset } from '../../src/core/min-multiset.js';
import { OutgoingMessage } from '../../src/core/send/outgoing-message.js';
import { LONG_QUEUE, QueueTally } from '../../src/core/send/queue-tally.js';
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
        expect(set.min()).toBe(members.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...members));
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

describe('QueueTally with broken bookkeeping', () => {
  it('drops its kept due times and sizes and makes them again from the queue, instead of throwing', () => {
    const tally = new QueueTally();
    const queue = Array.from({ length: LONG_QUEUE + 8 }, (_, i) => ({ message: new OutgoingMessage(i, new Uint8Array(10), 0, 50), index: 0, notBefore: 100 + i }));
    for (const r of queue) tally.add(r);
    expect(tally.earliest(queue)).toBe(100);
    expect(tally.kept).toBe(true);
    // An entry whose due time changed while queued (the invariant the tally relies on, broken).
    const [first] = queue.splice(0, 1) as [(typeof queue)[number]];
    expect(() => tally.remove({ ...first, notBefore: 7 })).not.toThrow();
    expect(tally.kept).toBe(false);
    expect(tally.earliest(queue)).toBe(101);
    expect(tally.kept).toBe(true);
  });
});
