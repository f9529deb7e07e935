/**
 * A large message is held as the pieces that arrived until they cost a
 * quarter of it, and only then allocated whole: what a peer makes a receiver
 * hold follows what it sent, not the size it announced (attack round 6: the
 * last byte of a 32 MiB message, then one byte every 4 KiB of it, made all
 * 32 MiB resident for under 100 KB sent to a default `listen()`).
 */
import { describe, expect, it } from 'vitest';
import { HELD_FROM_BYTES } from '../src/core/receive/held-pieces.js';
import { Reassembly } from '../src/core/receive/reassembly.js';
import type { FragmentFrame } from '../src/wire/frame.js';
import { createRandom, randomInt } from '../src/testing/prng.js';
import { filledBytes } from './helpers/filled-bytes.js';

const piece = (messageId: number, messageLength: number, offset: number, data: Uint8Array): FragmentFrame => ({ type: 'fragment', messageId, messageLength, offset, data });
/** The byte at `offset` of a test message: any misplaced byte shows. */
const byteAt = (offset: number): number => (offset * 131 + 7) & 0xff;

describe('Reassembly of a large message', () => {
  it('holds what arrived, not the size announced: one byte every 4 KiB of a 32 MiB message costs kilobytes', () => {
    const window = 32 * 1024 * 1024;
    const length = window - 256;
    const r = new Reassembly(window);
    const one = Uint8Array.of(1);
    expect(r.accept(piece(0, length, length - 1, one))).toBe('new');
    let sent = 1;
    for (let offset = 0; offset < length - 1; offset += 4096) {
      expect(r.accept(piece(0, length, offset, one))).toBe('new');
      sent++;
    }
    expect(sent).toBe(8193);
    // Allocated whole at the first byte, this was 32 MiB (its pages all written); now the 8,193 bytes,
    // their records and the bits of the holes (an eighth of the message once they outgrew a list).
    expect(r.partialBytes).toBeLessThan(length / 8 + 256 * 1024);
    expect(r.partialBytes).toBeGreaterThan(0);
  });

  it('rebuilds it from fragments in any order, with duplicates and overlaps, allocating it whole on the way', () => {
    for (let seed = 1; seed <= 4; seed++) {
      const rng = createRandom(seed);
      const length = HELD_FROM_BYTES * 4 + randomInt(rng, 1, 5_000);
      const full = filledBytes(length, (i) => byteAt(i));
      // 1,200-byte chunks, some resent, and some runs that straddle two chunks.
      const frags: Array<readonly [number, number]> = [];
      for (let lo = 0; lo < length; lo += 1_200) frags.push([lo, Math.min(length, lo + 1_200)]);
      for (let k = 0; k < 40; k++) {
        const lo = randomInt(rng, 0, length - 1);
        frags.push([lo, Math.min(length, lo + randomInt(rng, 1, 3_000))]);
      }
      for (let i = frags.length - 1; i > 0; i--) {
        const j = randomInt(rng, 0, i + 1);
        [frags[i], frags[j]] = [frags[j] as readonly [number, number], frags[i] as readonly [number, number]];
      }
      const r = new Reassembly(1 << 20);
      let allocated = false;
      let heldMost = 0;
      for (const [lo, hi] of frags) {
        if (r.hasNext()) break;
        r.accept(piece(0, length, lo, full.subarray(lo, hi)));
        if (r.partialBytes >= length) allocated = true;
        else heldMost = Math.max(heldMost, r.partialBytes);
      }
      const got = r.pop();
      // Compared as buffers: toEqual walks 260 KB an element at a time.
      expect(got !== undefined && Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(full)).toBe(true);
      expect(allocated).toBe(true);
      // Held pieces never cost much more than a quarter of the message before it was allocated.
      expect(heldMost).toBeLessThan(length / 4 + 2 * 1_200 + 64 * 1024);
    }
  });

  it('allocates a message up to HELD_FROM_BYTES at its first fragment, as before', () => {
    const r = new Reassembly(1 << 20);
    r.accept(piece(0, HELD_FROM_BYTES, 0, new Uint8Array(10)));
    expect(r.partialBytes).toBe(HELD_FROM_BYTES);
  });
});
