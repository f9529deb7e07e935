/**
 * A multiset of numbers that says its smallest in O(1) amortised: a count
 * per value and a min-heap of the values, each at most once. A value whose
 * count fell to 0 stays in the heap until it reaches the top, and leaves
 * then; values that come back before that reuse their place. Meant for sets
 * where many members share few values (the resend queue's due times and
 * frame sizes): its heap holds the distinct values, not the members.
 */
import { BinaryHeap } from './binary-heap.js';

/** Heap order: one function for every multiset, not an arrow per instance. */
const below = (a: number, b: number): boolean => a < b;

/** Numbers with repeats, the smallest at hand. */
export class MinMultiset {
  /** Members per value; a value at 0 stays until it leaves `values`. */
  private readonly counts = new Map<number, number>();
  /** The keys of `counts`, each once. */
  private readonly values = new BinaryHeap<number>(below);

  /** Adds one member of value `v`. */
  add(v: number): void {
    const n = this.counts.get(v);
    if (n === undefined) this.values.push(v);
    this.counts.set(v, (n ?? 0) + 1);
  }

  /**
   * Removes one member of value `v`; returns `false`, changing nothing, when there is none (its
   * owner's bookkeeping broke: it rebuilds rather than the core throwing out of a datagram's handling).
   */
  remove(v: number): boolean {
    const n = this.counts.get(v);
    if (n === undefined || n === 0) return false;
    this.counts.set(v, n - 1);
    return true;
  }

  /** The smallest value with a member (`Infinity`: none). */
  min(): number {
    for (;;) {
      const v = this.values.peek();
      if (v === undefined) return Number.POSITIVE_INFINITY;
      if ((this.counts.get(v) as number) > 0) return v;
      this.values.pop();
      this.counts.delete(v);
    }
  }
}
