/**
 * The send queue: messages in the order the application sent them, each cut
 * into chunks at queue time, a cursor to the first chunk never sent, and the
 * bookkeeping of which messages the peer has whole. New data leaves in queue
 * order, as far as the peer's flow-control credit allows.
 */
import type { FlowControl } from '../flow-control.js';
import { fragmentHeaderSize } from '../../wire/frame.js';
import type { PacketWriter } from '../../wire/packet.js';
import { type ChunkRef, OutgoingMessage, writeChunk } from './outgoing-message.js';

/** Queued messages of one connection. */
export class SendQueue {
  /** Messages in send order; slots before `head` are acknowledged and emptied. */
  private readonly outbox: (OutgoingMessage | undefined)[] = [];
  private head = 0;
  /** No message in `outbox` before this index has a chunk left to send for the first time. */
  private unsentHead = 0;
  private nextMessageId = 0;
  /** Stream offset after the last queued message. */
  private streamEnd = 0;

  constructor(
    private readonly flow: FlowControl,
    /** Packet bytes between header and checksum: a chunk fills them exactly. */
    private readonly payloadRoom: number,
  ) {}

  /** Queues `data` as the next message. */
  push(data: Uint8Array): OutgoingMessage {
    const id = this.nextMessageId++;
    // Chunks fill a packet exactly; an ACK rides along only where room is left or when it is due
    // (then the chunk waits for the next packet).
    const chunkSize = this.payloadRoom - fragmentHeaderSize(id, data.length, data.length, this.payloadRoom);
    const m = new OutgoingMessage(id, data, this.streamEnd, chunkSize);
    this.streamEnd += data.length;
    this.outbox.push(m);
    return m;
  }

  /** Whether a chunk never sent may leave now (flow control permitting). */
  hasNewData(): boolean {
    const m = this.outbox[this.firstUnsent()];
    return m !== undefined && this.flow.allows(m.streamEnd);
  }

  /**
   * Writes never-sent chunks into `w` in queue order while they fit and the
   * peer's credit covers their message; `onSmallSent` hears of each
   * one-chunk message as it leaves.
   */
  fillNewData(w: PacketWriter, chunks: ChunkRef[], onSmallSent: (m: OutgoingMessage) => void): void {
    for (let i = this.firstUnsent(); i < this.outbox.length; i++) {
      const m = this.outbox[i] as OutgoingMessage;
      if (m.allSent) continue;
      if (!this.flow.allows(m.streamEnd)) return; // the receiver has no room for all of it yet
      while (!m.allSent) {
        const idx = m.nextChunk;
        if (!writeChunk(w, m, idx)) return;
        chunks.push({ message: m, index: idx, notBefore: 0 });
        m.nextChunk++;
        if (m.chunkCount === 1) onSmallSent(m);
      }
    }
  }

  /**
   * The peer has every message below `next` (some rebuilt from repairs, in
   * packets we count as lost); `onComplete` hears of each message this completes.
   */
  ackBelow(next: number, onComplete: (m: OutgoingMessage) => void): void {
    for (let i = this.head; i < this.outbox.length; i++) {
      const m = this.outbox[i] as OutgoingMessage;
      // Only what was sent can have arrived; a larger claim is ignored.
      if (m.id >= next || !m.allSent) break;
      for (let c = 0; c < m.chunkCount; c++) if (m.ack(c)) onComplete(m);
    }
    this.compact();
  }

  /** Drops acknowledged messages from the front. */
  compact(): void {
    while (this.head < this.outbox.length && (this.outbox[this.head] as OutgoingMessage).complete) {
      // Drop the acknowledged message now: the slot may wait for 64 more before the splice, and a
      // large message would keep its bytes alive that long.
      this.outbox[this.head] = undefined;
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.outbox.length) {
      this.outbox.splice(0, this.head);
      this.unsentHead = Math.max(0, this.unsentHead - this.head);
      this.head = 0;
    }
  }

  /** Whether the peer has every queued message. */
  allAcked(): boolean {
    this.compact();
    return this.head >= this.outbox.length;
  }

  /** Bytes of messages queued but not yet acknowledged by the peer. */
  get bufferedAmount(): number {
    let n = 0;
    for (let i = this.head; i < this.outbox.length; i++) {
      const m = this.outbox[i] as OutgoingMessage;
      if (!m.complete) n += m.data.length;
    }
    return n;
  }

  /**
   * Index of the first message with a chunk never sent. Chunks go out in
   * outbox order, so the cursor only moves forward: a scan from the head
   * would walk every sent-but-unacknowledged message, several times a packet.
   */
  private firstUnsent(): number {
    let i = Math.max(this.unsentHead, this.head);
    while (i < this.outbox.length && (this.outbox[i] as OutgoingMessage).allSent) i++;
    this.unsentHead = i;
    return i;
  }
}
