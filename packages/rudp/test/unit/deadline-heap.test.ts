/**
 * The endpoint's indexed deadline heap: pops in deadline order, a moved
 * deadline is sifted in place (one entry per slot, whatever the number of
 * moves), deletes from the middle keep the order, slots can be sparse.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadlineHeap } from '../../src/core/deadline-heap.js';

/** Pops every slot due at `now`, in order. */
function due(h: DeadlineHeap, now: number): number[] {
  const out: number[] = [];
  for (let s = h.popDue(now); s !== undefined; s = h.popDue(now)) out.push(s);
  return out;
}

/**
 * Throws unless `actual` is `expected`: the property's check after every operation (some 1.5 million
 * a run of 300 cases), where expect()'s own cost was most of the test's time.
 */
function same(actual: unknown, expected: unknown, what: string): void {
  if (!Object.is(actual, expected)) throw new Error(`${what}: ${String(actual)}, the model's ${String(expected)}`);
}

describe('DeadlineHeap', () => {
  it('pops due slots in deadline order, only once they are due', () => {
    const h = new DeadlineHeap();
    h.set(0, 30);
    h.set(1, 10);
    h.set(2, 20);
    expect(h.size).toBe(3);
    expect(h.peek()).toBe(10);
    expect(due(h, 9)).toEqual([]);
    expect(due(h, 20)).toEqual([1, 2]);
    expect(h.peek()).toBe(30);
    expect(due(h, 100)).toEqual([0]);
    expect(h.peek()).toBeUndefined();
  });

  it('moves a deadline in place, earlier or later; Infinity or delete() clears it', () => {
    const h = new DeadlineHeap();
    h.set(0, 10);
    h.set(0, 50);
    h.set(1, 20);
    expect(h.deadlineOf(0)).toBe(50);
    expect(due(h, 40)).toEqual([1]);
    h.set(0, 5);
    expect(h.peek()).toBe(5);
    h.set(2, 7);
    h.set(2, Number.POSITIVE_INFINITY);
    h.delete(0);
    h.delete(9_999);
    expect(h.size).toBe(0);
    expect(h.deadlineOf(2)).toBe(Number.POSITIVE_INFINITY);
    expect(due(h, 1_000)).toEqual([]);
  });

  it('holds one entry per slot however often its deadline moves (nothing stale to skip or collect)', () => {
    const h = new DeadlineHeap();
    const slots = 1_000;
    for (let s = 0; s < slots; s++) h.set(s, 10_000 + s);
    // Every slot rescheduled a hundred times, as 1,000 idle connections each receiving 100 messages.
    for (let round = 1; round <= 100; round++) for (let s = 0; s < slots; s++) h.set(s, 10_000 + round * 10_000 + ((s * 7_919) % slots));
    expect(h.size).toBe(slots);
    // The heap's arrays grew to hold the slots, not the moves.
    const inner = h as unknown as { at: Float64Array };
    expect(inner.at.length).toBeLessThanOrEqual(2 * slots);
    const order = due(h, Number.MAX_VALUE);
    expect(order).toHaveLength(slots);
    expect(new Set(order).size).toBe(slots);
  });

  it('property: behaves like a map of deadlines whatever the sets, deletes and pops (sparse slots included)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('set' as const), slot: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 60, max: 200 })), at: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant(Number.POSITIVE_INFINITY)) }),
            fc.record({ op: fc.constant('del' as const), slot: fc.integer({ min: 0, max: 200 }) }),
            fc.record({ op: fc.constant('pop' as const), now: fc.integer({ min: 0, max: 100 }) }),
          ),
          // size 'max': fast-check's default size makes arrays of at most 10 operations whatever maxLength says,
          // too few for a deadline moved under children (a missing sift-down passed 300 runs of them).
          { maxLength: 400, size: 'max' },
        ),
        (ops) => {
          const h = new DeadlineHeap();
          const model = new Map<number, number>();
          for (const o of ops) {
            if (o.op === 'set') {
              h.set(o.slot, o.at);
              if (Number.isFinite(o.at)) model.set(o.slot, o.at);
              else model.delete(o.slot);
            } else if (o.op === 'del') {
              h.delete(o.slot);
              model.delete(o.slot);
            } else {
              const s = h.popDue(o.now);
              const min = Math.min(...model.values());
              if (s === undefined) same(min > o.now, true, `nothing due at ${o.now}`);
              else {
                same(model.get(s), min, `slot ${s} popped at ${o.now}`);
                model.delete(s);
              }
            }
            same(h.size, model.size, 'size');
            same(h.peek(), model.size === 0 ? undefined : Math.min(...model.values()), 'peek');
            for (const [slot, at] of model) same(h.deadlineOf(slot), at, `slot ${slot}'s deadline`);
          }
        },
      ),
      { seed: 13, numRuns: 300 },
    );
  });
});
