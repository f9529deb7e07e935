/**
 * A message on the sending side, cut into chunks as it leaves: when its
 * first chunk leaves (chunks fit the datagram size of that moment, the first
 * one what the packet had left), and again, for the chunks not sent yet,
 * whenever path MTU discovery changes the size. A chunk once sent is fixed:
 * a retransmission repeats exactly the same bytes at the same offset. The one
 * exception is a chunk sent at a size the path no longer carries (path MTU
 * black hole): it is resent in pieces that fit, acknowledged piece by piece.
 */

/** From chunk `index` on (it starts at byte `offset`), chunks have `size` bytes (the last one less). */
interface Segment {
  readonly index: number;
  readonly offset: number;
  readonly size: number;
}
import { type Delivery, MAX_SMALL_MESSAGE, channelFrameSize, fragmentHeaderSize, messageFrameSize, writeChannel, writeFragment, writeMessage } from '../../wire/frame.js';
import type { PacketWriter } from '../../wire/packet.js';
import { creditOf } from '../credit.js';

/**
 * Thrown while a packet is written when the bytes of a message still queued
 * were detached (the application transferred their `ArrayBuffer`, e.g. to a
 * worker, or shrank a resizable one below the view): they are gone, and the lengths the connection counted them at no
 * longer hold. `Connection.pollTransmit` ends the connection for it instead
 * of letting it escape every poll (attack round 31: an uncaught `TypeError`
 * at every flush, a crashed process without a handler).
 */
export class DetachedBytesError extends Error {
  constructor(id: number) {
    super(`message ${id}: its bytes were detached (their ArrayBuffer transferred, or resized from under the view) before they were sent`);
    this.name = 'DetachedBytesError';
  }
}

/**
 * Throws {@link DetachedBytesError} unless `data` still has the `length` it was counted at: a view of a
 * detached buffer reads as empty, and a length-tracking view (`new Uint8Array(resizableBuffer)`) follows
 * its buffer's `resize()` either way, so the lengths the connection counted it at no longer hold. One
 * comparison for a non-empty message; only an empty one is looked at closer.
 */
export function checkAttached(data: Uint8Array, length: number, id: number): void {
  if (!hasLength(data, length)) throw new DetachedBytesError(id);
}

/** Whether `data` still reads as the `length` bytes it was counted at (see `checkAttached`). */
function hasLength(data: Uint8Array, length: number): boolean {
  return data.byteLength === length && !(length === 0 && isDetached(data));
}

/**
 * Whether `data` lost its bytes: a view of a detached buffer, or one a resizable buffer shrank out of bounds
 * (`ArrayBuffer.prototype.resize`), which reads as empty too and throws at every use as a detached one does
 * (one comparison for a non-empty view; see `checkAttached`).
 */
export function isDetached(data: Uint8Array): boolean {
  if (data.byteLength !== 0) return false;
  try {
    // Reading an element validates the view: a live empty one gives `undefined`, a detached or out-of-bounds one throws.
    void data.at(0);
    return false;
  } catch {
    return true;
  }
}

/** Whether `m`'s bytes are still there at the length it was counted at (see `checkAttached`). */
export function isIntact(m: OutgoingMessage): boolean {
  return hasLength(m.data, m.length);
}

/** A queued message and which of its chunks the peer has acknowledged. */
export class OutgoingMessage {
  /**
   * The message's length, taken as its first chunk leaves: every count and cut follows it, not `data.length`,
   * which a length-tracking view changes when the application resizes its buffer (`checkAttached` then ends
   * the connection where the bytes are next written).
   */
  readonly length: number;
  /** Number of chunks (a 0-byte message has one empty chunk). */
  chunkCount: number;
  /**
   * How the message is cut: chunk 0 alone, then runs of equal chunks (more
   * than one run once re-cut mid-message). `undefined`: one run of
   * `runSize`-byte chunks from chunk 0, as every message starts and most
   * small ones stay (a list and a run object per message saved).
   */
  private segments: Segment[] | undefined;
  /** The chunk size while `segments` is `undefined`. */
  private runSize: number;
  /** Bytes of each piece of a chunk resent in pieces (0: none is). */
  pieceSize = 0;
  /** Index of the first chunk never sent. */
  nextChunk = 0;
  /** When the (single-chunk) message was first sent, for redundancy. */
  firstSentAt = 0;
  /**
   * Since when the peer has owed an acknowledgement of the message, ms (read through
   * `unacknowledgedSince`): the first send of a chunk while every chunk sent before was acknowledged,
   * and, for a message of several chunks, each chunk or piece of one newly acknowledged (progress: a
   * bulk message takes longer than the idle timeout on a slow path). The unacknowledged timer counts
   * from it (connection/timeouts.ts), per message: counted from packets alone, a peer that
   * acknowledged everything but one message had it resent for ever, each resend a younger packet.
   * Not `firstSentAt`, which only small messages set (their redundancy reads it).
   */
  awaitedSince = 0;
  /**
   * Losses of the message declared since `awaitedSince` was last set, each of a packet that left after
   * the one before was declared (a copy sent beside a lost packet is lost in the same try): tries the
   * peer let pass while it acknowledged later packets. See `noteLost`.
   */
  lostTries = 0;
  /** When the last loss counted in `lostTries` was declared, ms. */
  private lostTryAt = 0;
  /** Packet number of the last repair that covered this message (0: none). */
  lastRepairPn = 0;
  /** Repairs that covered this message so far. */
  repairs = 0;
  /** Per-chunk acknowledgement flags; `undefined` for a one-chunk message, which `ackedCount` says all about. */
  private acked: Uint8Array | undefined;
  private ackedCount = 0;
  /** Per chunk, a bit per piece acknowledged (only once a chunk is resent in pieces). */
  private pieceAcks: Uint32Array | undefined;

  constructor(
    /** Message id, consecutive per connection. */
    readonly id: number,
    readonly data: Uint8Array,
    /** Position of the message in the connection's message stream (flow control: `creditOf` each message before it). */
    readonly streamStart: number,
    chunkSize: number,
    /** Its CHANNEL frame, repeated before every piece; `undefined`: the default delivery (no frame). */
    readonly delivery?: Delivery,
  ) {
    this.length = data.length;
    this.segments = undefined;
    this.runSize = chunkSize;
    this.chunkCount = Math.max(1, Math.ceil(this.length / chunkSize));
    // One typed array less per small message: a one-chunk message's only flag is `ackedCount`.
    this.acked = this.chunkCount === 1 ? undefined : new Uint8Array(this.chunkCount);
  }

  /** Bytes of chunk 0. */
  get firstChunkSize(): number {
    return this.segments === undefined ? this.runSize : (this.segments[0] as Segment).size;
  }

  /** Bytes of the chunks not sent yet (the last run's size). */
  get chunkSize(): number {
    return this.segments === undefined ? this.runSize : (this.segments[this.segments.length - 1] as Segment).size;
  }

  /** Cuts the message again, before its first chunk is sent: chunk 0 of `first` bytes, the rest of `size`. */
  cut(first: number, size: number): void {
    if (this.nextChunk !== 0) throw new Error('rudp: a message is cut only before it is sent');
    const head = Math.min(first, this.length);
    this.runSize = head;
    this.segments = head === this.length ? undefined : [{ index: 0, offset: 0, size: head }, { index: 1, offset: head, size }];
    this.chunkCount = 1 + Math.ceil((this.length - head) / size);
    this.acked = this.chunkCount === 1 ? undefined : new Uint8Array(this.chunkCount);
  }

  /** Cuts the chunks not sent yet (there are some, and some were sent) into chunks of `size` bytes. */
  recutUnsent(size: number): void {
    const from = this.nextChunk;
    const offset = this.offsetOf(from);
    const runs = this.segments ?? [{ index: 0, offset: 0, size: this.runSize }];
    this.segments = runs.filter((g) => g.index < from);
    this.segments.push({ index: from, offset, size });
    this.chunkCount = from + Math.ceil((this.length - offset) / size);
    // Sent chunks keep their numbers, and so their acknowledgement flags.
    const acked = new Uint8Array(this.chunkCount);
    if (this.acked !== undefined) acked.set(this.acked.subarray(0, from));
    this.acked = acked;
    if (this.pieceAcks !== undefined) {
      const pieces = new Uint32Array(this.chunkCount);
      pieces.set(this.pieceAcks.subarray(0, from));
      this.pieceAcks = pieces;
    }
  }

  /** The run chunk `i` belongs to (`undefined`: the one run of `runSize` from chunk 0). */
  private segmentOf(i: number): Segment | undefined {
    const runs = this.segments;
    if (runs === undefined) return undefined;
    for (let k = runs.length - 1; k > 0; k--) {
      const g = runs[k] as Segment;
      if (g.index <= i) return g;
    }
    return runs[0] as Segment;
  }

  /** Stream position just past the message (counted in window credit: `creditOf` each message). */
  get streamEnd(): number {
    return this.streamStart + creditOf(this.length);
  }

  /** Byte offset of chunk `i`. */
  offsetOf(i: number): number {
    const g = this.segmentOf(i);
    return g === undefined ? i * this.runSize : g.offset + (i - g.index) * g.size;
  }

  /** The bytes of chunk `i` (a view). */
  chunk(i: number): Uint8Array {
    // A one-chunk message (most are): no new view per send.
    if (this.chunkCount === 1) return this.data;
    const g = this.segmentOf(i);
    const size = g === undefined ? this.runSize : g.size;
    const start = g === undefined ? i * size : g.offset + (i - g.index) * size;
    return this.data.subarray(start, Math.min(start + size, this.length));
  }

  /** Bytes of chunk `i`, without a view of them (sizes are asked of every queued resend). */
  chunkLength(i: number): number {
    if (this.chunkCount === 1) return this.length;
    const g = this.segmentOf(i);
    const size = g === undefined ? this.runSize : g.size;
    const start = g === undefined ? i * size : g.offset + (i - g.index) * size;
    return Math.max(0, Math.min(start + size, this.length) - start);
  }

  /** Number of pieces chunk `i` is resent in, once `pieceSize` is set. */
  pieceCount(i: number): number {
    return Math.max(1, Math.ceil(this.chunk(i).length / this.pieceSize));
  }

  /** Whether chunk `i` (or only its piece `piece`) was acknowledged. */
  isAcked(i: number, piece?: number): boolean {
    if (this.acked === undefined ? this.ackedCount === 1 : this.acked[i] === 1) return true;
    return piece !== undefined && this.pieceAcks !== undefined && ((this.pieceAcks[i] as number) & (1 << piece)) !== 0;
  }

  /** Marks chunk `i` (or its piece `piece`) acknowledged; true if that completed the message. */
  ack(i: number, piece?: number): boolean {
    if (this.isAcked(i, piece)) return false;
    if (piece !== undefined) {
      this.pieceAcks ??= new Uint32Array(this.chunkCount);
      const bits = ((this.pieceAcks[i] as number) | (1 << piece)) >>> 0;
      this.pieceAcks[i] = bits;
      if (bits !== 2 ** this.pieceCount(i) - 1) return false;
    }
    if (this.acked !== undefined) this.acked[i] = 1;
    return ++this.ackedCount === this.chunkCount;
  }

  /** Whether every chunk was acknowledged. */
  get complete(): boolean {
    return this.ackedCount === this.chunkCount;
  }

  /** Whether a chunk sent is not acknowledged yet (one resent in pieces counts until every piece is). */
  get awaitingAcknowledgement(): boolean {
    return this.ackedCount < this.nextChunk;
  }

  /** Since when the peer has owed an acknowledgement of the message (`awaitedSince`), ms; `Infinity` while it owes none. */
  unacknowledgedSince(): number {
    return this.ackedCount < this.nextChunk ? this.awaitedSince : Number.POSITIVE_INFINITY;
  }

  /** The peer owes the message afresh from `now` (its first send, or progress on it): no try lost yet. */
  owedFrom(now: number): void {
    this.awaitedSince = now;
    this.lostTries = 0;
  }

  /**
   * A packet that carried a chunk of the message and left at `sentAt` was declared lost at `now`:
   * another try lost if it left after the last one counted was declared (a resend, a probe), not one
   * sent beside it or before (copies, the tries of one round).
   */
  noteLost(now: number, sentAt: number): void {
    if (this.lostTries > 0 && sentAt < this.lostTryAt) return;
    this.lostTries++;
    this.lostTryAt = now;
  }

  /** Whether every chunk was sent at least once. */
  get allSent(): boolean {
    return this.nextChunk >= this.chunkCount;
  }
}

/** One chunk of one message, as a retransmission queue holds it. */
export interface ChunkRef {
  readonly message: OutgoingMessage;
  readonly index: number;
  /** Only this piece of the chunk (see `OutgoingMessage.pieceSize`); `undefined`: the whole chunk. */
  readonly piece?: number;
  /** Not to be sent before this time (redundant copies are spaced out). */
  readonly notBefore: number;
  /** A proactive tail copy: dropped if later data was sent after the message (it can piggyback). */
  readonly tail?: boolean;
  /** A resend held until the packet of the message's last repair is acknowledged or lost (the peer may rebuild it). */
  readonly afterRepairs?: boolean;
  /** A proactive copy beside the first send (the repair policy's previous copy): losing it needs no resend. */
  readonly redundant?: boolean;
}

/**
 * Writes chunk `index` of `m` (or only its piece `piece`) if it fits: a whole
 * small message as a MESSAGE frame, anything else as a FRAGMENT. Returns
 * whether it was written.
 */
export function writeChunk(w: PacketWriter, m: OutgoingMessage, index: number, piece?: number): boolean {
  checkAttached(m.data, m.length, m.id);
  const d = m.delivery;
  const annotation = d === undefined ? 0 : channelFrameSize(d);
  if (piece !== undefined) {
    const whole = m.chunk(index);
    const start = piece * m.pieceSize;
    const data = whole.subarray(start, Math.min(start + m.pieceSize, whole.length));
    const offset = m.offsetOf(index) + start;
    if (annotation + fragmentHeaderSize(m.id, m.length, offset, data.length) + data.length > w.room()) return false;
    if (d !== undefined) writeChannel(w, d);
    writeFragment(w, m.id, m.length, offset, data);
    return true;
  }
  if (m.chunkCount === 1 && m.length <= MAX_SMALL_MESSAGE) {
    if (annotation + messageFrameSize(m.id, m.length) > w.room()) return false;
    if (d !== undefined) writeChannel(w, d);
    writeMessage(w, m.id, m.data);
    return true;
  }
  const data = m.chunk(index);
  const offset = m.offsetOf(index);
  if (annotation + fragmentHeaderSize(m.id, m.length, offset, data.length) + data.length > w.room()) return false;
  if (d !== undefined) writeChannel(w, d);
  writeFragment(w, m.id, m.length, offset, data);
  return true;
}

/** Whether chunk `index` of `m` (or only its piece `piece`) fits in what is left of `w`: what {@link writeChunk} asks, without writing. */
export function chunkFits(w: PacketWriter, m: OutgoingMessage, index: number, piece?: number): boolean {
  return chunkWireSize(m, index, piece) <= w.room();
}

/** Bytes chunk `index` of `m` (or only its piece `piece`) takes in a packet (frames and annotation); no view of the data is made. */
export function chunkWireSize(m: OutgoingMessage, index: number, piece?: number): number {
  const annotation = m.delivery === undefined ? 0 : channelFrameSize(m.delivery);
  if (piece !== undefined) {
    const start = piece * m.pieceSize;
    const length = Math.max(0, Math.min(start + m.pieceSize, m.chunkLength(index)) - start);
    return annotation + fragmentHeaderSize(m.id, m.length, m.offsetOf(index) + start, length) + length;
  }
  if (m.chunkCount === 1 && m.length <= MAX_SMALL_MESSAGE) return annotation + messageFrameSize(m.id, m.length);
  const length = m.chunkLength(index);
  return annotation + fragmentHeaderSize(m.id, m.length, m.offsetOf(index), length) + length;
}
