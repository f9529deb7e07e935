/**
 * The limit a connection announces to its peer (MAX_DATA), kept until the peer is known to have it, and
 * the flow-control frames owed in both directions (MAX_DATA, with WINDOW after a raised window, and
 * BLOCKED), written into packets.
 */
import { windowFrameSize, writeBlocked, writeMaxData, writeWindow } from '../wire/frame.js';
import type { PacketWriter } from '../wire/packet.js';
import { varintSize } from '../wire/varint.js';
import { PeerLimit } from './peer-limit.js';

/** `FlowControl.writeIfDue` wrote MAX_DATA (and WINDOW beside it while a raised window is not known to have arrived). */
export const WROTE_MAX_DATA = 1;
/** `FlowControl.writeIfDue` wrote BLOCKED. */
export const WROTE_BLOCKED = 2;

/** `AnnouncedLimit.raiseUnacked`: every raise is known to have reached the peer (or there was none). */
const RAISED_NONE = 0;
/** `AnnouncedLimit.raiseUnacked`: a raised limit is not yet known to have reached the peer. */
const RAISED_LIMIT = 1;
/** `AnnouncedLimit.raiseUnacked`: a raised window (and any raised limit) is not yet known to have reached the peer. */
const RAISED_WINDOW = 2;

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
   * What of a raise is not yet known to have reached the peer (`RAISED_NONE`, `RAISED_LIMIT`,
   * `RAISED_WINDOW`): every packet with data and room left repeats MAX_DATA, and WINDOW with it after
   * a raised window, until one sent after the raise that carried them is acknowledged. Resending them
   * only once their packet is declared lost let a copy of the next message (the forum's login reply)
   * overtake them: the peer read the reply, still held to the small window, for one more round trip.
   * One small integer for both kinds, not a second flag: a server holds 10,000 idle connections.
   */
  protected raiseUnacked: number;
  /** Our receive window, bytes (`raiseReceiveWindow` may grow it): the most we grant, announced in WINDOW once raised. */
  protected receiveWindow: number;

  constructor(receiveWindow: number, peerWindow: number, peerLimit: number) {
    super(peerWindow, peerLimit);
    // The handshake's limit: `FlowControl`'s constructor sets it once it knows the first grant.
    this.advertisedLimit = 0;
    this.raiseUnacked = RAISED_NONE;
    this.receiveWindow = receiveWindow;
  }

  /** The limit we announced last (before anything was read, the limit the handshake announces). */
  get limit(): number {
    return this.advertisedLimit;
  }

  /** Whether a MAX_DATA or BLOCKED frame is owed (a raise not yet acknowledged only rides on packets sent anyway). */
  get due(): boolean {
    return this.maxDataDue || this.blockedDue;
  }

  /** A packet sent after the raise that carried MAX_DATA (and WINDOW, if the window grew) was acknowledged: the peer knows of it. */
  onMaxDataAcked(): void {
    this.raiseUnacked = RAISED_NONE;
  }

  /** The limit grew at the application's call (`raiseReceiveWindow`): repeated until the peer is known to have it. */
  protected noteLimitRaised(): void {
    if (this.raiseUnacked === RAISED_NONE) this.raiseUnacked = RAISED_LIMIT;
  }

  /**
   * The window grew (`raiseReceiveWindow`): announced at once in WINDOW, beside a MAX_DATA (unchanged if
   * the endpoint's budget had no credit for the raise), and repeated until the peer is known to have it,
   * so the peer's `send` takes messages up to the new window even while the credit for them waits.
   */
  protected announceWindow(): void {
    this.raiseUnacked = RAISED_WINDOW;
    this.maxDataDue = true;
  }

  /** Bytes the MAX_DATA frame takes, with the WINDOW frame written beside it while a raised window is unacknowledged. */
  private announcementSize(): number {
    const size = 1 + varintSize(this.advertisedLimit);
    return this.raiseUnacked >= RAISED_WINDOW ? size + windowFrameSize(this.receiveWindow) : size;
  }

  /**
   * Writes MAX_DATA, and WINDOW with it while a raised window is unacknowledged: always together, so a
   * packet that carried MAX_DATA after the raise carried the window too, and its ACK (`onMaxDataAcked`)
   * or loss (`onMaxDataLost`) stands for both; `SentPacket` needs no flag more.
   */
  private writeAnnouncement(w: PacketWriter): void {
    writeMaxData(w, this.advertisedLimit);
    if (this.raiseUnacked >= RAISED_WINDOW) writeWindow(w, this.receiveWindow);
  }

  /**
   * Repeats the raised limit and window (see `raiseUnacked`) if they are not
   * yet known to have arrived and fit in what room is left: written after a
   * packet's data, so they never take the room of a chunk cut to fill the
   * packet, and never make a packet on their own. Returns whether it wrote them.
   */
  repeatRaiseIfRoom(w: PacketWriter): boolean {
    if (this.raiseUnacked === RAISED_NONE || w.room() < this.announcementSize()) return false;
    this.writeAnnouncement(w);
    return true;
  }

  /** A packet that carried MAX_DATA was lost: announce the limit again (the latest), and the window while its raise is unacknowledged. */
  onMaxDataLost(): void {
    this.maxDataDue = true;
  }

  /**
   * The probe timer fired while packets that carried MAX_DATA or BLOCKED are unacknowledged: the probes
   * carry them again (RFC 9002 §6.2.4: a probe repeats what is in flight). A probe of PING alone left a lost
   * BLOCKED owed until an ACK showed its packet lost, and where ACKs are lost too nothing moved: the server
   * of a 4 MiB message (past the 1 MiB first grant) over 30 % loss each way sent its BLOCKED once, then
   * 12 probes of PING alone, and began after 2 s (`sim-vs-real.ts sim both30`, seed 10; 0.55 s the others).
   */
  onProbeTimeout(maxDataInFlight: boolean, blockedInFlight: boolean): void {
    if (maxDataInFlight) this.maxDataDue = true;
    if (blockedInFlight) this.onBlockedLost();
  }

  /**
   * Writes the owed MAX_DATA and BLOCKED frames that fit; returns which it wrote (`WROTE_MAX_DATA`,
   * `WROTE_BLOCKED`, 0: none), so the packet's loss owes again only what it carried. A packet with
   * only BLOCKED was counted as carrying MAX_DATA: its loss sent an unchanged limit again, and its
   * ACK stopped the repeats of a raise that packet never carried.
   */
  writeIfDue(w: PacketWriter): number {
    let wrote = 0;
    if (this.maxDataDue && w.room() >= this.announcementSize()) {
      this.writeAnnouncement(w);
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
