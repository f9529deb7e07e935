/**
 * A binary min-heap of `(deadline, item)` pairs with lazy invalidation: an
 * item's newer deadline supersedes older entries, which are dropped when they
 * surface. It keeps `pollTimeout` O(log n) with 10,000 connections.
 */
export class DeadlineHeap<T extends object> {
  private readonly at: number[] = [];
  private readonly items: T[] = [];
  private readonly current = new WeakMap<T, number>();

  /** Sets (or moves) `item`'s deadline. */
  set(item: T, deadline: number): void {
    this.current.set(item, deadline);
    this.at.push(deadline);
    this.items.push(item);
    this.siftUp(this.at.length - 1);
  }

  /** The earliest live deadline, or `undefined` when empty. */
  peek(): number | undefined {
    this.dropStale();
    return this.at[0];
  }

  /** Removes and returns the item whose deadline is earliest, if it is at or before `now`. */
  popDue(now: number): T | undefined {
    this.dropStale();
    const first = this.at[0];
    if (first === undefined || first > now) return undefined;
    const item = this.items[0] as T;
    this.current.delete(item);
    this.removeTop();
    return item;
  }

  /** Forgets `item` (its entries become stale). */
  delete(item: T): void {
    this.current.delete(item);
  }

  private dropStale(): void {
    while (this.at.length > 0 && this.current.get(this.items[0] as T) !== this.at[0]) this.removeTop();
  }

  private removeTop(): void {
    const lastAt = this.at.pop() as number;
    const lastItem = this.items.pop() as T;
    if (this.at.length === 0) return;
    this.at[0] = lastAt;
    this.items[0] = lastItem;
    this.siftDown(0);
  }

  private siftUp(index: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.at[parent] as number) <= (this.at[i] as number)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(index: number): void {
    const n = this.at.length;
    let i = index;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && (this.at[l] as number) < (this.at[m] as number)) m = l;
      if (r < n && (this.at[r] as number) < (this.at[m] as number)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    const ta = this.at[a] as number;
    this.at[a] = this.at[b] as number;
    this.at[b] = ta;
    const ia = this.items[a] as T;
    this.items[a] = this.items[b] as T;
    this.items[b] = ia;
  }
}
