import { describe, expect, it } from 'vitest';
import { bytesDifference, expectSameBytes, expectSameByteLists } from '../../../test-support/same-bytes.js';
import { filledBytes } from './helpers/filled-bytes.js';

// The workspace's shared byte comparison (test-support/, used by every package's tests); tested here, in the package the others build on.
const SIZE = 300_000;
const base = (): Uint8Array => filledBytes(SIZE, (i) => (i * 31 + 7) & 0xff);
const flipped = (at: number): Uint8Array => {
  const b = base();
  b[at] = (b[at] as number) ^ 0x01;
  return b;
};

describe('exact byte comparison for tests (test-support/same-bytes)', () => {
  it('finds the same bytes the same, whatever holds them (Buffer, Uint8Array, a view at an offset)', () => {
    const a = base();
    const inLarger = new Uint8Array(SIZE + 10);
    inLarger.set(a, 5);
    expect(bytesDifference(Buffer.from(a), a)).toBeUndefined();
    expect(bytesDifference(inLarger.subarray(5, 5 + SIZE), a)).toBeUndefined();
    expect(bytesDifference(new Uint8Array(0), Buffer.alloc(0))).toBeUndefined();
    expectSameBytes(inLarger.subarray(5, 5 + SIZE), a);
  });

  it.each([
    ['start', 0],
    ['middle', SIZE / 2],
    ['end', SIZE - 1],
  ])('tells a one-byte difference at the %s, and where', (_, at) => {
    const got = flipped(at);
    const want = base();
    expect(bytesDifference(got, want)).toMatch(new RegExp(`^300000 bytes each; first difference at byte ${at}: got .*\\| ${(got[at] as number).toString(16).padStart(2, '0')}`));
    expect(() => expectSameBytes(got, want, 'up.bin')).toThrow(`up.bin: 300000 bytes each; first difference at byte ${at}:`);
  });

  it('tells a length difference: one byte more, one byte fewer, nothing at all', () => {
    const want = base();
    const longer = new Uint8Array(SIZE + 1);
    longer.set(want);
    expect(bytesDifference(longer, want)).toMatch(/^300001 bytes, expected 300000; first difference at byte 300000: got .*\| 00, expected .*\| \(end\)$/);
    expect(bytesDifference(want.subarray(0, SIZE - 1), want)).toMatch(/^299999 bytes, expected 300000; first difference at byte 299999: got .*\| \(end\), expected/);
    expect(() => expectSameBytes(undefined, want, 'f.bin')).toThrow('f.bin: got nothing, expected 300000 bytes');
  });

  it('compares lists element by element, and names the first that differs or the count', () => {
    const want = [base(), Uint8Array.of(1, 2, 3)];
    expectSameByteLists([Buffer.from(base()), Buffer.of(1, 2, 3)], want);
    expect(() => expectSameByteLists([base(), Uint8Array.of(1, 2, 4)], want)).toThrow('messages: 2 of them, expected 2; #1 differs: 3 bytes each; first difference at byte 2');
    expect(() => expectSameByteLists([base()], want, 'datagrams')).toThrow('datagrams: 1 of them, expected 2; the first 1 are the same');
    expect(() => expectSameByteLists([...want, new Uint8Array(0)], want)).toThrow('messages: 3 of them, expected 2; the first 2 are the same');
  });
});
