/**
 * The endpoint's FIFO of connections to poll (core/work-list.ts): first in,
 * first out, items pushed while it is being drained are visited in turn,
 * and emptying it starts over at slot 0 without dropping its storage.
 */
import { describe, expect, it } from 'vitest';
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
});
