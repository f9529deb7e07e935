/**
 * What the resend queue holds, kept in step with it: the queue tells the
 * tally of every entry it adds and every one it drops, so what it is asked
 * per packet sent or per deadline computed (is anything but tail copies
 * queued, when may the first entry go, can anything queued fit in the room a
 * packet has left, what waits for a lost chunk) needs no walk of a long
 * queue. With tens of thousands of small messages queued through an outage,
 * those walks made the sender's CPU quadratic in the backlog
 * (bench/src/tools/outage-resend-cpu.ts 50000 8 2000 1,2,3 300: the link goes
 * down with the backlog in flight, and fills walked 4.1 M entries over 538
 * packets, each entry searched for among the packet's chunks; per seed 1.7–1.8 s,
 * 0.2–0.3 s and 1.4 s of CPU with the walks, 0.28–0.30 s, 0.21–0.24 s and
 * 0.21–0.25 s without, same datagrams and delivery times).
 *
 * Counts are kept always. Due times and frame sizes are kept in multisets
 * only once the queue is long ({@link LONG_QUEUE}): a short queue, the
 * usual one (a resend or a few tail copies), is cheaper to walk than three
 * maps and heaps are to make for every burst. An entry's due time and frame
 * size never change while it is queued (a chunk once sent is fixed, and so
 * is a piece once the chunk was cut in pieces), so they are worked out again
 * when it is dropped.
 *
 * The queue holds a tally only while it has entries (an idle connection
 * keeps none), and the tally its {@link ResendIndex} only while that has any.
 */
import { MinMultiset } from '../min-multiset.js';
import { type ChunkRef, chunkWireSize } from './outgoing-message.js';
import { ResendIndex } from './resend-index.js';

/** Entries from which due times and sizes are kept rather than walked for. */
export const LONG_QUEUE = 32;

/** The due times and frame sizes of a long queue's entries. */
class Spread {
  readonly times = new MinMultiset();
  readonly sizes = new MinMultiset();
  /** The sizes negated: the largest is the smallest of these. */
  readonly negatedSizes = new MinMultiset();

  add(r: ChunkRef): void {
    this.times.add(r.notBefore);
    const bytes = chunkWireSize(r.message, r.index, r.piece);
    this.sizes.add(bytes);
    this.negatedSizes.add(-bytes);
  }

  /** Forgets entry `r`; returns `false` if one of its values was not held (then the spread is wrong). */
  remove(r: ChunkRef): boolean {
    const bytes = chunkWireSize(r.message, r.index, r.piece);
    // Each removal runs whatever the others gave: `&&` would skip the rest after a failure.
    const timeHeld = this.times.remove(r.notBefore);
    const sizeHeld = this.sizes.remove(bytes);
    const negatedHeld = this.negatedSizes.remove(-bytes);
    return timeHeld && sizeHeld && negatedHeld;
  }
}

/** Counts (and, once long, due times and sizes) of the entries of one non-empty resend queue. */
export class QueueTally {
  /** Entries held. */
  private size = 0;
  /** Entries that are not tail copies. */
  resends = 0;
  /** Tail copies. */
  tails = 0;
  /** An entry may have lost its purpose (its chunk acknowledged, new data sent past a tail copy) since the queue last looked. */
  stale = false;
  /** The entries of one-chunk messages (`undefined` while there are none). */
  index: ResendIndex | undefined;
  /** Due times and sizes, once the queue was long (`undefined` before). */
  private spread: Spread | undefined;

  /** Entry `r` joined the queue. */
  add(r: ChunkRef): void {
    this.size++;
    if (r.tail === true) this.tails++;
    else this.resends++;
    if (ResendIndex.keeps(r)) (this.index ??= new ResendIndex()).add(r);
    this.spread?.add(r);
  }

  /** Entry `r`, one added before, left the queue; returns whether the tally is empty now. */
  remove(r: ChunkRef): boolean {
    this.size--;
    if (r.tail === true) this.tails--;
    else this.resends--;
    if (this.index !== undefined && ResendIndex.keeps(r) && this.index.remove(r)) this.index = undefined;
    // Not expected (an entry's due time and size never change while queued); were it to happen, the
    // spread is made again from the queue when next asked, and until then `kept` is false, so a fill
    // under way walks instead of trusting it.
    if (this.spread !== undefined && !this.spread.remove(r)) this.spread = undefined;
    return this.size === 0;
  }

  /**
   * Whether due times and sizes are kept (the queue was long when last asked): only then may they be
   * asked while `queue` is being rewritten (in the middle of a fill).
   */
  get kept(): boolean {
    return this.spread !== undefined;
  }

  /** The earliest `notBefore` of the entries of `queue` (all of them, and only them: not in the middle of a fill unless `kept`). */
  earliest(queue: readonly ChunkRef[]): number {
    const s = this.spreadOf(queue);
    if (s !== undefined) return s.times.min();
    let t = Number.POSITIVE_INFINITY;
    for (let i = 0; i < queue.length; i++) t = Math.min(t, (queue[i] as ChunkRef).notBefore);
    return t;
  }

  /** The frame size of the smallest entry of `queue`, bytes (as for `earliest`). */
  smallest(queue: readonly ChunkRef[]): number {
    const s = this.spreadOf(queue);
    if (s !== undefined) return s.sizes.min();
    let b = Number.POSITIVE_INFINITY;
    for (let i = 0; i < queue.length; i++) b = Math.min(b, sizeOf(queue[i] as ChunkRef));
    return b;
  }

  /** The frame size of the largest entry of `queue`, bytes (as for `earliest`). */
  largest(queue: readonly ChunkRef[]): number {
    const s = this.spreadOf(queue);
    if (s !== undefined) return -s.negatedSizes.min();
    let b = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < queue.length; i++) b = Math.max(b, sizeOf(queue[i] as ChunkRef));
    return b;
  }

  /** The spread, made from `queue` (this tally's entries) once it is long. */
  private spreadOf(queue: readonly ChunkRef[]): Spread | undefined {
    if (this.spread === undefined && this.size >= LONG_QUEUE) {
      const s = new Spread();
      for (let i = 0; i < queue.length; i++) s.add(queue[i] as ChunkRef);
      this.spread = s;
    }
    return this.spread;
  }
}

/** Bytes entry `r` takes in a packet. */
function sizeOf(r: ChunkRef): number {
  return chunkWireSize(r.message, r.index, r.piece);
}
