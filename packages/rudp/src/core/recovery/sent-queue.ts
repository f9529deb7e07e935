/**
 * The packets in flight, oldest first: the part of the `Map` API a
 * connection uses for them, on a plain array.
 *
 * Why not a `Map`: packets are added in ever-increasing packet-number order
 * and mostly removed from the front, so a Map keeps rehashing into new
 * tables, and V8 links each old table to its successor (for live
 * iterators). An old table the scavenger has promoted then keeps the next,
 * and every packet it lists, alive until a full collection: at tens of
 * thousands of packets a second that was most of the young-generation
 * survivors and a large share of the CPU.
 */

import { emptyArray, pushOnto } from '../shared-empty.js';

/** What the queue holds: anything with a packet number. */
export interface Numbered {
  readonly pn: number;
}

/** Entries in increasing `pn` order, removable anywhere, iterable while removing. */
export class SentQueue<T extends Numbered> {
  /** Entries from `head` on; a removed entry leaves `undefined` behind until compaction. */
  private slots: (T | undefined)[] = emptyArray();
  /** `pns[i]` is the packet number of `slots[i]` (kept after removal, for the binary search). */
  private pns: number[] = emptyArray();
  private head = 0;
  private count = 0;
  /**
   * The largest packet number ever added (-1: none): numbers must keep increasing after the arrays empty.
   * Declared bare, set in the constructor: a `= -1` field is a box in every queue once one passes 2^31.
   */
  private last: number;

  constructor() {
    this.last = -1;
  }

  /** Number of entries. */
  get size(): number {
    return this.count;
  }

  /** Adds `entry`; its `pn` must exceed every `pn` added before. */
  set(pn: number, entry: T): void {
    if (pn <= this.last) throw new RangeError(`SentQueue: packet number ${pn} after ${this.last}`);
    this.last = pn;
    // Compact only here, never in `delete`: an iteration in progress may be deleting.
    if (this.head > 64 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.pns = this.pns.slice(this.head);
      this.head = 0;
    }
    this.slots = pushOnto(this.slots, entry);
    this.pns = pushOnto(this.pns, pn);
    this.count++;
  }

  /** Whether an entry numbered `pn` is held. */
  has(pn: number): boolean {
    const i = this.indexOf(pn);
    return i >= 0 && this.slots[i] !== undefined;
  }

  /** Removes the entry numbered `pn`; false if there is none. */
  delete(pn: number): boolean {
    const i = this.indexOf(pn);
    if (i < 0 || this.slots[i] === undefined) return false;
    this.slots[i] = undefined;
    this.count--;
    if (this.count === 0) {
      // The shared empty arrays, so an idle connection does not keep the old ones' storage. A walk in
      // progress goes on over the old array, which holds only removed slots now, and never sees later entries.
      this.slots = emptyArray();
      this.pns = emptyArray();
      this.head = 0;
      return true;
    }
    while (this.head < this.slots.length && this.slots[this.head] === undefined) this.head++;
    return true;
  }

  /**
   * For a walk without an iterator object (the per-ACK loops): the slots to
   * visit from `walkStart()` on, `undefined` where an entry was removed. The
   * array stays valid for the walk while entries are deleted (see `values`).
   */
  walkSlots(): readonly (T | undefined)[] {
    return this.slots;
  }

  /** Where a walk over `walkSlots()` starts. */
  walkStart(): number {
    return this.head;
  }

  /** The entries, oldest first; entries deleted during the walk are skipped. */
  *values(): IterableIterator<T> {
    // A walk keeps the array it started on: `set` (compaction), `delete` (emptied) and `clear` replace it.
    const slots = this.slots;
    for (let i = this.head; i < slots.length; i++) {
      const e = slots[i];
      if (e !== undefined) yield e;
    }
  }

  /** The oldest entry, if any (deletion moves `head` past removed slots, so it is the first live one). */
  first(): T | undefined {
    return this.slots[this.head];
  }

  /** Removes everything; numbering may start again. */
  clear(): void {
    this.slots = emptyArray();
    this.pns = emptyArray();
    this.head = 0;
    this.count = 0;
    this.last = -1;
  }

  private indexOf(pn: number): number {
    // Acknowledgements and losses mostly take the oldest entry.
    if (this.pns[this.head] === pn) return this.head;
    let lo = this.head;
    let hi = this.pns.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.pns[mid] as number;
      if (v === pn) return mid;
      if (v < pn) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}
