/**
 * Live connections by local connection id, looked up for every datagram.
 * Ids are random unsigned 32-bit numbers, and V8 on 64-bit Node keeps
 * integers at or above 2^31 as boxed heap numbers: a Map keyed by the id
 * itself hashes and compares a boxed key (a pointer chase each step of a
 * hash chain) for half of the ids. Keyed by the same 32 bits read as a
 * signed integer (`id | 0`), every key is a small integer compared in place.
 */
export class ConnectionTable<T> {
  private readonly byId = new Map<number, T>();

  /** The value of `id`, if any. */
  get(id: number): T | undefined {
    return this.byId.get(id | 0);
  }

  /** Whether `id` is present. */
  has(id: number): boolean {
    return this.byId.has(id | 0);
  }

  /** Sets `id` to `value`. */
  set(id: number, value: T): void {
    this.byId.set(id | 0, value);
  }

  /** Removes `id`. */
  delete(id: number): void {
    this.byId.delete(id | 0);
  }

  /** Number of entries. */
  get size(): number {
    return this.byId.size;
  }

  /** Every value, in insertion order. */
  values(): IterableIterator<T> {
    return this.byId.values();
  }
}
