import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c, crc32cPortable } from '../src/wire/crc32c.js';
import { createWasmCrc32c } from '../src/wire/crc32c-wasm.js';
import { PacketType, PacketWriter, isProtected, parseHeader } from '../src/wire/packet.js';

const SEED = 0x32c;

/** The definition, one bit at a time: what the table-driven code must agree with. */
function bitwiseCrc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i] as number;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('crc32c', () => {
  it('gives the standard check value for "123456789"', () => {
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
  });

  it('matches the RFC 3720 (iSCSI) test vectors', () => {
    const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(ascending)).toBe(0x46dd794e);
    expect(crc32c(ascending.slice().reverse())).toBe(0x113fdb5c);
  });

  it('is 0 for no bytes, and clips a range that runs past the array', () => {
    expect(crc32c(new Uint8Array(0))).toBe(0);
    const bytes = ascii('123456789');
    expect(crc32c(bytes, 5, 5)).toBe(0);
    expect(crc32c(bytes, 0, 100)).toBe(0xe3069283);
    // A view into a larger buffer must not read the bytes after it.
    const backing = new Uint8Array(64).fill(0xaa);
    backing.set(bytes, 3);
    expect(crc32c(backing.subarray(3, 12), 0, 40)).toBe(0xe3069283);
  });

  it('agrees with the bitwise definition on random data, lengths, ranges and unaligned views', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 1300, size: 'max' }),
        fc.nat({ max: 7 }),
        fc.nat(),
        fc.nat(),
        (data, shift, a, b) => {
          // The same bytes at every alignment of the underlying buffer.
          const backing = new Uint8Array(data.length + 8);
          backing.set(data, shift);
          const view = backing.subarray(shift, shift + data.length);
          const start = data.length === 0 ? 0 : a % (data.length + 1);
          const end = start + (data.length === 0 ? 0 : b % (data.length - start + 1));
          expect(crc32c(view)).toBe(bitwiseCrc32c(data));
          expect(crc32c(view, start, end)).toBe(bitwiseCrc32c(data, start, end));
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('runs the WebAssembly loop here, and it and the portable JS loop agree with the definition', () => {
    // WebAssembly is available here, so `crc32c` takes that path for inputs of 64 bytes and more.
    expect(createWasmCrc32c(new Int32Array(16 * 256))).toBeDefined();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1300, size: 'max' }), fc.nat({ max: 7 }), (data, shift) => {
        const backing = new Uint8Array(data.length + 8);
        backing.set(data, shift);
        const view = backing.subarray(shift, shift + data.length);
        const want = bitwiseCrc32c(data);
        expect(crc32cPortable(view)).toBe(want);
        expect(crc32c(view)).toBe(want);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('carries the state across the WebAssembly input window (inputs of 48 KiB and more)', () => {
    for (const n of [49_151, 49_152, 49_153, 100_000, 200_003]) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 131 + (i >> 8)) & 0xff);
      const want = bitwiseCrc32c(data, 5, n);
      expect(crc32c(data, 5, n)).toBe(want);
      expect(crc32cPortable(data, 5, n)).toBe(want);
    }
  });

  it('gives each buffer its own answer when calls alternate between buffers', () => {
    const samples = fc.sample(fc.uint8Array({ minLength: 17, maxLength: 1200 }), { seed: SEED, numRuns: 6 });
    const expected = samples.map((d) => bitwiseCrc32c(d));
    for (let round = 0; round < 3; round++) {
      samples.forEach((d, i) => expect(crc32c(d)).toBe(expected[i]));
      // Node Buffers may share one pooled ArrayBuffer at arbitrary offsets.
      samples.forEach((d, i) => expect(crc32c(Buffer.from(d))).toBe(expected[i]));
    }
  });

  it('protects a packet: the receiver accepts it intact and rejects any single flipped bit', () => {
    const w = new PacketWriter(new Uint8Array(1200), PacketType.Data, 0x01020304, 7);
    w.bytes(ascii('hello, checksummed world'));
    const datagram = w.finish().slice();
    expect(typeof parseHeader(datagram)).toBe('object');
    for (let bit = 0; bit < datagram.length * 8; bit++) {
      const bad = datagram.slice();
      bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7));
      // A flip that turns the type into a protected one leaves the checksum to the AEAD (its tag fails).
      if (isProtected((bad[0] as number) & 0x07)) continue;
      expect(parseHeader(bad)).toBe('checksum');
    }
  });
});
