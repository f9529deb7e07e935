/**
 * A message on the sending side, cut into fixed chunks at queue time so a
 * retransmission repeats exactly the same bytes at the same offset.
 */
import { type Delivery, MAX_SMALL_MESSAGE, channelFrameSize, fragmentHeaderSize, messageFrameSize, writeChannel, writeFragment, writeMessage } from '../../wire/frame.js';
import type { PacketWriter } from '../../wire/packet.js';

/** A queued message and which of its chunks the peer has acknowledged. */
export class OutgoingMessage {
  /** Number of chunks (a 0-byte message has one empty chunk). */
  readonly chunkCount: number;
  /** Index of the first chunk never sent. */
  nextChunk = 0;
  /** When the (single-chunk) message was first sent, for redundancy. */
  firstSentAt = 0;
  /** Packet number of the last repair that covered this message (0: none). */
  lastRepairPn = 0;
  /** Repairs that covered this message so far. */
  repairs = 0;
  /** Per-chunk acknowledgement flags; `undefined` for a one-chunk message, which `ackedCount` says all about. */
  private readonly acked: Uint8Array | undefined;
  private ackedCount = 0;

  constructor(
    /** Message id, consecutive per connection. */
    readonly id: number,
    readonly data: Uint8Array,
    /** Position of the first byte in the connection's message stream (flow control). */
    readonly streamStart: number,
    readonly chunkSize: number,
    /** Its CHANNEL frame, repeated before every piece; `undefined`: the default delivery (no frame). */
    readonly delivery?: Delivery,
  ) {
    this.chunkCount = Math.max(1, Math.ceil(data.length / chunkSize));
    // One typed array less per small message: a one-chunk message's only flag is `ackedCount`.
    this.acked = this.chunkCount === 1 ? undefined : new Uint8Array(this.chunkCount);
  }

  /** Stream position just past the message. */
  get streamEnd(): number {
    return this.streamStart + this.data.length;
  }

  /** Byte offset of chunk `i`. */
  offsetOf(i: number): number {
    return i * this.chunkSize;
  }

  /** The bytes of chunk `i` (a view). */
  chunk(i: number): Uint8Array {
    // A one-chunk message (most are): no new view per send.
    if (this.chunkCount === 1) return this.data;
    const start = i * this.chunkSize;
    return this.data.subarray(start, Math.min(start + this.chunkSize, this.data.length));
  }

  /** Whether chunk `i` was acknowledged. */
  isAcked(i: number): boolean {
    return this.acked === undefined ? this.ackedCount === 1 : this.acked[i] === 1;
  }

  /** Marks chunk `i` acknowledged; true if that completed the message. */
  ack(i: number): boolean {
    if (this.isAcked(i)) return false;
    if (this.acked !== undefined) this.acked[i] = 1;
    return ++this.ackedCount === this.chunkCount;
  }

  /** Whether every chunk was acknowledged. */
  get complete(): boolean {
    return this.ackedCount === this.chunkCount;
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
 * Writes chunk `index` of `m` if it fits: a whole small message as a MESSAGE
 * frame, anything else as a FRAGMENT. Returns whether it was written.
 */
export function writeChunk(w: PacketWriter, m: OutgoingMessage, index: number): boolean {
  const d = m.delivery;
  const annotation = d === undefined ? 0 : channelFrameSize(d);
  if (m.chunkCount === 1 && m.data.length <= MAX_SMALL_MESSAGE) {
    if (annotation + messageFrameSize(m.id, m.data.length) > w.room()) return false;
    if (d !== undefined) writeChannel(w, d);
    writeMessage(w, m.id, m.data);
    return true;
  }
  const data = m.chunk(index);
  const offset = m.offsetOf(index);
  if (annotation + fragmentHeaderSize(m.id, m.data.length, offset, data.length) + data.length > w.room()) return false;
  if (d !== undefined) writeChannel(w, d);
  writeFragment(w, m.id, m.data.length, offset, data);
  return true;
}
