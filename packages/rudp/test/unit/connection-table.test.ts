import { describe, expect, it } from 'vitest';
import { expectIs } from '../helpers/cheap-expect.js';
import { ConnectionTable } from '../../src/core/connection-table.js';
import { createRandom, randomInt } from '../../src/testing/prng.js';

describe('ConnectionTable', () => {
  it('behaves as a Map over the whole 32-bit id range (ids that differ only in their low or high bits stay apart)', () => {
    const table = new ConnectionTable<string>();
    const model = new Map<number, string>();
    const rng = createRandom(7);
    const special = [0, 1, 2, 3, 4, 2 ** 30 - 1, 2 ** 30, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 32 - 4, 2 ** 32 - 1];
    const ids = [...special, ...Array.from({ length: 2_000 }, () => rng() >>> 0)];
    for (let step = 0; step < 20_000; step++) {
      const id = ids[randomInt(rng, 0, ids.length)] as number;
      switch (randomInt(rng, 0, 3)) {
        case 0:
          table.set(id, `v${step}`);
          model.set(id, `v${step}`);
          break;
        case 1:
          table.delete(id);
          model.delete(id);
          break;
        default:
          expectIs(table.get(id), model.get(id));
          expectIs(table.has(id), model.has(id));
      }
      expectIs(table.size, model.size);
    }
    expect([...table.values()].sort()).toEqual([...model.values()].sort());
  });
});
