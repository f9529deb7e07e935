/**
 * The limit a connection announces to its peer (MAX_DATA), kept until the peer is known to have it, and
 * the flow-control frames owed in both directions (MAX_DATA and BLOCKED), written into packets.
 */
import { writeBlocked, writeMaxData } from '../wire/frame.js';
import type { PacketWriter } from '../wire/packet.js';
import { varintSize } from '../wire/varint.js';
import { PeerLimit } from './peer-limit.js';

/** `FlowControl.writeIfDue` wrote MAX_DATA. */
export const WROTE_MAX_DATA = 1;
/** `FlowControl.writeIfDue` wrote BLOCKED. */
export const WROTE_BLOCKED = 2;

/**
 * The limit we announce, and the MAX_DATA and BLOCKED frames owed: between the sender's `PeerLimit` and
 * the receiver's grants (`FlowControl`), one object per connection.
 */
export class AnnouncedLimit extends PeerLimit {
  /** The limit we last announced (declared bare, set in the constructor: see `PeerLimit.blockedAt`). */
  protected advertisedLimit: number;
  /** A MAX_DATA frame is owed. */
  protected maxDataDue = false;
  /**
   * A raised window is not yet known to have reached the peer: every packet
   * with data and room left repeats MAX_DATA until one sent after the raise
   * that carried it is acknowledged. Resending
   * it only once its packet is declared lost let a copy of the next message
   * (the forum's login reply) overtake it: the peer read the reply, still
   * held to the small window, for one more round trip.
   */
  protected raiseUnacked = false;

  constructor(peerWindow: number, peerLimit: number) {
    super(peerWindow, peerLimit);
    // The handshake's limit: `FlowControl`'s constructor sets it once it knows the first grant.
    this.advertisedLimit = 0;
  }

  /** The limit we announced last (before anything was read, the limit the handshake announces). */
  get limit(): number {
    return this.advertisedLimit;
  }

  /** Whether a MAX_DATA or BLOCKED frame is owed (a raise not yet acknowledged only rides on packets sent anyway). */
  get due(): boolean {
    return this.maxDataDue || this.blockedDue;
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

  /** A packet that carried MAX_DATA was lost: announce the limit again (the latest). */
  onMaxDataLost(): void {
    this.maxDataDue = true;
  }

  /**
   * Writes the owed MAX_DATA and BLOCKED frames that fit; returns which it wrote (`WROTE_MAX_DATA`,
   * `WROTE_BLOCKED`, 0: none), so the packet's loss owes again only what it carried. A packet with
   * only BLOCKED was counted as carrying MAX_DATA: its loss sent an unchanged limit again, and its
   * ACK stopped the repeats of a raise that packet never carried.
   */
  writeIfDue(w: PacketWriter): number {
    let wrote = 0;
    if (this.maxDataDue && w.room() >= 1 + varintSize(this.advertisedLimit)) {
      writeMaxData(w, this.advertisedLimit);
      this.maxDataDue = false;
      wrote |= WROTE_MAX_DATA;
    }
    if (this.blockedDue && w.room() >= 1 + varintSize(this.blockedAt)) {
      writeBlocked(w, this.blockedAt);
      this.blockedDue = false;
      wrote |= WROTE_BLOCKED;
    }
    return wrote;
  }
}
