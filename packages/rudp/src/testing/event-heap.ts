import { BinaryHeap } from '../core/binary-heap.js';

/** What the heap orders by: time first, then insertion sequence for ties. */
export interface HeapItem {
  readonly at: number;
  readonly seq: number;
}

function before(a: HeapItem, b: HeapItem): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * The simulator's event queue: the core's `BinaryHeap` ordered by
 * `(at, seq)`, so items with equal `at` come out in `seq` order and
 * simulation runs stay deterministic.
 */
export class EventHeap<T extends HeapItem> extends BinaryHeap<T> {
  constructor() {
    super(before);
  }
}
