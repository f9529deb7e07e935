/**
 * The core's one binary heap (the simulator's events, the resend queue's
 * multisets), checked against sorted arrays.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectEqual, expectIs } from '../helpers/cheap-expect.js';
import { BinaryHeap } from '../../src/core/binary-heap.js';

describe('BinaryHeap', () => {
  it('property: interleaved pushes and pops always pop the minimum', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: -50, max: 50 }), fc.constant(null)), { maxLength: 300, size: 'max' }), (ops) => {
        const h = new BinaryHeap<number>((a, b) => a < b);
        const model: number[] = [];
        for (const op of ops) {
          if (op === null) {
            model.sort((a, b) => a - b);
            expectIs(h.peek(), model[0]);
            expectIs(h.pop(), model.shift());
          } else {
            h.push(op);
            model.push(op);
          }
          expectIs(h.size, model.length);
        }
        const rest: number[] = [];
        for (let v = h.pop(); v !== undefined; v = h.pop()) rest.push(v);
        expectEqual(rest, model.sort((a, b) => a - b));
        expectIs(h.size, 0);
      }),
      { seed: 21, numRuns: 300 },
    );
  });

  it('an empty heap peeks and pops undefined; a one-item heap pops it', () => {
    const h = new BinaryHeap<number>((a, b) => a < b);
    expect(h.peek()).toBeUndefined();
    expect(h.pop()).toBeUndefined();
    h.push(3);
    expect(h.pop()).toBe(3);
    expect(h.size).toBe(0);
  });

  it('orders by the given `less`, with the caller\'s tie-break (as the simulator does)', () => {
    interface Ev {
      readonly at: number;
      readonly seq: number;
    }
    const h = new BinaryHeap<Ev>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
    const evs = [5, 1, 5, 3, 1, 5, 2].map((at, seq) => ({ at, seq }));
    for (const e of evs) h.push(e);
    const out: Ev[] = [];
    for (let e = h.pop(); e !== undefined; e = h.pop()) out.push(e);
    expect(out.map((e) => [e.at, e.seq])).toEqual([
      [1, 1],
      [1, 4],
      [2, 6],
      [3, 3],
      [5, 0],
      [5, 2],
      [5, 5],
    ]);
  });

  it('clear() empties it; reset() rebuilds it from any order', () => {
    const h = new BinaryHeap<number>((a, b) => a > b);
    for (const v of [1, 2, 3]) h.push(v);
    h.clear();
    expect(h.size).toBe(0);
    expect(h.pop()).toBeUndefined();
    h.reset([4, 9, 1, 7]);
    expect([h.pop(), h.pop(), h.pop(), h.pop(), h.pop()]).toEqual([9, 7, 4, 1, undefined]);
  });
});
