/**
 * Flow control, both directions. Sending: a message may leave only once
 * the peer's announced limit covers its last byte (messages are delivered
 * whole, so one must fit the peer's window). Receiving: whole messages the
 * application has not read count against our window; reading them earns
 * the peer more credit, announced in MAX_DATA once a quarter window has
 * been freed (one small frame per quarter window, not per message).
 *
 * A reliable message takes its bytes and `MESSAGE_CREDIT` more of the
 * window, at both ends: a message held costs the receiver some 270 bytes of
 * heap however short it is, and a window counted in bytes alone let a peer
 * make a connection hold 65,536 empty messages (18 MB) in any window. Both
 * ends also keep message ids within `MAX_MESSAGES_AHEAD` of the oldest one
 * not yet whole. The receiver refuses what goes past either, so the sender
 * never sends it: a refused fragment's packet is still acknowledged, and an
 * honest sender whose message was refused would have lost it.
 */
import { writeMaxData } from '../wire/frame.js';
import type { PacketWriter } from '../wire/packet.js';
import { varintSize } from '../wire/varint.js';

/** Window bytes a reliable message takes beyond its own (its bookkeeping at the receiver). */
export const MESSAGE_CREDIT = 256;

/** Window bytes a reliable message of `length` bytes takes. */
export function creditOf(length: number): number {
  return length + MESSAGE_CREDIT;
}

/** Smallest receive window an endpoint has or takes from a peer: smaller, no message of a few hundred bytes would fit. */
export const MIN_RECEIVE_WINDOW = 1_024;

/** Most message ids past the oldest one not yet whole that a receiver tracks (and so a sender sends). */
export const MAX_MESSAGES_AHEAD = 65_536;

/** Credit in both directions for one connection. */
export class FlowControl {
  /** Stream offset up to which the peer lets us send. */
  private peerLimit: number;
  /** The peer's window (the largest message it takes is `MESSAGE_CREDIT` less). */
  private peerWindowBytes: number;
  /** Window credit of the messages the application has read (`creditOf` each). */
  private consumed = 0;
  /** The limit we last announced. */
  private advertisedLimit: number;
  /** A MAX_DATA frame is owed. */
  private maxDataDue = false;
  /**
   * A raised window is not yet known to have reached the peer: every packet
   * with data and room left repeats MAX_DATA until one sent after the raise
   * that carried it is acknowledged. Resending
   * it only once its packet is declared lost let a copy of the next message
   * (the forum's login reply) overtake it: the peer read the reply, still
   * held to the small window, for one more round trip.
   */
  private raiseUnacked = false;

  constructor(
    /** Our receive window, bytes (`raiseReceiveWindow` may grow it). */
    private receiveWindow: number,
    peerWindow: number,
  ) {
    this.peerLimit = peerWindow;
    this.peerWindowBytes = peerWindow;
    this.advertisedLimit = receiveWindow;
  }

  /** The peer's window (before the handshake completes, our own stands in for it); a message takes `creditOf` its length of it. */
  get peerWindow(): number {
    return this.peerWindowBytes;
  }

  /** The handshake told us the peer's window. */
  setPeerWindow(window: number): void {
    this.peerLimit = window;
    this.peerWindowBytes = window;
  }

  /** Whether the peer has room for the stream up to `streamEnd` (counted in `creditOf` each message). */
  allows(streamEnd: number): boolean {
    return streamEnd <= this.peerLimit;
  }

  /**
   * The peer raised its limit (MAX_DATA). `startedStreamEnd` is the stream
   * offset past every message we have begun to send: the peer cannot have
   * read more, so its window is at least `limit − startedStreamEnd`, and a
   * limit beyond our estimate of its window plus that says the window grew
   * (`raiseReceiveWindow` at the peer: a server that allows large requests
   * only after login). For a window that never changed this reads no more
   * than the window, so nothing changes.
   */
  onMaxData(limit: number, startedStreamEnd: number): void {
    if (limit > this.peerLimit) this.peerLimit = limit;
    if (limit - startedStreamEnd > this.peerWindowBytes) this.peerWindowBytes = limit - startedStreamEnd;
  }

  /** Our receive window. */
  get window(): number {
    return this.receiveWindow;
  }

  /**
   * Grows our receive window to `window` bytes (never shrinks it: credit
   * announced cannot be taken back). The new limit is announced at once in
   * MAX_DATA, from which the peer also learns that it may send larger messages.
   * Returns whether it grew.
   */
  raiseReceiveWindow(window: number): boolean {
    if (window <= this.receiveWindow) return false;
    this.receiveWindow = window;
    this.advertisedLimit = this.consumed + window;
    this.maxDataDue = true;
    this.raiseUnacked = true;
    return true;
  }

  /** The application read a message that took `bytes` of the window (`creditOf` its length). */
  onRead(bytes: number): void {
    this.consumed += bytes;
    const limit = this.consumed + this.receiveWindow;
    if (limit - this.advertisedLimit >= this.receiveWindow / 4) {
      this.advertisedLimit = limit;
      this.maxDataDue = true;
    }
  }

  /** Whether a MAX_DATA frame is owed (a raise not yet acknowledged only rides on packets sent anyway). */
  get due(): boolean {
    return this.maxDataDue;
  }

  /** A packet sent after the raise that carried MAX_DATA was acknowledged: the peer knows of it. */
  onMaxDataAcked(): void {
    this.raiseUnacked = false;
  }

  /**
   * Repeats the raised limit (see `raiseUnacked`) if it is not yet known to
   * have arrived and fits in what room is left: written after a packet's
   * data, so it never takes the room of a chunk cut to fill the packet, and
   * never makes a packet on its own. Returns whether it wrote it.
   */
  repeatRaiseIfRoom(w: PacketWriter): boolean {
    if (!this.raiseUnacked || w.room() < 1 + varintSize(this.advertisedLimit)) return false;
    writeMaxData(w, this.advertisedLimit);
    return true;
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
