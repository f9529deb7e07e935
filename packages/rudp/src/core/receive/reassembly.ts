/**
 * The receiving side of the message stream: fragments of any message in any
 * order, duplicates ignored, whole messages released to the application by
 * their delivery: an ordered message once its predecessor on its channel was
 * released (channels never wait for each other), an unordered one as soon as
 * it is whole, a datagram as it arrives. Whether a message is whole is kept
 * by id across all channels, which is what repairs and MESSAGE_ACK speak of.
 * Memory is bounded by the credit granted to the peer (the receive window,
 * or less while the endpoint's budget is short: receive-pool.ts), each
 * reliable message counted at `creditOf` its length (credit.ts): a
 * fragment that would push the buffered credit past it is refused (an honest
 * sender never sends one), and a datagram that would push the credit of
 * unread datagrams past the window (their own budget, counted alike) or the
 * endpoint's budget past its room is dropped (it may be).
 *
 * What of a partial message has arrived is kept as a few byte ranges, and as
 * one bit a byte once the ranges get many (`MAX_LISTED_RANGES`,
 * `MAX_LISTED_RANGES_PER_CONNECTION`): the window bounds a message's bytes, not
 * how many holes a peer leaves in it, and a list of 1-byte pieces at every
 * other offset of a 128 KiB message held 65,000 ranges (1.6 MB of heap) and
 * cost a scan of them per fragment. Either way a fragment costs work in
 * proportion to its own bytes at most, and a partial message's bookkeeping
 * an eighth of its bytes at most (beyond a few KB a connection): the bits
 * reach as far as the highest byte received, not the message's end. A message
 * over 64 KiB is not allocated at its first fragment but held as the pieces
 * that came until they cost a quarter of it (held-pieces.ts): the window
 * bounds what a message may take, and the pieces what a peer has sent.
 */
import type { Delivery, FragmentFrame } from '../../wire/frame.js';
import { MAX_MESSAGES_AHEAD, creditOf } from '../credit.js';
import { ByteSlab } from '../send/byte-slab.js';
import { HELD_FROM_BYTES, HeldPieces, timeToAllocate } from './held-pieces.js';
import { emptyArray, isSharedEmpty } from '../shared-empty.js';

/**
 * Where a message that arrives in pieces is put together: 8 KiB slabs, as
 * Node's Buffer pool, so a message of up to 2 KiB costs no backing store of
 * its own (a malloc, an external-memory account and a finaliser each). A
 * stream of 1 KB messages is cut across packets (`SendQueue`), so most of
 * them arrive in two pieces. A kept message holds at most 8 KiB alive.
 */
const PIECES = new ByteSlab(8 * 1024);

interface Partial {
  /** The message's bytes, once allocated: at its first fragment, or for a large one once its held pieces cost a quarter of it. */
  buf: Uint8Array | undefined;
  /** A large message's pieces until `buf` is allocated (held-pieces.ts). */
  held: HeldPieces | undefined;
  /** The message's length. */
  readonly length: number;
  /**
   * Byte ranges received, as sorted disjoint `[lo, hi)` pairs (pieces of a resent chunk may overlap the
   * chunk); `undefined` once `bits` holds them instead.
   */
  covered: number[] | undefined;
  /** Bytes received, one bit each (bit `i & 31` of word `i >>> 5`), once the ranges grew too many to list. */
  bits: Uint32Array | undefined;
  readonly delivery: Delivery | undefined;
  received: number;
}

/**
 * Most ranges one partial message keeps as a list; at one more, its bytes are
 * kept as bits instead (`coverBits`). An honest sender's holes are its packets
 * lost or reordered in flight, and only while they are: a message's chunks fill
 * packets (64 bytes and more, a packet's room but the first and last), so each
 * hole is at least a lost packet's chunk, and the holes at any time are at most
 * the packets lost in flight over the round trips their resends take. The lossy
 * simulator runs (transport-adversity's 30% loss with reordering,
 * transport-performance's 4 MiB at 10-30% loss and queue drops, path MTU black
 * holes) held at most 170 in one message, 211 in a connection. Past this a list
 * is no longer the cheap representation: inserting into one moves its tail (up
 * to 1,024 numbers here, a microsecond), while a bitmap costs an eighth of the
 * message's bytes, which the window counts already. Only the representation
 * changes: no fragment is ever refused for it, so an honest peer loses no data
 * to it however many holes it has (a refused fragment's packet is still
 * acknowledged, see credit.ts, so refusing one would lose it).
 */
export const MAX_LISTED_RANGES = 512;

/**
 * Most ranges all of a connection's partial messages keep as lists: the
 * window bounds the number of partial messages (each takes `MESSAGE_CREDIT`
 * and its bytes), not their ranges, so a peer could otherwise hold up to
 * `MAX_LISTED_RANGES` in each of hundreds of small messages (some 5 bytes of
 * heap per window byte). Past it, the message whose list grows switches to bits.
 * Five times what the lossy simulator runs held in one connection.
 */
export const MAX_LISTED_RANGES_PER_CONNECTION = 1_024;

/** An entry of the run of released messages: a message (`undefined` once read), then its channel and kind. */
type RunEntry = Uint8Array | number | undefined;

/** A whole ordered message waiting for its predecessor to be released. */
interface Waiting {
  readonly id: number;
  readonly data: Uint8Array;
}

/** Re-exported: the receiver's half of credit.ts's limits. */
export { MAX_MESSAGES_AHEAD } from '../credit.js';

/** What the connection's flow control tells reassembly: the credit granted, and whether the endpoint's budget holds a datagram. */
export interface ReceiveCredit {
  /** Credit granted to the peer now (what it announced less what the application read). */
  readonly credit: number;
  /** What of `credit` a message of `bytes` credit may take: credit granted for one large message (a BLOCKED's) is that message's alone. */
  creditFor(bytes: number): number;
  /** The first fragment of a message of `bytes` credit was taken. */
  began(bytes: number): void;
  /** The credit the connection grants now, at most the window (flow-control.ts): also what unread datagrams may take. */
  readonly grant: number;
  /** Whether an unread datagram taking `bytes` may be held (`first`: no other is), charged to the endpoint's budget if so. */
  holdDatagram(bytes: number, first: boolean): boolean;
  /** A datagram `holdDatagram` let in was read. */
  releaseDatagram(bytes: number): void;
}

/** Outcome of accepting a fragment. */
export type FragmentResult = 'new' | 'duplicate' | 'refused';

/** Release state of one ordered channel. */
interface ChannelOrder {
  /** Id of the last message released (-1: none yet). */
  last: number;
  /** Whole messages keyed by the id of their predecessor. */
  /** Created with the first message that waits: most connections never need it. */
  waiting: Map<number, Waiting> | undefined;
}

/** Reassembles messages and releases them by channel. */
export class Reassembly {
  // The collections below are created when first needed: an empty Map costs ~190 bytes of heap, and
  // an idle connection (most of a server's) never fills them.
  private partial: Map<number, Partial> | undefined;
  /** Every id below it is whole. */
  private floor = 0;
  /** Whole ids above `floor`. */
  private wholeAbove: Set<number> | undefined;
  /**
   * Released messages not read yet, oldest first from `runHead`, each
   * followed by its channel and whether reading it returns flow-control
   * credit (channel × 2, + 1 for a datagram): one array, not a second for
   * the numbers, since idle traffic makes it anew for every message.
   */
  private run: RunEntry[] = emptyArray();
  private runHead = 0;
  /** Channel 0's order (the default traffic: kept out of the map). */
  private readonly zero: ChannelOrder = { last: -1, waiting: undefined };
  private channels: Map<number, ChannelOrder> | undefined;
  /** Window credit (`creditOf` each message) held in partial and whole-but-unread reliable messages. */
  buffered = 0;
  /**
   * Window credit (`creditOf` each) of datagrams held unread: they take none of the peer's (a lost one
   * could never give it back), so they have a budget of their own, the window again, and are dropped past it.
   */
  private datagramCredit = 0;
  /** Datagrams dropped because the application was not reading. */
  datagramsDropped = 0;
  /** Ranges held in the `covered` lists of all partial messages (bounded by `MAX_LISTED_RANGES_PER_CONNECTION`). */
  private listedRanges = 0;

  constructor(
    private window: number,
    /** Copies a message that may not stay a view of its datagram (see `keepable`). */
    private readonly copy: (bytes: Uint8Array) => Uint8Array = sliceOf,
    /**
     * The credit granted to the peer (`FlowControl`): what reliable messages may hold, at most the window,
     * less while the endpoint's budget is short (without it, the window); and the budget's say on datagrams.
     */
    private readonly granted?: ReceiveCredit,
  ) {}

  /** What partial and unread reliable messages may hold with a new message of `bytes` credit: the credit granted, or the window. */
  private limit(bytes: number): number {
    return this.granted === undefined ? this.window : this.granted.creditFor(bytes);
  }

  /** The receive window grew (`FlowControl.raiseReceiveWindow`): what may be held grows with it. */
  raiseWindow(window: number): void {
    if (window > this.window) this.window = window;
  }

  /** Accepts a fragment. */
  accept(f: FragmentFrame): FragmentResult {
    const id = f.messageId;
    if (this.isWhole(id)) return 'duplicate';
    if (id - this.floor >= MAX_MESSAGES_AHEAD) return 'refused';
    const d = f.delivery;
    // A predecessor must come before the message (0: none).
    if (d !== undefined && d.predecessorDelta > id) return 'refused';
    let p = this.partial?.get(id);
    if (!p && f.offset === 0 && f.data.length === f.messageLength) {
      // The common case, a message in one fragment: no partial state, at most one copy.
      const credit = creditOf(f.messageLength);
      if (this.buffered + credit > this.limit(credit)) return 'refused';
      this.buffered += credit;
      this.granted?.began(credit);
      this.whole(id, this.keepable(f.data), d);
      return 'new';
    }
    if (!p) {
      const credit = creditOf(f.messageLength);
      if (this.buffered + credit > this.limit(credit)) return 'refused';
      this.granted?.began(credit);
      const large = f.messageLength > HELD_FROM_BYTES;
      p = {
        buf: large ? undefined : PIECES.alloc(f.messageLength),
        held: large ? new HeldPieces() : undefined,
        length: f.messageLength,
        covered: [],
        bits: undefined,
        delivery: d,
        received: 0,
      };
      (this.partial ??= new Map()).set(id, p);
      this.buffered += creditOf(f.messageLength);
    } else if (p.length !== f.messageLength || !sameDelivery(p.delivery, d)) {
      return 'refused';
    }
    if (f.data.length === 0 && f.messageLength !== 0) return 'duplicate';
    const fresh = this.cover(p, f.offset, f.offset + f.data.length);
    if (fresh === 0) return 'duplicate';
    p.received += fresh;
    const held = p.held;
    if (held === undefined) (p.buf as Uint8Array).set(f.data, f.offset);
    else {
      held.add(f.offset, f.data);
      if (p.received >= p.length || timeToAllocate(p.length, held)) {
        const buf = new Uint8Array(p.length);
        held.writeInto(buf);
        p.buf = buf;
        p.held = undefined;
      }
    }
    if (p.received >= f.messageLength) {
      this.partial?.delete(id);
      if (p.covered !== undefined) this.listedRanges -= p.covered.length / 2;
      this.whole(id, p.buf as Uint8Array, p.delivery);
    }
    return 'new';
  }

  /** Marks `[lo, hi)` of `p` received; returns how many of its bytes were not yet. */
  private cover(p: Partial, lo: number, hi: number): number {
    const ranges = p.covered;
    if (ranges === undefined) {
      const bits = bitsReaching(p.bits as Uint32Array, hi, p.length);
      p.bits = bits;
      return coverBits(bits, lo, hi);
    }
    const before = ranges.length;
    const fresh = cover(ranges, lo, hi);
    this.listedRanges += (ranges.length - before) / 2;
    if (ranges.length > 2 * MAX_LISTED_RANGES || this.listedRanges > MAX_LISTED_RANGES_PER_CONNECTION) {
      // Too many holes to list cheaply: one bit a byte from now on (see MAX_LISTED_RANGES).
      p.bits = bitsOf(ranges, p.length);
      p.covered = undefined;
      this.listedRanges -= ranges.length / 2;
    }
    return fresh;
  }

  /** @internal Bytes held for partial messages: their buffers, or for large ones their held pieces, and their bits. */
  get partialBytes(): number {
    let total = 0;
    for (const p of this.partial?.values() ?? []) total += (p.buf?.length ?? (p.held as HeldPieces).cost) + (p.bits?.byteLength ?? 0);
    return total;
  }

  /** @internal Bytes of partial message `id` received so far (`undefined`: it is not partial, whole or never begun). */
  receivedOf(id: number): number | undefined {
    return this.partial?.get(id)?.received;
  }

  /** @internal Length of partial message `id`, bytes (`undefined`: it is not partial). */
  lengthOf(id: number): number | undefined {
    return this.partial?.get(id)?.length;
  }

  /** @internal Window credit (`creditOf` each) of the datagrams held unread. */
  get datagramsHeld(): number {
    return this.datagramCredit;
  }

  /** @internal Bytes of whole messages not read yet: released, or waiting for their predecessor. */
  get unreadBytes(): number {
    let total = 0;
    for (let i = this.runHead; i < this.run.length; i += 2) total += (this.run[i] as Uint8Array).length;
    for (const order of [this.zero, ...(this.channels?.values() ?? [])]) for (const w of order.waiting?.values() ?? []) total += w.data.length;
    return total;
  }

  /** @internal Ranges held as lists by all partial messages (at most `MAX_LISTED_RANGES_PER_CONNECTION` + 1 between fragments). */
  get rangesListed(): number {
    return this.listedRanges;
  }

  /**
   * A datagram arrived: released at once, or dropped if unread datagrams already fill the grant (the
   * window while the application reads, less until then: flow-control.ts) or the endpoint's budget.
   */
  acceptDatagram(channel: number, data: Uint8Array): boolean {
    const room = this.granted === undefined ? this.window : this.granted.grant;
    if (this.datagramCredit + creditOf(data.length) > room || (this.granted !== undefined && !this.granted.holdDatagram(creditOf(data.length), this.datagramCredit === 0))) {
      this.datagramsDropped++;
      return false;
    }
    this.datagramCredit += creditOf(data.length);
    this.release(this.keepable(data), channel * 2 + 1);
    return true;
  }

  /**
   * The bytes of a whole-message fragment, for the application to keep as
   * long as it likes. A view when the fragment is most of its buffer, or the
   * buffer is small (a received datagram, which the driver hands over for
   * good: see `SansIoEndpoint.handleDatagram`): a copy of a 1 KB message is a
   * new off-heap buffer per message, the largest single cost of receiving
   * them, and a copy of a small one was the largest allocation of idle
   * traffic. Otherwise a copy, so a kept small message never pins a large
   * buffer (a datagram full of small messages, or a 64 KiB slab in the
   * simulator).
   */
  private keepable(data: Uint8Array): Uint8Array {
    const size = data.buffer.byteLength;
    return size <= SMALL_BUFFER_BYTES || data.length * 2 >= size ? data : this.copy(data);
  }

  /** Whether message `id` arrived whole (released, read or waiting for its predecessor). */
  isWhole(id: number): boolean {
    return id < this.floor || (this.wholeAbove !== undefined && this.wholeAbove.size > 0 && this.wholeAbove.has(id));
  }

  /** The lowest id not yet whole: every message below it has arrived. */
  firstMissing(): number {
    return this.floor;
  }

  /** Whether a released message waits to be read. */
  hasNext(): boolean {
    return this.runHead < this.run.length;
  }

  /** Channel of the message `pop` returns next (0 if none). */
  nextChannel(): number {
    return Math.floor(this.nextMeta() / 2);
  }

  /** Whether the message `pop` returns next is reliable (its bytes return flow-control credit once read). */
  nextIsReliable(): boolean {
    return (this.nextMeta() & 1) === 0;
  }

  /** The channel × 2 (+ 1 for a datagram) of the message `pop` returns next (0 if none). */
  private nextMeta(): number {
    const meta = this.run[this.runHead + 1];
    return typeof meta === 'number' ? meta : 0;
  }

  /** The next released message, if any. */
  pop(): Uint8Array | undefined {
    if (this.runHead >= this.run.length) return undefined;
    const m = this.run[this.runHead] as Uint8Array;
    const meta = this.nextMeta();
    this.run[this.runHead] = undefined;
    this.runHead += 2;
    if (this.runHead === this.run.length) {
      this.run = emptyArray();
      this.runHead = 0;
    } else if (this.runHead > 2 * 1024 && this.runHead * 2 > this.run.length) {
      // A reader that never quite catches up must not leave an ever longer trail of read slots.
      this.run.splice(0, this.runHead);
      this.runHead = 0;
    }
    if ((meta & 1) === 1) {
      this.datagramCredit -= creditOf(m.length);
      this.granted?.releaseDatagram(creditOf(m.length));
    } else {
      this.buffered -= creditOf(m.length);
    }
    return m;
  }

  /** Message `id` is whole: record it, and release it (and what waited for it) as its delivery allows. */
  private whole(id: number, m: Uint8Array, d: Delivery | undefined): void {
    if (id === this.floor) {
      let next = id + 1;
      const above = this.wholeAbove;
      if (above !== undefined && above.size > 0) while (above.delete(next)) next++;
      this.floor = next;
    } else {
      (this.wholeAbove ??= new Set()).add(id);
    }
    if (d === undefined) {
      this.releaseOrdered(this.zero, 0, id, id - 1, m);
    } else if (!d.ordered) {
      this.release(m, d.channel * 2);
    } else {
      const order = d.channel === 0 ? this.zero : this.orderOf(d.channel);
      this.releaseOrdered(order, d.channel, id, d.predecessorDelta === 0 ? -1 : id - d.predecessorDelta, m);
    }
  }

  private releaseOrdered(order: ChannelOrder, channel: number, id: number, predecessor: number, m: Uint8Array): void {
    if (predecessor !== order.last) {
      if (order.waiting?.has(predecessor) === true) {
        // Two messages claim one predecessor: only a broken or hostile peer says so. Keep the first.
        this.buffered -= creditOf(m.length);
        return;
      }
      (order.waiting ??= new Map()).set(predecessor, { id, data: m });
      return;
    }
    this.release(m, channel * 2);
    order.last = id;
    const waiting = order.waiting;
    if (waiting === undefined || waiting.size === 0) return;
    // The message filled a gap: what waited behind it follows.
    for (let w = waiting.get(id); w !== undefined; w = waiting.get(order.last)) {
      waiting.delete(order.last);
      this.release(w.data, channel * 2);
      order.last = w.id;
    }
  }

  private orderOf(channel: number): ChannelOrder {
    let o = this.channels?.get(channel);
    if (o === undefined) {
      o = { last: -1, waiting: undefined };
      (this.channels ??= new Map()).set(channel, o);
    }
    return o;
  }

  private release(m: Uint8Array, meta: number): void {
    // Into an empty run: an array of exactly these two (a push onto one of one would make room for 19).
    if (isSharedEmpty(this.run)) this.run = [m, meta];
    else this.run.push(m, meta);
  }
}

function sameDelivery(a: Delivery | undefined, b: Delivery | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.channel === b.channel && a.ordered === b.ordered && a.predecessorDelta === b.predecessorDelta;
}

/**
 * Buffers up to this size are kept whole under a message of any size: a copy
 * costs some 200 bytes of heap of its own (a buffer object, a view, the
 * bytes), about what keeping such a datagram costs, and a 16-byte message
 * of idle traffic comes in a datagram some 50 bytes long.
 */
export const SMALL_BUFFER_BYTES = 256;

/** A copy of `bytes` of its own (the default `copy`). */
function sliceOf(bytes: Uint8Array): Uint8Array {
  return bytes.slice();
}

/**
 * Adds `[lo, hi)` to `ranges` (sorted, disjoint `[lo, hi)` pairs, merged
 * when they touch) and returns how many of its bytes were not covered yet.
 * The place is found by binary search, and a range already covered leaves
 * the list untouched: a peer's duplicates cost O(log n), not a scan of the list.
 */
export function cover(ranges: number[], lo: number, hi: number): number {
  // The first pair that ends at or after `lo` (every pair before it ends before `lo`, and does not touch it).
  let first = 0;
  let end = ranges.length >>> 1;
  while (first < end) {
    const mid = (first + end) >>> 1;
    if ((ranges[2 * mid + 1] as number) < lo) first = mid + 1;
    else end = mid;
  }
  const i = 2 * first;
  if (i < ranges.length && (ranges[i] as number) <= lo && hi <= (ranges[i + 1] as number)) return 0;
  let mergedLo = lo;
  let mergedHi = hi;
  let overlap = 0;
  let j = i;
  while (j < ranges.length && (ranges[j] as number) <= hi) {
    const a = ranges[j] as number;
    const b = ranges[j + 1] as number;
    overlap += Math.max(0, Math.min(b, hi) - Math.max(a, lo));
    mergedLo = Math.min(mergedLo, a);
    mergedHi = Math.max(mergedHi, b);
    j += 2;
  }
  if (j === i + 2) {
    // Grows one pair: no splice (it would make an array of the removed element).
    ranges[i] = mergedLo;
    ranges[i + 1] = mergedHi;
  } else if (j === ranges.length && i === j) {
    ranges.push(mergedLo, mergedHi);
  } else {
    ranges.splice(i, j - i, mergedLo, mergedHi);
  }
  return hi - lo - overlap;
}

/**
 * The bits (one a byte, of a message of `length` bytes) of the `[lo, hi)` pairs `ranges`: as far as
 * the highest byte received (see `bitsReaching`), not the whole message.
 */
function bitsOf(ranges: readonly number[], length: number): Uint32Array {
  const bits = bitsReaching(new Uint32Array(0), ranges[ranges.length - 1] as number, length);
  for (let i = 0; i < ranges.length; i += 2) coverBits(bits, ranges[i] as number, ranges[i + 1] as number);
  return bits;
}

/**
 * `bits`, or a copy grown to reach byte `hi` (exclusive) of a message of `length` bytes: twice as
 * far at least (a few copies over a message that arrives in order), never past its end. Allocated
 * whole, the bits of a 32 MiB message were 4 MiB at its 513th hole, however little of it had come.
 */
function bitsReaching(bits: Uint32Array, hi: number, length: number): Uint32Array {
  const need = (hi + 31) >>> 5;
  if (need <= bits.length) return bits;
  const words = Math.min(Math.max(need, bits.length * 2), Math.ceil(length / 32));
  const grown = new Uint32Array(words);
  grown.set(bits);
  return grown;
}

/**
 * Sets the bits of bytes `[lo, hi)` (`lo < hi`) and returns how many were
 * clear: a word at a time, so a fragment costs work in proportion to its bytes.
 */
export function coverBits(bits: Uint32Array, lo: number, hi: number): number {
  const firstWord = lo >>> 5;
  const lastWord = (hi - 1) >>> 5;
  let fresh = 0;
  for (let w = firstWord; w <= lastWord; w++) {
    const from = w === firstWord ? lo & 31 : 0;
    const to = w === lastWord ? ((hi - 1) & 31) + 1 : 32;
    // `1 << 32` is 1 in JavaScript: a whole word's mask is spelled out.
    const mask = to - from === 32 ? -1 : ((1 << (to - from)) - 1) << from;
    const word = bits[w] as number;
    const added = mask & ~word;
    if (added !== 0) {
      fresh += popcount(added);
      bits[w] = word | mask;
    }
  }
  return fresh;
}

/** Set bits of the 32-bit integer `x`. */
function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}
