/**
 * RangeSet: received packet numbers as disjoint ranges, highest first,
 * bounded. Checked against a plain Set, and at the bound.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectIs } from '../helpers/cheap-expect.js';
import { RangeSet } from '../../src/core/receive/range-set.js';
import type { PnRange } from '../../src/wire/ack-frame.js';

const r = (lo: number, hi: number): PnRange => ({ lo, hi });

describe('RangeSet', () => {
  it('property: inserts, duplicates, has() and the ranges match a plain Set (below the bound)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 80 }), { maxLength: 200, size: 'max' }), (pns) => {
        const s = new RangeSet(1_000);
        const model = new Set<number>();
        for (const pn of pns) {
          expectIs(s.insert(pn), !model.has(pn));
          model.add(pn);
        }
        for (let pn = -1; pn <= 82; pn++) expectIs(s.has(pn), model.has(pn));
        const list = s.list();
        // Disjoint, highest first, never adjacent (adjacent ranges are merged).
        for (let i = 1; i < list.length; i++) expect((list[i - 1] as PnRange).lo).toBeGreaterThan((list[i] as PnRange).hi + 1);
        let count = 0;
        for (const g of list) {
          expect(g.lo).toBeLessThanOrEqual(g.hi);
          for (let pn = g.lo; pn <= g.hi; pn++) expectIs(model.has(pn), true);
          count += g.hi - g.lo + 1;
        }
        expectIs(count, model.size);
        expect(s.size).toBe(list.length);
        expect(s.largest()).toBe(model.size === 0 ? -1 : Math.max(...model));
      }),
      { seed: 5, numRuns: 300 },
    );
  });

  it('merges: extends up, extends down, and joins two ranges across a one-number gap', () => {
    const s = new RangeSet();
    s.insert(5);
    s.insert(6);
    expect(s.list()).toEqual([r(5, 6)]);
    s.insert(4);
    expect(s.list()).toEqual([r(4, 6)]);
    s.insert(8);
    s.insert(9);
    expect(s.list()).toEqual([r(8, 9), r(4, 6)]);
    s.insert(7);
    expect(s.list()).toEqual([r(4, 9)]);
    s.insert(2);
    s.insert(0);
    expect(s.list()).toEqual([r(4, 9), r(2, 2), r(0, 0)]);
    s.insert(3);
    expect(s.list()).toEqual([r(2, 9), r(0, 0)]);
    s.insert(1);
    expect(s.list()).toEqual([r(0, 9)]);
    expect(s.insert(0)).toBe(false);
    expect(s.insert(9)).toBe(false);
    expect(s.insert(5)).toBe(false);
  });

  it('keeps the newest maxRanges ranges and treats anything older than them as already seen', () => {
    const s = new RangeSet(3);
    for (const pn of [10, 20, 30]) s.insert(pn);
    expect(s.list()).toEqual([r(30, 30), r(20, 20), r(10, 10)]);
    // A fourth, newer range pushes out the oldest.
    expect(s.insert(40)).toBe(true);
    expect(s.list()).toEqual([r(40, 40), r(30, 30), r(20, 20)]);
    expect(s.has(10)).toBe(false);
    // Older than all it remembers, at the bound: a duplicate from the forgotten past.
    expect(s.insert(5)).toBe(false);
    expect(s.list()).toEqual([r(40, 40), r(30, 30), r(20, 20)]);
    // Next to the oldest range still extends it.
    expect(s.insert(19)).toBe(true);
    expect(s.list()).toEqual([r(40, 40), r(30, 30), r(19, 20)]);
    // A new range between remembered ones evicts the oldest.
    expect(s.insert(25)).toBe(true);
    expect(s.list()).toEqual([r(40, 40), r(30, 30), r(25, 25)]);
  });

  it('below the bound, an old number is new', () => {
    const s = new RangeSet(3);
    s.insert(10);
    s.insert(20);
    expect(s.insert(5)).toBe(true);
    expect(s.list()).toEqual([r(20, 20), r(10, 10), r(5, 5)]);
  });

  it('an empty set: largest −1, size 0, has nothing', () => {
    const s = new RangeSet();
    expect(s.largest()).toBe(-1);
    expect(s.size).toBe(0);
    expect(s.has(0)).toBe(false);
    expect(s.list()).toEqual([]);
  });

  it('the default bound is 32 ranges', () => {
    const s = new RangeSet();
    for (let i = 0; i < 40; i++) s.insert(2 * i);
    expect(s.size).toBe(32);
    expect(s.list()[31]).toEqual(r(16, 16));
  });
});
