/**
 * The reader's views: made on the backing ArrayBuffer directly (cheaper than
 * `subarray`), so they must follow the bytes read, not the first buffer a
 * reused reader saw, and be plain arrays whatever the input is.
 */
import { describe, expect, it } from 'vitest';
import { Reader } from '../../src/wire/varint.js';

describe('Reader.bytes', () => {
  it('views the bytes read, at their offset in a view with an offset of its own', () => {
    const backing = new Uint8Array(64).map((_, i) => i);
    const r = new Reader(backing.subarray(10, 40), 0, 30);
    expect(r.u8()).toBe(10);
    const v = r.bytes(4) as Uint8Array;
    expect([...v]).toEqual([11, 12, 13, 14]);
    expect(v.buffer).toBe(backing.buffer);
    expect(v.byteOffset).toBe(11);
    // A view, not a copy.
    backing[11] = 99;
    expect(v[0]).toBe(99);
  });

  it('follows a reset to another buffer (no view of the one read before)', () => {
    const a = new Uint8Array([1, 2, 3, 4]);
    const b = new Uint8Array(16).fill(7).subarray(8);
    const r = new Reader(a, 0, a.length);
    expect([...(r.bytes(2) as Uint8Array)]).toEqual([1, 2]);
    r.reset(b, 2, b.length);
    const v = r.bytes(3) as Uint8Array;
    expect(v.buffer).toBe(b.buffer);
    expect(v.byteOffset).toBe(10);
    expect([...v]).toEqual([7, 7, 7]);
  });

  it('hands out plain Uint8Arrays from a Buffer, and fails softly past the end', () => {
    const r = new Reader(Buffer.from([5, 6, 7]), 0, 3);
    const v = r.bytes(2) as Uint8Array;
    expect(Buffer.isBuffer(v)).toBe(false);
    expect([...v]).toEqual([5, 6]);
    expect(r.bytes(2)).toBeUndefined();
    expect(r.ok).toBe(false);
  });
});
