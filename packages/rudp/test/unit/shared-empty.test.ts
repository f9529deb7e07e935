/**
 * shared-empty.ts: the one empty array idle queues share, grown only by
 * pushOnto into an array of their own.
 */
import { describe, expect, it } from 'vitest';
import { emptyArray, isSharedEmpty, pushOnto } from '../../src/core/shared-empty.js';

describe('shared empty array', () => {
  it('is one array for every queue, and a push gives the pushing queue an array of its own', () => {
    let a = emptyArray<number>();
    const b = emptyArray<number>();
    expect(a).toBe(b);
    expect(isSharedEmpty(a)).toBe(true);
    a = pushOnto(a, 7);
    expect(a).toEqual([7]);
    expect(isSharedEmpty(a)).toBe(false);
    // The other queue is still empty: nothing leaked through the shared array.
    expect(b).toEqual([]);
    expect(emptyArray<number>()).toHaveLength(0);
    // Once its own, the array grows in place.
    const same = pushOnto(a, 8);
    expect(same).toBe(a);
    expect(a).toEqual([7, 8]);
  });

  it('refuses every change made around pushOnto, so no connection can write into another', () => {
    const shared = emptyArray<number>();
    expect(() => shared.push(1)).toThrow(TypeError);
    expect(() => shared.unshift(1)).toThrow(TypeError);
    expect(() => shared.splice(0, 0, 1)).toThrow(TypeError);
    expect(() => {
      shared.length = 0;
    }).toThrow(TypeError);
    expect(emptyArray<number>()).toHaveLength(0);
  });
});
