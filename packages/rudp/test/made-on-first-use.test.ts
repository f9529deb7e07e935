import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { madeOnFirstUse } from '../src/node/made-on-first-use.js';

/** The array and how many times it was made. */
const counted = (): { readonly list: readonly number[]; readonly makes: () => number } => {
  let makes = 0;
  const list = madeOnFirstUse(() => {
    makes += 1;
    return [1, 2, 3];
  });
  return { list, makes: () => makes };
};

describe('madeOnFirstUse (packetCipherProviders: an array made at its first read)', () => {
  it.each([
    ['Object.freeze', (a: readonly number[]) => Object.freeze(a)],
    ['Object.seal', (a: readonly number[]) => Object.seal(a)],
    ['Object.preventExtensions', (a: readonly number[]) => Object.preventExtensions(a)],
  ])('%s as the first use: the whole array, then closed, as a plain array', (_, close) => {
    const { list, makes } = counted();
    expect(() => close(list)).not.toThrow();
    expect(Object.isExtensible(list)).toBe(false);
    expect([...list]).toEqual([1, 2, 3]);
    expect(makes()).toBe(1);
  });

  it("shows nothing of its own: its keys and util.inspect's text, hidden members too, are a plain array's", () => {
    const { list } = counted();
    // The first read an inspection, which formats a proxy's target without its traps.
    expect(inspect(list, { showHidden: true })).toBe(inspect([1, 2, 3], { showHidden: true }));
    expect(inspect(list, { showHidden: true })).toBe(inspect([1, 2, 3], { showHidden: true }));
    expect(Reflect.ownKeys(list)).toEqual(Reflect.ownKeys([1, 2, 3]));
    expect(Object.getOwnPropertySymbols(list)).toEqual([]);
  });

  it('made once, at the first read, whatever the read', () => {
    const { list, makes } = counted();
    expect(makes()).toBe(0);
    expect(Array.isArray(list)).toBe(true);
    expect(list.length).toBe(3);
    expect(JSON.stringify(list)).toBe('[1,2,3]');
    expect(Object.keys(list)).toEqual(['0', '1', '2']);
    expect(1 in list).toBe(true);
    const [a, b] = list;
    expect([a, b]).toEqual([1, 2]);
    expect(makes()).toBe(1);
  });
});
