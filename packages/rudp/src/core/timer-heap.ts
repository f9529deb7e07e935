/**
 * One deadline per key on a `BinaryHeap`, so 10,000 idle connections cost one
 * comparison per timer change instead of 10,000 timers. Entries are never
 * removed early: a key's newest deadline lives in `current`, and popped
 * entries that disagree with it are stale.
 */
import { BinaryHeap } from './binary-heap.js';

interface Entry<K> {
  readonly at: number;
  readonly key: K;
}

/** A min-heap of (deadline, key) with lazy invalidation. */
export class TimerHeap<K = number> {
  private readonly heap = new BinaryHeap<Entry<K>>((a, b) => a.at < b.at);
  private readonly current = new Map<K, number>();

  /** Sets `key`'s deadline (`Infinity` clears it). */
  set(key: K, deadline: number): void {
    if (!Number.isFinite(deadline)) {
      this.current.delete(key);
      return;
    }
    if (this.current.get(key) === deadline) return;
    this.current.set(key, deadline);
    this.heap.push({ at: deadline, key });
    // Stale entries pile up when deadlines move often; rebuild once they dominate.
    if (this.heap.size > 64 && this.heap.size > 4 * this.current.size) this.rebuild();
  }

  /** Forgets `key`. */
  delete(key: K): void {
    this.current.delete(key);
  }

  /** The earliest live deadline, or `undefined`. */
  peek(): number | undefined {
    this.dropStale();
    return this.heap.peek()?.at;
  }

  /** Removes and returns the key of the earliest deadline if it is at or before `now`. */
  popDue(now: number): K | undefined {
    this.dropStale();
    const top = this.heap.peek();
    if (top === undefined || top.at > now) return undefined;
    this.heap.pop();
    this.current.delete(top.key);
    return top.key;
  }

  /** Live entries. */
  get size(): number {
    return this.current.size;
  }

  private dropStale(): void {
    for (let top = this.heap.peek(); top !== undefined && this.current.get(top.key) !== top.at; top = this.heap.peek()) this.heap.pop();
  }

  private rebuild(): void {
    const live: Entry<K>[] = [];
    for (const [key, at] of this.current) live.push({ at, key });
    this.heap.reset(live);
  }
}
