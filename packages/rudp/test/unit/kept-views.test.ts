import { describe, expect, it } from 'vitest';
import { KeptViews } from '../../src/core/kept-views.js';

describe('KeptViews', () => {
  it('hands out the same view while the same range is asked for, and a view of exactly the range asked for', () => {
    const buf = Uint8Array.from({ length: 64 }, (_, i) => i);
    const kept = new KeptViews(buf, 8);
    const a = kept.view(9, 40);
    expect(kept.view(9, 40)).toBe(a);
    expect([a.byteOffset, a.length, a[0]]).toEqual([9, 31, 9]);
    // The same slot (end % 8): another start, another end with the same length, then the first again.
    for (const [start, end] of [
      [7, 40],
      [1, 32],
      [9, 40],
    ] as const) {
      const v = kept.view(start, end);
      expect([v.byteOffset, v.length, v.buffer]).toEqual([start, end - start, buf.buffer]);
      expect(v).toEqual(buf.subarray(start, end));
    }
    // Views are of the buffer, not copies: a write shows through.
    buf[9] = 200;
    expect(kept.view(9, 40)[0]).toBe(200);
  });
});
