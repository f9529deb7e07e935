/**
 * The ACK frame (type 0x02): largest, ack delay, range count, first range,
 * then (gap, length) per further range, all varints.
 *
 * The ACK delay travels in units of 2^ACK_DELAY_EXPONENT µs (frames here hold µs).
 * ACK ranges follow RFC 9000 §19.3: the first range covers
 * [largest − first, largest]; each next range sits `gap + 2` below the
 * previous smallest and spans `length + 1` packets.
 */
import { FrameType } from './frame-type.js';
import type { PacketWriter } from './packet.js';
import { type Reader, varintSize } from './varint.js';

/** ACK delays are sent in units of 2^3 = 8 µs (QUIC's default exponent): two bytes up to 131 ms. */
export const ACK_DELAY_EXPONENT = 3;

/** An inclusive range of packet numbers. */
export interface PnRange {
  readonly lo: number;
  readonly hi: number;
}

/** ACK: ranges sorted from the highest down. */
export interface AckFrame {
  readonly type: 'ack';
  readonly ranges: readonly PnRange[];
  readonly delayMicros: number;
}

/** The ACK delay field's value for a delay in µs. */
function ackDelayUnits(delayMicros: number): number {
  return Math.round(delayMicros / 2 ** ACK_DELAY_EXPONENT);
}

/** Bytes an ACK frame for the first `count` of `ranges` (default all) takes. */
export function ackFrameSize(ranges: readonly PnRange[], delayMicros: number, count = ranges.length): number {
  const first = ranges[0];
  if (!first || count < 1) return 0;
  let n = ackHeadSize(first, delayMicros) + varintSize(count - 1);
  for (let i = 1; i < count; i++) n += ackRangeSize(ranges[i - 1] as PnRange, ranges[i] as PnRange);
  return n;
}

/** Bytes of an ACK frame's type, largest number, delay and first range: all but its range count and further ranges. */
function ackHeadSize(first: PnRange, delayMicros: number): number {
  return 1 + varintSize(first.hi) + varintSize(ackDelayUnits(delayMicros)) + varintSize(first.hi - first.lo);
}

/** Bytes a further range `r` takes after `prev`: its gap and its length. */
function ackRangeSize(prev: PnRange, r: PnRange): number {
  return varintSize(prev.lo - r.hi - 2) + varintSize(r.hi - r.lo);
}

/**
 * The most of the first `count` of `ranges` whose ACK frame takes at most `room` bytes (at least the
 * newest range: 0 when even it alone does not fit, or there is none). The frame grows with each range
 * kept, so this is the count `ackFrameSize` allows, found in one pass: cut one range at a time and
 * sized anew, the 32 ranges a receiver keeps were read some 500 times for each ACK written
 * (`ackFrameSize` was an eighth of a lossy simulation's CPU).
 */
export function ackRangesThatFit(ranges: readonly PnRange[], delayMicros: number, count: number, room: number): number {
  const first = ranges[0];
  if (!first || count < 1) return 0;
  const head = ackHeadSize(first, delayMicros);
  if (head + varintSize(0) > room) return 0;
  let body = 0;
  let n = 1;
  for (; n < count; n++) {
    const more = body + ackRangeSize(ranges[n - 1] as PnRange, ranges[n] as PnRange);
    if (head + varintSize(n) + more > room) break;
    body = more;
  }
  return n;
}

/**
 * Writes an ACK frame of the first `count` of `ranges` (default all; a
 * count, so the sender need not copy the ranges it keeps to cut the list);
 * `ranges` must be disjoint, sorted highest first, non-adjacent.
 */
export function writeAck(w: PacketWriter, ranges: readonly PnRange[], delayMicros: number, count = ranges.length): void {
  const first = ranges[0];
  if (!first || count < 1) return;
  w.u8(FrameType.Ack);
  w.varint(first.hi);
  w.varint(ackDelayUnits(delayMicros));
  w.varint(count - 1);
  w.varint(first.hi - first.lo);
  for (let i = 1; i < count; i++) {
    const prev = ranges[i - 1] as PnRange;
    const r = ranges[i] as PnRange;
    w.varint(prev.lo - r.hi - 2);
    w.varint(r.hi - r.lo);
  }
}

/** Most ACK ranges accepted in one frame; more is treated as malformed. */
export const MAX_ACK_RANGES = 256;

/**
 * Where the connection parses the first ACK frame of each received packet:
 * one frame whose ranges array and range objects are rewritten by the next
 * packet (an ACK arrives for nearly every packet sent, and its frame, array
 * and ranges were three to five heap objects). Nothing may keep the frame
 * or a range past the packet; a second ACK frame in the same packet is
 * parsed into objects of its own.
 */
export class AckScratch {
  /** The frame; `ranges` has exactly the last parsed ACK's ranges. */
  readonly frame: { readonly type: 'ack'; readonly ranges: PnRange[]; delayMicros: number } = { type: 'ack', ranges: [], delayMicros: 0 };
  /** Range objects, reused: `frame.ranges[i]` is `pool[i]`. */
  private readonly pool: { lo: number; hi: number }[] = [];

  /** Starts a frame of `delayMicros`, with no ranges. */
  start(delayMicros: number): void {
    this.frame.delayMicros = delayMicros;
    // `pop`, not a `length` write: shrinking by `length` may drop the array's storage.
    const ranges = this.frame.ranges;
    while (ranges.length > 0) ranges.pop();
  }

  /** Appends range [lo, hi]. */
  add(lo: number, hi: number): void {
    const ranges = this.frame.ranges;
    let r = this.pool[ranges.length];
    if (r === undefined) {
      r = { lo, hi };
      this.pool.push(r);
    } else {
      r.lo = lo;
      r.hi = hi;
    }
    ranges.push(r);
  }
}

/** Reads an ACK frame into `scratch` (its one frame, rewritten), or into a new frame of its own when none is given. */
export function readAck(r: Reader, scratch = new AckScratch()): AckFrame | undefined {
  const largest = r.varint();
  const delayMicros = r.varint() * 2 ** ACK_DELAY_EXPONENT;
  const count = r.varint();
  const firstLen = r.varint();
  if (!r.ok || count > MAX_ACK_RANGES || firstLen > largest) return undefined;
  scratch.start(delayMicros);
  let lo = largest - firstLen;
  scratch.add(lo, largest);
  for (let i = 0; i < count; i++) {
    const gap = r.varint();
    const len = r.varint();
    if (!r.ok) return undefined;
    const hi = lo - gap - 2;
    const newLo = hi - len;
    if (newLo < 0) return undefined;
    scratch.add(newLo, hi);
    lo = newLo;
  }
  return scratch.frame;
}
