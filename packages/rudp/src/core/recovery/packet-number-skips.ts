/**
 * Packet-number skipping (RFC 9000 §21.4), and what an ACK frame may cover
 * of what we sent: a peer that acknowledges a number we left out, or one we
 * never used, acknowledges what it did not receive (an optimistic ACK,
 * driving our rate past the path's).
 *
 * The record of skipped numbers is a plain array owned by `LossDetection`
 * (the shared empty one until the first skip: an idle connection that never
 * sent a few hundred packets has none); these functions read and fill it.
 */
import type { PnRange } from '../../wire/ack-frame.js';

/**
 * The sender leaves out one packet number every `SKIP_MIN_GAP` to
 * `SKIP_MIN_GAP + SKIP_GAP_SPREAD - 1` numbers, where in that span drawn
 * from the endpoint's randomness (so a peer cannot predict it). An honest
 * peer never acknowledges a number that never left; a peer that does is
 * acknowledging what it did not receive and is closed. Every few hundred
 * packets keeps the cost (one gap the receiver ACKs at once, as for a lost
 * packet) far below the path's own losses, and still catches a liar within
 * a thousand packets.
 */
export const SKIP_MIN_GAP = 128;
/** See `SKIP_MIN_GAP`. */
export const SKIP_GAP_SPREAD = 896;
/**
 * Skipped numbers remembered. A liar acknowledges everything up to what it
 * guesses we sent, so the newest skips suffice; four keeps the record one
 * small array, made at the first skip.
 */
const SKIPS_REMEMBERED = 4;
/** A `skipped` slot not filled yet: no ACK range covers a negative number. */
const NO_SKIP = -1;

/** The next number to leave out after `after`, drawn from `random` (a uniform 32-bit integer). */
export function nextSkip(after: number, random: number): number {
  // `| 0`: the remainder of a number above 2^31 is a boxed double, even when whole; one stored in
  // `LossDetection.skipAt` would make that a boxed 16-byte field in every connection.
  return after + SKIP_MIN_GAP + (((random >>> 0) % SKIP_GAP_SPREAD) | 0);
}

/**
 * `skipped` (the last `SKIPS_REMEMBERED` numbers left out, oldest first)
 * with `pn` added and the oldest let go: a new array at the first skip (in
 * place of the shared empty one), else `skipped` itself. Assign the result back.
 */
export function rememberSkip(skipped: number[], pn: number): number[] {
  const s = skipped.length === 0 ? [NO_SKIP, NO_SKIP, NO_SKIP, NO_SKIP] : skipped;
  for (let i = 0; i < SKIPS_REMEMBERED - 1; i++) s[i] = s[i + 1] as number;
  s[SKIPS_REMEMBERED - 1] = pn;
  return s;
}

/** Whether `ranges` (highest first) cover a number in `skipped`. */
export function coversSkip(skipped: readonly number[], ranges: readonly PnRange[]): boolean {
  const top = ranges[0];
  if (top === undefined) return false;
  for (let i = 0; i < skipped.length; i++) {
    const pn = skipped[i] as number;
    if (pn === NO_SKIP || pn > top.hi) continue;
    for (let j = 0; j < ranges.length; j++) {
      const r = ranges[j] as PnRange;
      if (pn > r.hi) break;
      if (pn >= r.lo) return true;
    }
  }
  return false;
}

/**
 * Numbers in `skipped` strictly between `lo` and `hi`: the packet rule
 * counts packets sent after a packet, and a skipped number is none.
 */
export function skipsBetween(skipped: readonly number[], lo: number, hi: number): number {
  let n = 0;
  for (let i = 0; i < skipped.length; i++) {
    const pn = skipped[i] as number;
    if (pn > lo && pn < hi) n++;
  }
  return n;
}

/** `ranges` (highest first) without packet numbers above `max`. */
export function clipRanges(ranges: readonly PnRange[], max: number): readonly PnRange[] {
  const first = ranges[0];
  if (first === undefined || first.hi <= max) return ranges;
  const out: PnRange[] = [];
  for (const r of ranges) {
    if (r.lo > max) continue;
    out.push(r.hi > max ? { lo: r.lo, hi: max } : r);
  }
  return out;
}
