/**
 * A first-in, first-out list of items to visit that keeps its storage when it
 * empties. The endpoint's lists of connections to poll go from empty to one
 * entry and back on nearly every datagram; an array truncated to length 0
 * frees its backing store and the next push allocates one again, and a `Set`
 * pays hashing and rehashing on top. Whether an item is already listed is
 * the caller's flag (see `Endpoint`), so duplicates are the caller's to avoid.
 * Its storage grows by hand from two slots (see `small-array.ts`).
 */
import { smallArray, withRoomFor } from './small-array.js';

/** A FIFO of items to visit. */
export class WorkList<T> {
  private items: (T | undefined)[] = smallArray();
  private head = 0;
  private tail = 0;

  /** Appends `item`. */
  push(item: T): void {
    this.items = withRoomFor(this.items, this.tail);
    this.items[this.tail++] = item;
  }

  /** The first item, or `undefined` when empty. */
  peek(): T | undefined {
    return this.head < this.tail ? this.items[this.head] : undefined;
  }

  /** Drops the first item (its slot is cleared, so the list keeps nothing alive). */
  shift(): void {
    if (this.head >= this.tail) return;
    this.items[this.head++] = undefined;
    // Empty again: start over at slot 0, keeping the storage.
    if (this.head === this.tail) this.head = this.tail = 0;
  }
}
