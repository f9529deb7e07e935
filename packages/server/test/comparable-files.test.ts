import { describe, expect, it } from 'vitest';
import { comparableFiles } from './comparable-files.js';

/** `n` bytes counting up from `from` (mod 256). */
const counting = (n: number, from = 0): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) % 256));

/** A copy of `bytes` with the bits of `mask` flipped in its byte `at`. */
const flipped = (bytes: Buffer, at: number, mask: number): Buffer => {
  const copy = Buffer.from(bytes);
  copy.writeUInt8(copy.readUInt8(at) ^ mask, at);
  return copy;
};

describe('comparableFiles: files compared cheaply, as exactly as their bytes', () => {
  it('keeps a small file byte for byte, every byte value included', () => {
    const bytes = counting(4096);
    const text = comparableFiles(new Map([['t', bytes]])).get('t') ?? '';
    expect(Buffer.from(text, 'latin1').equals(bytes)).toBe(true);
    // One byte changed anywhere, or one more, is another text.
    expect(comparableFiles(new Map([['t', flipped(bytes, 4095, 1)]]))).not.toEqual(comparableFiles(new Map([['t', bytes]])));
    expect(comparableFiles(new Map([['t', counting(4097)]]))).not.toEqual(comparableFiles(new Map([['t', bytes]])));
  });

  it('tells apart large files that differ in one byte, or only in length, and names their length', () => {
    const bytes = counting(300_000, 7);
    const same = comparableFiles(new Map([['up.bin', counting(300_000, 7)]]));
    expect(comparableFiles(new Map([['up.bin', bytes]]))).toEqual(same);
    expect(same.get('up.bin')).toMatch(/^300000 bytes, SHA-256 [0-9a-f]{64}$/u);
    for (const at of [0, 150_000, 299_999]) expect(comparableFiles(new Map([['up.bin', flipped(bytes, at, 0x80)]]))).not.toEqual(same);
    expect(comparableFiles(new Map([['up.bin', bytes.subarray(0, 299_999)]]))).not.toEqual(same);
  });

  it('compares names and the set of files too', () => {
    const one = new Map([['a', Buffer.from('x')]]);
    expect(comparableFiles(new Map([['b', Buffer.from('x')]]))).not.toEqual(comparableFiles(one));
    expect(comparableFiles(new Map([...one, ['b', Buffer.from('')]]))).not.toEqual(comparableFiles(one));
  });
});
