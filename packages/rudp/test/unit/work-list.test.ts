/**
 * The endpoint's FIFO of connections to poll (core/work-list.ts): first in,
 * first out, items pushed while it is being drained are visited in turn,
 * and emptying it starts over at slot 0 without dropping its storage.
 */
import { describe, expect, it } from 'vitest';
import { smallArray, withRoomFor } from '../../src/core/small-array.js';
import { WorkList } from '../../src/core/work-list.js';

function drain<T>(list: WorkList<T>, onVisit?: (item: T) => void): T[] {
  const out: T[] = [];
  for (let item = list.peek(); item !== undefined; item = list.peek()) {
    out.push(item);
    onVisit?.(item);
    list.shift();
  }
  return out;
}

describe('WorkList', () => {
  it('hands items out first in, first out, including those pushed while draining', () => {
    const list = new WorkList<string>();
    list.push('a');
    list.push('b');
    expect(drain(list, (x) => x === 'a' && list.push('c'))).toEqual(['a', 'b', 'c']);
    expect(list.peek()).toBeUndefined();
    list.shift();
    expect(list.peek()).toBeUndefined();
  });

  it('emptied and filled again many times, it keeps giving the items in order', () => {
    const list = new WorkList<number>();
    for (let round = 0; round < 1000; round++) {
      list.push(round);
      list.push(round + 0.5);
      expect(drain(list)).toEqual([round, round + 0.5]);
    }
  });

  it('grows past its first two slots, mid-drain too, keeping the order', () => {
    const list = new WorkList<number>();
    for (let i = 0; i < 5; i++) list.push(i);
    list.shift();
    for (let i = 5; i < 40; i++) list.push(i);
    expect(drain(list)).toEqual(Array.from({ length: 39 }, (_, i) => i + 1));
  });
});

describe('small-array', () => {
  it('starts with two slots and doubles only when an index falls outside them', () => {
    const a = smallArray<string>();
    expect(a).toHaveLength(2);
    expect(withRoomFor(a, 1)).toBe(a);
    a[0] = 'x';
    a[1] = 'y';
    const b = withRoomFor(a, 2);
    expect(b).toHaveLength(4);
    expect(b.slice(0, 2)).toEqual(['x', 'y']);
    expect(withRoomFor(b, 9)).toHaveLength(10);
  });
});
