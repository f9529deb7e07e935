/**
 * Messages reach the application as Buffers. A tiny array of its own (which
 * V8 may keep inside the typed array object) is copied into Node's pool
 * rather than having its `buffer` moved out to a new ArrayBuffer of its own,
 * which cost more than every other step of delivering a 64-byte message;
 * anything else, tiny messages cut from a datagram included, is a view of
 * the same bytes (a pooled copy cost three times a view).
 */
import { describe, expect, it } from 'vitest';
import { asBuffer } from '../src/node/udp-endpoint.js';

/** A typed array whose `buffer` must not be asked for. */
class NoBufferAccess extends Uint8Array {
  override get buffer(): ArrayBuffer {
    throw new Error('buffer accessed');
  }
}

describe('asBuffer', () => {
  it('copies an array of its own of up to 64 bytes without asking for its buffer', () => {
    for (const n of [0, 1, 16, 64]) {
      const data = new NoBufferAccess(n).map((_, i) => i + 1);
      const b = asBuffer(data);
      expect(Buffer.isBuffer(b)).toBe(true);
      expect([...b]).toEqual([...data]);
      if (n > 0) {
        data[0] = 0xff;
        expect(b[0]).toBe(1); // a copy
      }
    }
  });

  it('views a larger message in place, and returns a Buffer as it is', () => {
    const data = new Uint8Array(1000).map((_, i) => i & 0xff).subarray(100, 300);
    const b = asBuffer(data);
    expect(Buffer.isBuffer(b)).toBe(true);
    expect(b.buffer).toBe(data.buffer);
    expect(b.byteOffset).toBe(100);
    expect(b.length).toBe(200);
    const buf = Buffer.from([1, 2, 3]);
    expect(asBuffer(buf)).toBe(buf);
  });

  it('views a tiny message cut from a datagram in place', () => {
    const datagram = new Uint8Array(1200).map((_, i) => i & 0xff);
    for (const n of [0, 1, 64]) {
      const data = datagram.subarray(30, 30 + n);
      const b = asBuffer(data);
      expect(Buffer.isBuffer(b)).toBe(true);
      expect(b.buffer).toBe(datagram.buffer);
      expect([b.byteOffset, b.length]).toEqual([30, n]);
    }
  });
});
