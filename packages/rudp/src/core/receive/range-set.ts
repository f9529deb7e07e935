/**
 * The packet numbers a receiver has seen, as disjoint inclusive ranges
 * sorted highest first: exactly the shape an ACK frame carries. Bounded:
 * past `maxRanges` the oldest ranges are forgotten (their packets were
 * acknowledged many times over by then).
 */
import type { PnRange } from '../../wire/ack-frame.js';

/**
 * One range, an object of a class whose fields are declared bare: an object literal's map types them
 * as small integers, and once any set held a packet number past 2^31 (a peer can reach it in 131,072
 * packets of `MAX_PN_JUMP` steps) every range of every connection carried two 16-byte boxes.
 */
class MutableRange {
  lo: number;
  hi: number;

  constructor(lo: number, hi: number) {
    this.lo = lo;
    this.hi = hi;
  }
}

/** The ranges of every empty set: frozen, so a push onto it would throw rather than leak into other sets. */
const NO_RANGES = Object.freeze([]) as unknown as MutableRange[];

/** A bounded set of packet-number ranges. */
export class RangeSet {
  /**
   * Shared and empty until the first insert, which makes an array of exactly
   * one range: a connection that receives in order never needs more, and an
   * array grown by a push keeps room for 17.
   */
  private ranges: MutableRange[] = NO_RANGES;

  constructor(private readonly maxRanges = 32) {}

  /** Adds `pn`; returns false if it was already present (a duplicate). */
  insert(pn: number): boolean {
    const rs = this.ranges;
    if (rs.length === 0) {
      this.ranges = [new MutableRange(pn, pn)];
      return true;
    }
    let i = 0;
    while (i < rs.length && (rs[i] as PnRange).lo > pn + 1) i++;
    const r = rs[i];
    if (r === undefined || r.hi < pn - 1) {
      // Older than everything we remember counts as seen: a duplicate from the forgotten past.
      if (r === undefined && rs.length >= this.maxRanges && pn < (rs[rs.length - 1] as PnRange).lo) return false;
      rs.splice(i, 0, new MutableRange(pn, pn));
      if (rs.length > this.maxRanges) rs.pop();
      return true;
    }
    if (pn >= r.lo && pn <= r.hi) return false;
    if (pn === r.hi + 1) {
      r.hi = pn;
      const prev = rs[i - 1];
      if (prev && prev.lo === pn + 1) {
        prev.lo = r.lo;
        rs.splice(i, 1);
      }
    } else {
      r.lo = pn;
      const next = rs[i + 1];
      if (next && next.hi === pn - 1) {
        r.lo = next.lo;
        rs.splice(i + 1, 1);
      }
    }
    return true;
  }

  /** True if `pn` is in the set. */
  has(pn: number): boolean {
    const rs = this.ranges;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i] as PnRange;
      if (pn >= r.lo && pn <= r.hi) return true;
    }
    return false;
  }

  /** The ranges, highest first. */
  list(): readonly PnRange[] {
    return this.ranges;
  }

  /** The highest packet number seen, or -1. */
  largest(): number {
    return this.ranges[0]?.hi ?? -1;
  }

  /** Number of ranges held. */
  get size(): number {
    return this.ranges.length;
  }
}
