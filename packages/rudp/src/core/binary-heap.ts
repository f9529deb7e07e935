/**
 * The one binary min-heap of the project: the simulator's event queue, the
 * resend queue's multisets (min-multiset.ts) and the benchmark's peers order
 * with it. (The endpoint's connection timers are deadline-heap.ts: indexed,
 * moved in place.)
 *
 * Ties: among items that compare equal, which comes out first depends on the
 * order of pushes and pops only (never on anything else), so a seeded run is
 * reproducible. Callers that need a total order (the simulator) break ties in
 * `less` themselves.
 */

/** A strict "comes before" order. */
export type HeapOrder<T> = (a: T, b: T) => boolean;

/** A binary min-heap under `less`. */
export class BinaryHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly less: HeapOrder<T>) {}

  /** Number of items held. */
  get size(): number {
    return this.items.length;
  }

  /** The earliest item without removing it. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** Adds an item in O(log n). */
  push(item: T): void {
    const items = this.items;
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as T;
      if (!this.less(item, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }

  /** Removes and returns the earliest item in O(log n). */
  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    const n = items.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      let child = items[l] as T;
      if (r < n) {
        const right = items[r] as T;
        if (this.less(right, child)) {
          c = r;
          child = right;
        }
      }
      if (!this.less(child, last)) break;
      items[i] = child;
      i = c;
    }
    items[i] = last;
    return top;
  }

  /** Removes every item. */
  clear(): void {
    this.items.length = 0;
  }

  /** Rebuilds the heap from `items` (any order). */
  reset(items: Iterable<T>): void {
    this.items.length = 0;
    for (const item of items) this.push(item);
  }
}
