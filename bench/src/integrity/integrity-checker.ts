import { parsePayload } from './payload.js';

/** What went wrong on one stream of numbered payloads (all zero when delivery was perfect). */
export interface IntegrityCounts {
  readonly sent: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  readonly corrupted: number;
}

/** Outcome of one delivery, for latency bookkeeping. */
export type DeliveryVerdict =
  | { readonly kind: 'ok'; readonly seq: number }
  | { readonly kind: 'duplicate' | 'out-of-order'; readonly seq: number }
  | { readonly kind: 'corrupt' };

/**
 * Checks one ordered stream of payloads made by `makePayload` with sequence
 * numbers 0, 1, 2, …: every delivery must be the next number, intact, once.
 */
export class IntegrityChecker {
  private seen = new Uint8Array(64);
  private next = 0;
  private sentCount = 0;
  private deliveredCount = 0;
  private duplicated = 0;
  private outOfOrder = 0;
  private corrupted = 0;

  /** Records that payload `seq` was handed to the sender (they must be numbered 0, 1, 2, …). */
  noteSent(): number {
    return this.sentCount++;
  }

  /** Checks one delivered payload. */
  deliver(data: Uint8Array): DeliveryVerdict {
    const parsed = parsePayload(data);
    if (!parsed) {
      this.corrupted++;
      return { kind: 'corrupt' };
    }
    const { seq } = parsed;
    if (seq >= this.sentCount) {
      // A number never sent can only come from corruption that kept the checksum valid.
      this.corrupted++;
      return { kind: 'corrupt' };
    }
    this.grow(seq);
    if (this.seen[seq] === 1) {
      this.duplicated++;
      return { kind: 'duplicate', seq };
    }
    this.seen[seq] = 1;
    this.deliveredCount++;
    if (seq !== this.next) {
      this.outOfOrder++;
      this.next = Math.max(this.next, seq + 1);
      return { kind: 'out-of-order', seq };
    }
    this.next = seq + 1;
    return { kind: 'ok', seq };
  }

  /** Whether payload `seq` has been delivered (intact) at least once. */
  isDelivered(seq: number): boolean {
    return seq < this.seen.length && this.seen[seq] === 1;
  }

  /** The counts so far; `lost` is what was sent and never delivered. */
  counts(): IntegrityCounts {
    return {
      sent: this.sentCount,
      delivered: this.deliveredCount,
      lost: this.sentCount - this.deliveredCount,
      duplicated: this.duplicated,
      outOfOrder: this.outOfOrder,
      corrupted: this.corrupted,
    };
  }

  private grow(seq: number): void {
    if (seq < this.seen.length) return;
    let size = this.seen.length;
    while (size <= seq) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.seen);
    this.seen = bigger;
  }
}

/** Sums the counts of several streams. */
export function sumIntegrity(all: readonly IntegrityCounts[]): IntegrityCounts {
  const total = { sent: 0, delivered: 0, lost: 0, duplicated: 0, outOfOrder: 0, corrupted: 0 };
  for (const c of all) {
    total.sent += c.sent;
    total.delivered += c.delivered;
    total.lost += c.lost;
    total.duplicated += c.duplicated;
    total.outOfOrder += c.outOfOrder;
    total.corrupted += c.corrupted;
  }
  return total;
}

/** True when nothing was lost, duplicated, corrupted or reordered. */
export function isClean(c: IntegrityCounts): boolean {
  return c.lost === 0 && c.duplicated === 0 && c.outOfOrder === 0 && c.corrupted === 0;
}

/** A one-line description of what went wrong, e.g. `lost 3, duplicated 1`. */
export function describeViolations(c: IntegrityCounts): string {
  const parts: string[] = [];
  if (c.lost) parts.push(`lost ${c.lost}/${c.sent}`);
  if (c.duplicated) parts.push(`duplicated ${c.duplicated}`);
  if (c.outOfOrder) parts.push(`out of order ${c.outOfOrder}`);
  if (c.corrupted) parts.push(`corrupted ${c.corrupted}`);
  return parts.length ? parts.join(', ') : 'clean';
}
