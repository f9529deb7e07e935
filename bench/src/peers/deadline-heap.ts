import { BinaryHeap } from 'rudpx/core';

interface Entry<T> {
  readonly at: number;
  readonly item: T;
}

/**
 * `(deadline, item)` pairs on rudp's `BinaryHeap` with lazy invalidation: an
 * item's newer deadline supersedes older entries, which are dropped when they
 * surface. It keeps `pollTimeout` O(log n) with 10,000 connections.
 */
export class DeadlineHeap<T extends object> {
  private readonly heap = new BinaryHeap<Entry<T>>((a, b) => a.at < b.at);
  private readonly current = new WeakMap<T, number>();

  /** Sets (or moves) `item`'s deadline. */
  set(item: T, deadline: number): void {
    this.current.set(item, deadline);
    this.heap.push({ at: deadline, item });
  }

  /** The earliest live deadline, or `undefined` when empty. */
  peek(): number | undefined {
    this.dropStale();
    return this.heap.peek()?.at;
  }

  /** Removes and returns the item whose deadline is earliest, if it is at or before `now`. */
  popDue(now: number): T | undefined {
    this.dropStale();
    const top = this.heap.peek();
    if (top === undefined || top.at > now) return undefined;
    this.current.delete(top.item);
    this.heap.pop();
    return top.item;
  }

  /** Forgets `item` (its entries become stale). */
  delete(item: T): void {
    this.current.delete(item);
  }

  private dropStale(): void {
    for (let top = this.heap.peek(); top !== undefined && this.current.get(top.item) !== top.at; top = this.heap.peek()) this.heap.pop();
  }
}
