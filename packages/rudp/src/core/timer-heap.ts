/**
 * One binary min-heap of deadlines for all connections of an endpoint, so
 * 10,000 idle connections cost one comparison per timer change instead of
 * 10,000 timers. Entries are never removed: a connection's newest deadline
 * lives in `current`, and popped entries that disagree with it are stale.
 */

/** A min-heap of (deadline, key) with lazy invalidation. */
export class TimerHeap {
  private readonly at: number[] = [];
  private readonly keys: number[] = [];
  private readonly current = new Map<number, number>();

  /** Sets `key`'s deadline (`Infinity` clears it). */
  set(key: number, deadline: number): void {
    if (!Number.isFinite(deadline)) {
      this.current.delete(key);
      return;
    }
    if (this.current.get(key) === deadline) return;
    this.current.set(key, deadline);
    this.push(deadline, key);
    // Stale entries pile up when deadlines move often; rebuild once they dominate.
    if (this.at.length > 64 && this.at.length > 4 * this.current.size) this.rebuild();
  }

  /** Forgets `key`. */
  delete(key: number): void {
    this.current.delete(key);
  }

  /** The earliest live deadline, or `undefined`. */
  peek(): number | undefined {
    this.dropStale();
    return this.at[0];
  }

  /** Removes and returns the key of the earliest deadline if it is at or before `now`. */
  popDue(now: number): number | undefined {
    this.dropStale();
    const t = this.at[0];
    if (t === undefined || t > now) return undefined;
    const key = this.keys[0] as number;
    this.pop();
    this.current.delete(key);
    return key;
  }

  /** Live entries. */
  get size(): number {
    return this.current.size;
  }

  private dropStale(): void {
    while (this.at.length > 0 && this.current.get(this.keys[0] as number) !== this.at[0]) this.pop();
  }

  private rebuild(): void {
    this.at.length = 0;
    this.keys.length = 0;
    for (const [k, t] of this.current) this.push(t, k);
  }

  private push(t: number, k: number): void {
    const at = this.at;
    const keys = this.keys;
    let i = at.length;
    at.push(t);
    keys.push(k);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((at[parent] as number) <= t) break;
      at[i] = at[parent] as number;
      keys[i] = keys[parent] as number;
      i = parent;
    }
    at[i] = t;
    keys[i] = k;
  }

  private pop(): void {
    const at = this.at;
    const keys = this.keys;
    const lastT = at.pop() as number;
    const lastK = keys.pop() as number;
    const n = at.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (at[r] as number) < (at[l] as number) ? r : l;
      if ((at[c] as number) >= lastT) break;
      at[i] = at[c] as number;
      keys[i] = keys[c] as number;
      i = c;
    }
    at[i] = lastT;
    keys[i] = lastK;
  }
}
