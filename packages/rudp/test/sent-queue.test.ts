import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectEqual, expectIs } from './helpers/cheap-expect.js';
import { SentQueue } from '../src/core/recovery/sent-queue.js';

interface P {
  readonly pn: number;
}

describe('SentQueue', () => {
  it('behaves like an insertion-ordered Map under adds, deletes anywhere and deletes during a walk', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ op: fc.constant('add' as const), gap: fc.integer({ min: 1, max: 3 }) }), fc.record({ op: fc.constant('del' as const), pick: fc.nat() }), fc.record({ op: fc.constant('walk' as const), every: fc.integer({ min: 1, max: 4 }) })), { maxLength: 400, size: 'max' }),
        (ops) => {
          const q = new SentQueue<P>();
          const m = new Map<number, P>();
          let pn = 0;
          for (const o of ops) {
            if (o.op === 'add') {
              pn += o.gap;
              const p = { pn };
              q.set(pn, p);
              m.set(pn, p);
            } else if (o.op === 'del') {
              const keys = [...m.keys()];
              // Half the deletes hit a present number, half any number (maybe absent).
              const target = o.pick % 2 === 0 && keys.length > 0 ? (keys[o.pick % keys.length] as number) : o.pick % (pn + 2);
              expectIs(q.has(target), m.has(target));
              expectIs(q.delete(target), m.delete(target));
              expectIs(q.has(target), false);
            } else {
              // Delete every `every`-th entry while walking, as loss detection does.
              const walked: number[] = [];
              let i = 0;
              for (const p of q.values()) {
                walked.push(p.pn);
                if (i++ % o.every === 0) q.delete(p.pn);
              }
              const expected: number[] = [];
              i = 0;
              for (const p of m.values()) {
                expected.push(p.pn);
                if (i++ % o.every === 0) m.delete(p.pn);
              }
              expectEqual(walked, expected);
            }
            expectIs(q.size, m.size);
          }
          expect([...q.values()]).toEqual([...m.values()]);
        },
      ),
      { seed: 9, numRuns: 300 },
    );
  });

  it('refuses a packet number that is not above the last one', () => {
    const q = new SentQueue<P>();
    q.set(5, { pn: 5 });
    expect(() => q.set(5, { pn: 5 })).toThrow(RangeError);
    q.clear();
    expect(q.size).toBe(0);
    q.set(1, { pn: 1 });
    expect([...q.values()].map((p) => p.pn)).toEqual([1]);
  });

  it('still refuses an old packet number once every entry was deleted (its arrays are released then)', () => {
    const q = new SentQueue<P>();
    for (let pn = 0; pn < 10; pn++) q.set(pn, { pn });
    const walked: number[] = [];
    // Deleting everything during a walk: the walk ends, nothing is visited twice.
    for (const p of q.values()) {
      walked.push(p.pn);
      q.delete(p.pn);
    }
    expect(walked).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(q.size).toBe(0);
    expect(q.first()).toBeUndefined();
    expect(() => q.set(9, { pn: 9 })).toThrow(RangeError);
    q.set(10, { pn: 10 });
    expect(q.has(10)).toBe(true);
    expect(q.has(3)).toBe(false);
    expect([...q.values()].map((p) => p.pn)).toEqual([10]);
    // A walk that empties the queue and adds to it never visits what it added.
    q.delete(10);
    q.set(100, { pn: 100 });
    const seen: number[] = [];
    for (const p of q.values()) {
      seen.push(p.pn);
      q.delete(p.pn);
      if (q.size === 0) for (let pn = 200; pn < 203; pn++) q.set(pn, { pn });
    }
    expect(seen).toEqual([100]);
    expect([...q.values()].map((p) => p.pn)).toEqual([200, 201, 202]);
  });
});
