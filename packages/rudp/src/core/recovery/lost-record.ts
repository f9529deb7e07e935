/**
 * The record of packets declared lost, kept a few probe timeouts in
 * packet-number order: one acknowledged after all was only reordered (a
 * spurious loss, which `LossDetection` undoes and learns the reordering
 * from). The record is a plain array owned by `LossDetection` (the shared
 * empty one while nothing is remembered); these functions keep it.
 */
import { pushOnto } from '../shared-empty.js';
import type { SentPacket } from './sent-packet.js';

/** A packet declared lost, remembered in case it was only late. */
export interface LostPacket {
  readonly packet: SentPacket;
  readonly lostAt: number;
  /** The largest acknowledged packet number when it was declared lost. */
  readonly largestAcked: number;
}

/** Packets declared lost that are remembered, to recognise spurious losses. */
const LOST_RECORD_SIZE = 1024;
/** A packet declared lost is remembered this many probe timeouts. */
export const LOST_RECORD_PTOS = 3;

/**
 * `record` with `entry` in its place by packet number, the oldest let go
 * past `LOST_RECORD_SIZE`: a new array in place of the shared empty one,
 * else `record` itself. Assign the result back.
 */
export function rememberLost(record: LostPacket[], entry: LostPacket): LostPacket[] {
  // Losses are declared in packet-number order (both rules favour older packets), so this appends.
  let i = record.length;
  while (i > 0 && (record[i - 1] as LostPacket).packet.pn > entry.packet.pn) i--;
  let kept = record;
  // pushOnto: the record may be the shared empty array.
  if (i === record.length) kept = pushOnto(record, entry);
  else record.splice(i, 0, entry);
  if (kept.length > LOST_RECORD_SIZE) kept.shift();
  return kept;
}

/** Drops the entries of `record` declared lost before `horizon`: too old to be merely late. */
export function forgetLostBefore(record: LostPacket[], horizon: number): void {
  let stale = 0;
  while (stale < record.length && (record[stale] as LostPacket).lostAt < horizon) stale++;
  if (stale > 0) record.splice(0, stale);
}

/** Index of the first entry of `record` whose packet number is ≥ `pn`. */
export function lowerBound(record: readonly LostPacket[], pn: number): number {
  let lo = 0;
  let hi = record.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((record[mid] as LostPacket).packet.pn < pn) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
