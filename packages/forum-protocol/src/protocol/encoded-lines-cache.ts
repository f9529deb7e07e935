/**
 * The encoded lines of recent large replies, by the value they were written
 * from (a thread: `threadLines`), so that reading an unchanged thread again
 * costs a copy instead of an encode. An RDT of a full thread (4 MiB of JSON)
 * took 11–17 ms of the main thread to encode, a stall for every client
 * however the reads were paced (SECURITY.md, Reads of large threads).
 *
 * Keyed by the value itself, weakly: a thread is never changed (a change
 * makes a new value), so a value's lines are always the bytes cached for
 * it, and a store that builds a new value on each read (PostgreSQL, where
 * another server may have written meanwhile) simply never hits. The cache
 * keeps no value alive: a thread the store has replaced is collected, and
 * its bytes are dropped then (or sooner, as the least recently used).
 *
 * Bounded in bytes, counted honestly: each entry costs its bytes (a buffer
 * of their exact size, its own) and {@link ENTRY_OVERHEAD} more; the least
 * recently used go first. The cache keeps a copy of what it is given and
 * hands out bytes only to be copied from: no reply, and so no transport,
 * ever holds the cached buffer itself, so nothing that writes to a reply
 * after sending it can change what later replies say.
 */
import { Buffer } from 'node:buffer';

/** What an entry costs besides its bytes: its objects and map slots. */
export const ENTRY_OVERHEAD = 256;
/** Lines shorter than this, bytes, are not cached: they encode in well under a millisecond, and the entries stay few (a 32 MiB cache holds at most 1,024). */
export const MIN_CACHED_BYTES = 32 * 1024;

interface Entry {
  readonly bytes: Uint8Array;
  readonly cost: number;
  /** Weakly: the entry must not keep its thread alive, and its slot must go when it is dropped. */
  readonly source: WeakRef<object>;
}

/** A byte-bounded, least-recently-used cache of encoded lines by the value they were written from. */
export class EncodedLinesCache {
  private readonly bySource = new WeakMap<object, Entry>();
  /** Live entries, least recently used first (a Set keeps insertion order; a hit moves its entry last). */
  private readonly order = new Set<Entry>();
  /** Drops an entry once its source is collected: the lines of a thread replaced by a write take room only until then, not until pushed out. */
  private readonly collected = new FinalizationRegistry<Entry>((e) => this.drop(e));
  private held = 0;
  private hitCount = 0;
  private missCount = 0;

  /** `maxBytes`: the most the entries may cost together (0: nothing is cached). */
  constructor(readonly maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`encoded lines cache: maxBytes must be a whole number from 0 (got ${String(maxBytes)})`);
  }

  /** The bytes cached for `source`, or `undefined` (counted as a miss). Only to be copied from: never write to them, nor send them. */
  get(source: object): Uint8Array | undefined {
    const e = this.bySource.get(source);
    if (e === undefined || !this.order.has(e)) {
      this.missCount++;
      return undefined;
    }
    this.order.delete(e);
    this.order.add(e);
    this.hitCount++;
    return e.bytes;
  }

  /**
   * Keeps a copy of `bytes` as what `source` encodes to, unless they are too
   * small to be worth it or could never fit; evicts the least recently used
   * to make room.
   */
  set(source: object, bytes: Uint8Array): void {
    const cost = bytes.length + ENTRY_OVERHEAD;
    if (bytes.length < MIN_CACHED_BYTES || cost > this.maxBytes) return;
    const old = this.bySource.get(source);
    if (old !== undefined) this.drop(old);
    for (const e of this.order) {
      if (this.held + cost <= this.maxBytes) break;
      this.drop(e);
    }
    // Its own memory of exactly their size: not a view pinning the reply (which the transport holds), nor pooled.
    const copy = Buffer.allocUnsafeSlow(bytes.length);
    copy.set(bytes);
    const entry: Entry = { bytes: copy, cost, source: new WeakRef(source) };
    this.bySource.set(source, entry);
    this.collected.register(source, entry, entry);
    this.order.add(entry);
    this.held += cost;
  }

  private drop(e: Entry): void {
    if (!this.order.delete(e)) return;
    this.held -= e.cost;
    this.collected.unregister(e);
    // Its slot too, or a live source would keep the bytes no longer counted (a collected one took its slot along).
    const source = e.source.deref();
    if (source !== undefined && this.bySource.get(source) === e) this.bySource.delete(source);
  }

  /** What the entries cost now, bytes (at most {@link maxBytes}). */
  get bytes(): number {
    return this.held;
  }

  /** Entries held. */
  get size(): number {
    return this.order.size;
  }

  /** Lookups that found bytes. */
  get hits(): number {
    return this.hitCount;
  }

  /** Lookups that did not (each followed by an encode). */
  get misses(): number {
    return this.missCount;
  }
}
