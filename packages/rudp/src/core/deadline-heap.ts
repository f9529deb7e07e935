/**
 * The endpoint's connection timers: one deadline per slot (a small integer
 * the endpoint gives each connection) in an indexed binary min-heap kept in
 * typed arrays. A moved deadline is sifted in place, so a connection
 * rescheduled on every message costs O(log n) comparisons of numbers that
 * sit next to each other in memory: no entry object per change, no stale
 * entries to skip later, no Map lookup (with 10,000 mostly idle
 * connections, the lazy heap this replaced, with an entry object per change
 * and a map lookup per pop, was a tenth of the server's CPU).
 */

/**
 * Slots and heap positions start with room for this many, and double as needed. Small, because a
 * client's endpoint holds one connection: its arrays then stay on V8's heap (typed arrays up to
 * 64 bytes do), where 64 slots took three off-heap buffers of 1 KiB in all.
 */
const INITIAL_CAPACITY = 4;

/** A min-heap of (deadline, slot), at most one deadline per slot, moved in place. */
export class DeadlineHeap {
  /** Heap position → deadline. */
  private at = new Float64Array(INITIAL_CAPACITY);
  /** Heap position → slot. */
  private slotAt = new Int32Array(INITIAL_CAPACITY);
  /** Slot → heap position, or -1. */
  private position = new Int32Array(INITIAL_CAPACITY).fill(-1);
  private count = 0;

  /** Live deadlines. */
  get size(): number {
    return this.count;
  }

  /** Sets `slot`'s deadline (`Infinity` clears it). `slot` is an integer ≥ 0. */
  set(slot: number, deadline: number): void {
    if (!Number.isInteger(slot) || slot < 0) throw new RangeError(`DeadlineHeap: slot ${slot} is not an integer ≥ 0`);
    if (!Number.isFinite(deadline)) {
      this.delete(slot);
      return;
    }
    if (slot >= this.position.length) this.growSlots(slot + 1);
    const p = this.position[slot] as number;
    if (p < 0) {
      if (this.count === this.at.length) this.growHeap();
      const i = this.count++;
      this.place(i, deadline, slot);
      this.siftUp(i);
      return;
    }
    const old = this.at[p] as number;
    if (deadline === old) return;
    this.at[p] = deadline;
    if (deadline < old) this.siftUp(p);
    else this.siftDown(p);
  }

  /** Forgets `slot`'s deadline. */
  delete(slot: number): void {
    if (slot >= this.position.length) return;
    const p = this.position[slot] as number;
    if (p < 0) return;
    this.position[slot] = -1;
    const last = --this.count;
    if (p === last) return;
    const moved = this.at[last] as number;
    this.place(p, moved, this.slotAt[last] as number);
    // The last entry may belong above or below the hole.
    if (p > 0 && moved < (this.at[(p - 1) >> 1] as number)) this.siftUp(p);
    else this.siftDown(p);
  }

  /** The earliest deadline, or `undefined`. */
  peek(): number | undefined {
    return this.count === 0 ? undefined : this.at[0];
  }

  /** `slot`'s deadline, or `Infinity`. */
  deadlineOf(slot: number): number {
    const p = slot < this.position.length ? (this.position[slot] as number) : -1;
    return p < 0 ? Number.POSITIVE_INFINITY : (this.at[p] as number);
  }

  /** Removes and returns the slot of the earliest deadline if it is at or before `now`. */
  popDue(now: number): number | undefined {
    if (this.count === 0 || (this.at[0] as number) > now) return undefined;
    const slot = this.slotAt[0] as number;
    this.delete(slot);
    return slot;
  }

  private place(i: number, deadline: number, slot: number): void {
    this.at[i] = deadline;
    this.slotAt[i] = slot;
    this.position[slot] = i;
  }

  private siftUp(i: number): void {
    const at = this.at;
    const deadline = at[i] as number;
    const slot = this.slotAt[i] as number;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!(deadline < (at[parent] as number))) break;
      this.place(i, at[parent] as number, this.slotAt[parent] as number);
      i = parent;
    }
    this.place(i, deadline, slot);
  }

  private siftDown(i: number): void {
    const at = this.at;
    const n = this.count;
    const deadline = at[i] as number;
    const slot = this.slotAt[i] as number;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (at[r] as number) < (at[l] as number) ? r : l;
      if (!((at[c] as number) < deadline)) break;
      this.place(i, at[c] as number, this.slotAt[c] as number);
      i = c;
    }
    this.place(i, deadline, slot);
  }

  private growHeap(): void {
    const size = this.at.length * 2;
    const at = new Float64Array(size);
    at.set(this.at);
    const slotAt = new Int32Array(size);
    slotAt.set(this.slotAt);
    this.at = at;
    this.slotAt = slotAt;
  }

  private growSlots(min: number): void {
    let size = this.position.length * 2;
    while (size < min) size *= 2;
    const position = new Int32Array(size).fill(-1);
    position.set(this.position);
    this.position = position;
  }
}
