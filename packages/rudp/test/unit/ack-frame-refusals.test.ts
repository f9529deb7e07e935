/**
 * The ACK frame's decoder refuses each malformed shape (`readAck` answers `undefined`, which makes the
 * whole packet malformed), and takes the shape just inside each bound: a frame cut short in any field,
 * more than `MAX_ACK_RANGES` further ranges, a first range below packet 0, a gap or a range length
 * running below packet 0. And an empty range list writes and sizes no frame, and a frame's size is what is
 * written across the range count's step to two bytes. In `test/unit`, so the
 * mutation run (stryker.config.mjs, `wire/ack-frame.ts`) sees them: the fuzzers that send such frames
 * run outside it.
 */
import { describe, expect, it } from 'vitest';
import { AckScratch, MAX_ACK_RANGES, type PnRange, ackFrameSize, ackRangesThatFit, readAck, writeAck } from '../../src/wire/ack-frame.js';
import { PacketType, PacketWriter } from '../../src/wire/packet.js';
import { Reader, writeVarint } from '../../src/wire/varint.js';

/** The ACK frame body (after its type byte) of `fields` as varints, cut to its first `keep` bytes if given. */
function body(fields: readonly number[], keep?: number): Uint8Array {
  const buf = new Uint8Array(fields.length * 8);
  let at = 0;
  for (const f of fields) at = writeVarint(buf, at, f);
  return buf.subarray(0, keep ?? at);
}

/** `readAck` of `fields` (largest, delay, range count, first range length, then gap and length per further range). */
function read(fields: readonly number[], keep?: number): readonly PnRange[] | undefined {
  const bytes = body(fields, keep);
  return readAck(new Reader(bytes, 0, bytes.length))?.ranges.map((r) => ({ lo: r.lo, hi: r.hi }));
}

/** `count` further ranges of gap 0 and length 0 below a first range [largest, largest]: every other number. */
function manyRanges(largest: number, count: number): number[] {
  const fields = [largest, 0, count, 0];
  for (let i = 0; i < count; i++) fields.push(0, 0);
  return fields;
}

describe('readAck refuses a malformed ACK frame', () => {
  it('a well-formed frame reads as its ranges (the shapes below break one field of such frames)', () => {
    expect(read([10, 0, 0, 3])).toEqual([{ lo: 7, hi: 10 }]);
    expect(read([20, 0, 1, 2, 1, 3])).toEqual([
      { lo: 18, hi: 20 },
      { lo: 12, hi: 15 },
    ]);
  });

  it('cut short in its largest, delay, range count or first range: refused', () => {
    const whole = [10, 0, 0, 3];
    for (let keep = 0; keep < 4; keep++) expect(read(whole, keep)).toBeUndefined();
    // A two-byte varint (64) with its second byte missing.
    expect(read([64, 0, 0, 3], 1)).toBeUndefined();
    expect(read(whole, 4)).toEqual([{ lo: 7, hi: 10 }]);
  });

  it('cut short in a further range (its gap, or its length after the gap): refused', () => {
    const whole = [20, 0, 2, 2, 1, 3, 0, 1];
    expect(read(whole)).toEqual([
      { lo: 18, hi: 20 },
      { lo: 12, hi: 15 },
      { lo: 9, hi: 10 },
    ]);
    // Every field but the last range's length, then every field but its gap and length.
    expect(read(whole, 7)).toBeUndefined();
    expect(read(whole, 6)).toBeUndefined();
    // A range count past the ranges present.
    expect(read([20, 0, 3, 2, 1, 3, 0, 1])).toBeUndefined();
  });

  it(`more than MAX_ACK_RANGES (${MAX_ACK_RANGES}) further ranges: refused, though every range is present; ${MAX_ACK_RANGES} are read`, () => {
    const most = read(manyRanges(10_000, MAX_ACK_RANGES));
    expect(most?.length).toBe(MAX_ACK_RANGES + 1);
    expect(most?.at(-1)).toEqual({ lo: 10_000 - 2 * MAX_ACK_RANGES, hi: 10_000 - 2 * MAX_ACK_RANGES });
    expect(read(manyRanges(10_000, MAX_ACK_RANGES + 1))).toBeUndefined();
  });

  it('a first range longer than the largest number (it would reach below packet 0): refused; down to packet 0 is read', () => {
    expect(read([5, 0, 0, 6])).toBeUndefined();
    expect(read([5, 0, 0, 5])).toEqual([{ lo: 0, hi: 5 }]);
  });

  it('a gap that runs below packet 0: refused; one that ends at packet 0 is read', () => {
    // Below [5, 5]: a gap g puts the next range's top at 5 - g - 2.
    expect(read([5, 0, 1, 0, 4, 0])).toBeUndefined();
    expect(read([5, 0, 1, 0, 3, 0])).toEqual([
      { lo: 5, hi: 5 },
      { lo: 0, hi: 0 },
    ]);
  });

  it('a range length that runs below packet 0: refused; one that ends at packet 0 is read', () => {
    // Below [5, 5] with gap 0: the next range's top is 3, its bottom 3 - length.
    expect(read([5, 0, 1, 0, 0, 4])).toBeUndefined();
    expect(read([5, 0, 1, 0, 0, 3])).toEqual([
      { lo: 5, hi: 5 },
      { lo: 0, hi: 3 },
    ]);
  });

  it("a refused frame read into the connection's scratch leaves nothing of itself for the next frame read there", () => {
    const scratch = new AckScratch();
    const bad = body([20, 0, 2, 2, 1, 3, 11, 0]);
    expect(readAck(new Reader(bad, 0, bad.length), scratch)).toBeUndefined();
    const good = body([9, 0, 0, 1]);
    expect(readAck(new Reader(good, 0, good.length), scratch)?.ranges).toEqual([{ lo: 8, hi: 9 }]);
  });
});

describe('an empty range list makes no ACK frame', () => {
  const ranges: readonly PnRange[] = [
    { lo: 8, hi: 10 },
    { lo: 2, hi: 4 },
  ];

  it('ackFrameSize and ackRangesThatFit: 0 for no ranges, or a count of 0', () => {
    expect(ackFrameSize([], 0)).toBe(0);
    expect(ackFrameSize(ranges, 0, 0)).toBe(0);
    expect(ackFrameSize(ranges, 0)).toBeGreaterThan(0);
    expect(ackRangesThatFit([], 0, 1, 100)).toBe(0);
    expect(ackRangesThatFit(ranges, 0, 0, 100)).toBe(0);
    expect(ackRangesThatFit(ranges, 0, 2, 100)).toBe(2);
  });

  it('ackFrameSize is the bytes writeAck writes, on both sides of the range count field\'s step to two bytes (64 further ranges)', () => {
    const many: PnRange[] = [];
    for (let i = 0; i < 70; i++) many.push({ lo: 1000 - 3 * i, hi: 1000 - 3 * i });
    for (const count of [1, 62, 63, 64, 65, 66, 70]) {
      const w = new PacketWriter(new Uint8Array(512), PacketType.Data, 9, 1, 2);
      const start = w.pos;
      writeAck(w, many, 0, count);
      expect([count, w.pos - start]).toEqual([count, ackFrameSize(many, 0, count)]);
    }
  });

  it('writeAck writes nothing for no ranges, or a count of 0', () => {
    const w = new PacketWriter(new Uint8Array(64), PacketType.Data, 9, 1, 2);
    const start = w.pos;
    writeAck(w, [], 0);
    writeAck(w, ranges, 0, 0);
    expect(w.pos).toBe(start);
    writeAck(w, ranges, 0);
    expect(w.pos - start).toBe(ackFrameSize(ranges, 0));
  });
});
