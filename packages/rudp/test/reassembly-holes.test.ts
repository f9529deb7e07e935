/**
 * A partial message's record of what arrived stays small whatever holes a
 * peer leaves in it: 1-byte fragments at every other offset of a 128 KiB
 * message once held 65,000 ranges (1.6 MB of heap) and cost a scan of them
 * per fragment, duplicates included. The work is measured by what is held
 * (the ranges listed, which bound each fragment's search and splice), not by
 * the clock.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectSameBytes } from '../../../test-support/same-bytes.js';
import {
  MAX_LISTED_RANGES,
  MAX_LISTED_RANGES_PER_CONNECTION,
  Reassembly,
  cover,
  coverBits,
} from '../src/core/receive/reassembly.js';
import type { FragmentFrame } from '../src/wire/frame.js';
import { filledBytes } from './helpers/filled-bytes.js';
import { expectIs } from './helpers/cheap-expect.js';

const WINDOW = 128 * 1024;
/** The largest message the window takes (its credit is its bytes and 256). */
const LENGTH = WINDOW - 256;

const piece = (messageId: number, messageLength: number, offset: number, data: Uint8Array): FragmentFrame => ({
  type: 'fragment',
  messageId,
  messageLength,
  offset,
  data,
});

/** The byte at `offset` of the test message: any misplaced byte shows. */
const byteAt = (offset: number): number => (offset * 131 + 7) & 0xff;

describe('Reassembly of a message with a hole at every other byte', () => {
  it('keeps at most MAX_LISTED_RANGES ranges listed, takes duplicates as such, and still rebuilds the message', () => {
    const r = new Reassembly(WINDOW);
    let most = 0;
    let fresh = 0;
    for (let offset = 0; offset < LENGTH; offset += 2) {
      if (r.accept(piece(0, LENGTH, offset, Uint8Array.of(byteAt(offset)))) === 'new') fresh++;
      most = Math.max(most, r.rangesListed);
    }
    expect(fresh).toBe(LENGTH / 2);
    expect(most).toBeLessThanOrEqual(MAX_LISTED_RANGES);
    // The attack's second phase: duplicates near the end, which once cost a scan of the whole list each.
    let duplicates = 0;
    for (let k = 0; k < 5_000; k++) {
      const offset = LENGTH - 2 - 2 * (k % 1_000);
      if (r.accept(piece(0, LENGTH, offset, Uint8Array.of(byteAt(offset)))) === 'duplicate') duplicates++;
    }
    expect(duplicates).toBe(5_000);
    expect(r.rangesListed).toBeLessThanOrEqual(MAX_LISTED_RANGES);
    expect(r.hasNext()).toBe(false);
    // The holes filled, from the end (each joins two ranges): the message is whole, every byte in place.
    let filled = 0;
    for (let offset = LENGTH - 1; offset > 0; offset -= 2) {
      if (r.accept(piece(0, LENGTH, offset, Uint8Array.of(byteAt(offset)))) === 'new') filled++;
    }
    expect(filled).toBe(LENGTH / 2);
    const m = r.pop() as Uint8Array;
    expect(m.length).toBe(LENGTH);
    for (let i = 0; i < LENGTH; i++) if (m[i] !== byteAt(i)) expect.fail(`byte ${i}`);
    expect(r.rangesListed).toBe(0);
  });

  it('keeps at most MAX_LISTED_RANGES_PER_CONNECTION listed over many partial messages with holes', () => {
    const r = new Reassembly(WINDOW);
    const length = 512; // 768 credit each: some 170 partial messages fill the window
    let most = 0;
    for (let id = 0; ; id++) {
      let refused = false;
      for (let offset = 0; offset < length - 1; offset += 2) {
        const result = r.accept(piece(id, length, offset, Uint8Array.of(byteAt(offset))));
        if (result === 'refused') {
          refused = true;
          break;
        }
        expectIs(result, 'new');
        most = Math.max(most, r.rangesListed);
      }
      if (refused) break;
    }
    expect(most).toBeLessThanOrEqual(MAX_LISTED_RANGES_PER_CONNECTION);
    expect(r.buffered).toBeLessThanOrEqual(WINDOW);
  });
});

describe('cover and coverBits', () => {
  const fragment = fc.record({ lo: fc.nat({ max: 199 }), len: fc.integer({ min: 1, max: 80 }) });

  it('count exactly the bytes not covered before, in any order, overlapping or not (against a byte array)', () => {
    fc.assert(
      fc.property(fc.array(fragment, { minLength: 1, maxLength: 120, size: 'max' }), (pieces) => {
        const length = 280;
        const seen = new Uint8Array(length);
        const ranges: number[] = [];
        const bits = new Uint32Array(Math.ceil(length / 32));
        for (const { lo, len } of pieces) {
          const hi = Math.min(length, lo + len);
          let fresh = 0;
          for (let i = lo; i < hi; i++) if (seen[i] === 0) (seen[i] = 1), fresh++;
          expectIs(cover(ranges, lo, hi), fresh);
          expectIs(coverBits(bits, lo, hi), fresh);
          // The list stays sorted, disjoint and merged where ranges touch, and says what was seen (vitest's
          // matchers called only to report a failure: cheap-expect.ts).
          for (let i = 0; i < ranges.length; i += 2) {
            const [start, end, before] = [ranges[i] as number, ranges[i + 1] as number, ranges[i - 1]];
            if (!(start < end)) expect(start).toBeLessThan(end);
            if (before !== undefined && !(start > before)) expect(start).toBeGreaterThan(before);
          }
          // The first byte whose bit disagrees (one expect per piece: 280 per piece made the larger runs slow).
          let wrong = -1;
          for (let i = 0; i < length && wrong < 0; i++) if ((((bits[i >>> 5] as number) >>> (i & 31)) & 1) !== seen[i]) wrong = i;
          expectIs(wrong, -1);
        }
        let listed = 0;
        for (let i = 0; i < ranges.length; i += 2) listed += (ranges[i + 1] as number) - (ranges[i] as number);
        expect(listed).toBe(seen.reduce((a, b) => a + b, 0));
      }),
    );
  });

  it('a range already covered leaves the list as it was (the same array, the same pairs)', () => {
    const ranges = [0, 10, 20, 30, 40, 50];
    expect(cover(ranges, 22, 30)).toBe(0);
    expect(cover(ranges, 40, 41)).toBe(0);
    expect(ranges).toEqual([0, 10, 20, 30, 40, 50]);
    expect(cover(ranges, 10, 20)).toBe(10);
    expect(ranges).toEqual([0, 30, 40, 50]);
    expect(cover(ranges, 60, 61)).toBe(1);
    expect(cover(ranges, 35, 36)).toBe(1);
    expect(ranges).toEqual([0, 30, 35, 36, 40, 50, 60, 61]);
  });
});

describe('Reassembly past MAX_LISTED_RANGES, in any order', () => {
  it('rebuilds a message from 1-byte and overlapping fragments in a random order, with duplicates', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), (seed) => {
        const length = 8 * MAX_LISTED_RANGES + 37;
        // Every byte on its own, then every byte again in overlapping runs of 3, shuffled by `seed`.
        const frags: Array<readonly [number, number]> = [];
        for (let i = 0; i < length; i++) frags.push([i, i + 1]);
        for (let i = 0; i < length; i += 2) frags.push([i, Math.min(length, i + 3)]);
        let x = seed >>> 0;
        for (let i = frags.length - 1; i > 0; i--) {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          const j = x % (i + 1);
          [frags[i], frags[j]] = [frags[j] as readonly [number, number], frags[i] as readonly [number, number]];
        }
        const r = new Reassembly(1 << 20);
        const full = filledBytes(length, (i) => byteAt(i));
        let most = 0;
        let bits = false;
        for (const [lo, hi] of frags) {
          if (r.hasNext()) break;
          r.accept(piece(0, length, lo, full.subarray(lo, hi)));
          most = Math.max(most, r.rangesListed);
          // None listed while the message is partial: its ranges gave way to bits.
          if (most === MAX_LISTED_RANGES && r.rangesListed === 0 && !r.hasNext()) bits = true;
        }
        expect(most).toBe(MAX_LISTED_RANGES);
        expect(bits).toBe(true);
        expectSameBytes(r.pop(), full, 'the message');
      }),
      { numRuns: 10 },
    );
  });

  it('keeps the bits of a large message as far as the bytes received, not its whole length: 1.75 MiB of a 32 MiB message with every other chunk lost', () => {
    const window = 32 * 1024 * 1024;
    const length = window - 256;
    const r = new Reassembly(window);
    const chunk = 1_200;
    const send = (lo: number): void => {
      const hi = Math.min(length, lo + chunk);
      expectIs(r.accept(piece(0, length, lo, filledBytes(hi - lo, (k) => byteAt(lo + k), 256))), 'new');
    };
    // An honest sender's first 1.75 MiB with every other packet lost: 765 holes, past MAX_LISTED_RANGES.
    const head = 1.75 * 1024 * 1024;
    let lo = 0;
    for (; lo < head; lo += 2 * chunk) send(lo);
    expect(r.rangesListed).toBe(0);
    // The pieces held (918,000 bytes in 1 MiB) and their records (8 bytes each), then the bits: before,
    // those of all 32 MiB (4 MiB, 5.0 MiB in all); now those of the first 1.75 MiB, twice at most (1.4 MiB in all).
    expect(r.partialBytes).toBeLessThan(1024 * 1024 + 765 * 8 + (2 * head) / 8);
    // The rest, then the holes: whole, every byte in place.
    for (; lo < length; lo += chunk) send(lo);
    for (let hole = chunk; hole < head; hole += 2 * chunk) send(hole);
    const m = r.pop() as Uint8Array;
    expect(m.length).toBe(length);
    for (let i = 0; i < length; i += 997) if (m[i] !== byteAt(i)) expect.fail(`byte ${i}`);
  });
});
