/**
 * The core's one binary heap, and the timer heap on it (one deadline per
 * key, stale entries dropped lazily), checked against sorted arrays and maps.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryHeap } from '../../src/core/binary-heap.js';
import { TimerHeap } from '../../src/core/timer-heap.js';

describe('BinaryHeap', () => {
  it('property: interleaved pushes and pops always pop the minimum', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: -50, max: 50 }), fc.constant(null)), { maxLength: 300 }), (ops) => {
        const h = new BinaryHeap<number>((a, b) => a < b);
        const model: number[] = [];
        for (const op of ops) {
          if (op === null) {
            model.sort((a, b) => a - b);
            expect(h.peek()).toBe(model[0]);
            expect(h.pop()).toBe(model.shift());
          } else {
            h.push(op);
            model.push(op);
          }
          expect(h.size).toBe(model.length);
        }
        const rest: number[] = [];
        for (let v = h.pop(); v !== undefined; v = h.pop()) rest.push(v);
        expect(rest).toEqual(model.sort((a, b) => a - b));
        expect(h.size).toBe(0);
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

describe('TimerHeap', () => {
  /** Pops every key due at `now`, in order. */
  function due(t: TimerHeap<string>, now: number): string[] {
    const out: string[] = [];
    for (let k = t.popDue(now); k !== undefined; k = t.popDue(now)) out.push(k);
    return out;
  }

  it('pops due keys in deadline order, only once they are due', () => {
    const t = new TimerHeap<string>();
    t.set('a', 30);
    t.set('b', 10);
    t.set('c', 20);
    expect(t.size).toBe(3);
    expect(t.peek()).toBe(10);
    expect(due(t, 9)).toEqual([]);
    expect(due(t, 20)).toEqual(['b', 'c']);
    expect(t.peek()).toBe(30);
    expect(t.size).toBe(1);
    expect(due(t, 100)).toEqual(['a']);
    expect(t.peek()).toBeUndefined();
  });

  it('a moved deadline replaces the old one (the stale entry never fires)', () => {
    const t = new TimerHeap<string>();
    t.set('a', 10);
    t.set('a', 50);
    t.set('b', 20);
    expect(t.peek()).toBe(20);
    expect(due(t, 40)).toEqual(['b']);
    expect(due(t, 50)).toEqual(['a']);
    expect(due(t, 1_000)).toEqual([]);
    // Moved earlier.
    t.set('c', 50);
    t.set('c', 5);
    expect(due(t, 5)).toEqual(['c']);
    expect(due(t, 1_000)).toEqual([]);
  });

  it('Infinity or delete() clears a key', () => {
    const t = new TimerHeap<string>();
    t.set('a', 10);
    t.set('b', 20);
    t.set('a', Number.POSITIVE_INFINITY);
    t.delete('b');
    expect(t.size).toBe(0);
    expect(t.peek()).toBeUndefined();
    expect(due(t, 1_000)).toEqual([]);
    // Set again after clearing: live again, even at the old deadline.
    t.set('a', 10);
    expect(due(t, 1_000)).toEqual(['a']);
  });

  it('setting the same deadline again keeps one entry', () => {
    const t = new TimerHeap<string>();
    for (let i = 0; i < 100; i++) t.set('a', 10);
    expect((t as unknown as { heap: BinaryHeap<unknown> }).heap.size).toBe(1);
    expect(due(t, 10)).toEqual(['a']);
    expect(due(t, 10)).toEqual([]);
  });

  it('property: behaves like a map of deadlines whatever the sets, deletes and pops', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('set' as const), key: fc.integer({ min: 0, max: 9 }), at: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant(Number.POSITIVE_INFINITY)) }),
            fc.record({ op: fc.constant('del' as const), key: fc.integer({ min: 0, max: 9 }) }),
            fc.record({ op: fc.constant('pop' as const), now: fc.integer({ min: 0, max: 100 }) }),
          ),
          { maxLength: 400 },
        ),
        (ops) => {
          const t = new TimerHeap<number>();
          const model = new Map<number, number>();
          for (const o of ops) {
            if (o.op === 'set') {
              t.set(o.key, o.at);
              if (Number.isFinite(o.at)) model.set(o.key, o.at);
              else model.delete(o.key);
            } else if (o.op === 'del') {
              t.delete(o.key);
              model.delete(o.key);
            } else {
              const k = t.popDue(o.now);
              const min = Math.min(...model.values());
              if (k === undefined) expect(min > o.now).toBe(true);
              else {
                expect(model.get(k)).toBe(min);
                model.delete(k);
              }
            }
            expect(t.size).toBe(model.size);
            expect(t.peek()).toBe(model.size === 0 ? undefined : Math.min(...model.values()));
          }
        },
      ),
      { seed: 8, numRuns: 300 },
    );
  });

  it('a deadline moved thousands of times does not pile up stale entries', () => {
    const t = new TimerHeap<number>();
    for (let k = 0; k < 3; k++) t.set(k, 1_000_000 + k);
    for (let i = 0; i < 10_000; i++) t.set(0, 10_000 - i);
    const heapSize = (t as unknown as { heap: BinaryHeap<unknown> }).heap.size;
    expect(heapSize).toBeLessThanOrEqual(65);
    expect(t.popDue(1)).toBe(0);
    expect(t.popDue(1)).toBeUndefined();
  });
});
