/** What the heap orders by: time first, then insertion sequence for ties. */
export interface HeapItem {
  readonly at: number;
  readonly seq: number;
}

function before(a: HeapItem, b: HeapItem): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * A binary min-heap ordered by `(at, seq)`. Items with equal `at` come out in
 * `seq` order, which keeps simulation runs deterministic.
 */
export class EventHeap<T extends HeapItem> {
  private readonly items: T[] = [];

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
      const p = items[parent]!;
      if (!before(item, p)) break;
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
      let child = items[l]!;
      if (r < n) {
        const right = items[r]!;
        if (before(right, child)) {
          c = r;
          child = right;
        }
      }
      if (!before(child, last)) break;
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
}
