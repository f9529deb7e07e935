/**
 * Flow control, both directions. Sending: a message may leave only once
 * the peer's announced limit covers its last byte (messages are delivered
 * whole, so one must fit the peer's window). Receiving: whole messages the
 * application has not read count against our window; reading them earns
 * the peer more credit, announced in MAX_DATA once a quarter window has
 * been freed (one small frame per quarter window, not per message).
 */
import { writeMaxData } from '../wire/frame.js';
import type { PacketWriter } from '../wire/packet.js';
import { varintSize } from '../wire/varint.js';

/** Credit in both directions for one connection. */
export class FlowControl {
  /** Stream offset up to which the peer lets us send. */
  private peerLimit: number;
  /** The peer's window: the largest message it takes. */
  private peerWindowBytes: number;
  /** Bytes of messages the application has read. */
  private consumed = 0;
  /** The limit we last announced. */
  private advertisedLimit: number;
  /** A MAX_DATA frame is owed. */
  private maxDataDue = false;

  constructor(
    /** Our receive window, bytes. */
    private readonly receiveWindow: number,
    peerWindow: number,
  ) {
    this.peerLimit = peerWindow;
    this.peerWindowBytes = peerWindow;
    this.advertisedLimit = receiveWindow;
  }

  /** The peer's window (before the handshake completes, our own stands in for it). */
  get peerWindow(): number {
    return this.peerWindowBytes;
  }

  /** The handshake told us the peer's window. */
  setPeerWindow(window: number): void {
    this.peerLimit = window;
    this.peerWindowBytes = window;
  }

  /** Whether the peer has room for the stream up to `streamEnd`. */
  allows(streamEnd: number): boolean {
    return streamEnd <= this.peerLimit;
  }

  /** The peer raised its limit (MAX_DATA). */
  onMaxData(limit: number): void {
    if (limit > this.peerLimit) this.peerLimit = limit;
  }

  /** The application read a message of `bytes`. */
  onRead(bytes: number): void {
    this.consumed += bytes;
    const limit = this.consumed + this.receiveWindow;
    if (limit - this.advertisedLimit >= this.receiveWindow / 4) {
      this.advertisedLimit = limit;
      this.maxDataDue = true;
    }
  }

  /** Whether a MAX_DATA frame is owed. */
  get due(): boolean {
    return this.maxDataDue;
  }

  /** A packet that carried MAX_DATA was lost: announce again. */
  onMaxDataLost(): void {
    this.maxDataDue = true;
  }

  /** Writes the owed MAX_DATA frame if it fits; returns whether it did. */
  writeIfDue(w: PacketWriter): boolean {
    if (!this.maxDataDue || w.room() < 1 + varintSize(this.advertisedLimit)) return false;
    writeMaxData(w, this.advertisedLimit);
    this.maxDataDue = false;
    return true;
  }
}
