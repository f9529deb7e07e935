/**
 * Received-packet tracking and ACK generation (RFC 9000 §13.2): which packet
 * numbers arrived, when an ACK is due (at once on a gap, every
 * `ackEveryPackets` ack-eliciting packets, also within one batch of received
 * datagrams, or after a quiet spell we did not answer; else within `maxAckDelayMs`),
 * and the ACK frame itself: selective ranges, newest first, pruned below
 * what the peer already knows we acknowledged (ack-of-ack) but for late
 * arrivals, with a PING now and then from a connection that only receives so
 * that it learns what the peer knows too (RFC 9000 §13.2.4).
 */
import { type PnRange, ackFrameSize, ackRangesThatFit, writeAck } from '../../wire/ack-frame.js';
import { type PacketWriter, type PnLength, expandPacketNumber } from '../../wire/packet.js';
import { RangeSet } from './range-set.js';

/** Largest forward jump in packet numbers accepted from the peer. */
export const MAX_PN_JUMP = 1 << 14;

/**
 * Ranges an ACK-only sender lets its ACK frames carry before it asks the peer
 * to acknowledge one (RFC 9000 §13.2.4): past this, the gaps it repeats are old
 * news (a loss the peer already handled, or a packet number it skipped on
 * purpose, §21.4) and cost bytes in every ACK until the 32-range cap.
 */
export const RANGES_BEFORE_ACK_OF_ACK = 3;
/** ACK-only packets between two such requests: the answer takes a round trip, and one is enough. */
export const ACK_ONLY_PER_ACK_OF_ACK = 16;

/**
 * Most ACKs one batch of received packets gets, the first and its copies (see `batchAcksOwed`): a batch
 * of 16 or more gets 8, all of which 50 % loss takes once in 256 batches.
 */
export const MAX_ACKS_PER_BATCH = 8;

/** No packet number: late-arrival fields' sentinel, a Smi so the fields stay unboxed. */
const NO_PN = -1;

/** The settings ACK generation reads. */
export interface AckConfig {
  /** ACK at once after this many ack-eliciting packets. */
  readonly ackEveryPackets: number;
  /** Longest we hold back an ACK hoping to piggyback it on data, ms. */
  readonly maxAckDelayMs: number;
}

/** What one connection received and owes an acknowledgement for. */
export class AckTracker {
  private readonly received = new RangeSet();
  /**
   * When an ACK must leave (`undefined`: none owed, as at idle; an `Infinity` would keep a boxed
   * 16-byte number in every connection, the field holding fractional times).
   */
  private ackDue: number | undefined;
  private ackElicitingUnacked = 0;
  /**
   * Largest packet number received that was ack-eliciting (-1: none yet). This and the other packet
   * numbers are declared bare and set in the constructor: a field V8 first sees as a small integer
   * (`= -1`) becomes a 16-byte box in every connection once one peer's numbers pass 2^31.
   */
  private largestAckEliciting: number;
  /**
   * When the largest packet number arrived (0: none yet): a fractional time, so declared bare and set in
   * the constructor, not `= 0` (as a small-integer field it would become a box in every connection that
   * never received a packet once any connection did: test/unit/connection-time-boxing.test.ts).
   */
  private largestReceivedTime: number;
  /** Largest packet number of ours that an ACK the peer acknowledged covered: older ranges need not be repeated. */
  private ackFloor: number;
  /** When the last ack-eliciting packet arrived (`undefined`: none yet). */
  private lastAckElicitingAt: number | undefined;
  /** When we last sent an ack-eliciting packet (`undefined`: never, not -Infinity, which would be boxed). */
  private lastSentAt: number | undefined;
  /**
   * The lowest packet number that arrived out of order (`Infinity`: none)
   * since the peer last acknowledged an ACK frame that covered it: a late
   * packet the peer may have declared lost, whose arrival it needs to hear
   * of to know the loss was spurious (and widen its reordering window, and
   * undo), even once the floor has risen past it. Kept in every frame until
   * then, as any range is: one report, reordered behind a later frame that
   * lacks it, let the peer resend it and cut its window in the meantime.
   * `NO_PN` (-1), not `Infinity`, for none: a field that ever holds a
   * non-Smi is a boxed 16-byte HeapNumber in every connection.
   */
  private lateLowest: number;
  /** Largest number of the first frame that carried every late arrival (`NO_PN`: none written since the last). */
  private lateReportedBy: number;
  /** Ranges the last ACK frame carried. */
  private lastWrittenRanges = 0;
  /** ACK-only packets sent since we last asked for an ack-of-ack. */
  private ackOnlySinceRequest = 0;
  /**
   * More ACKs owed at once for the packets the last ACK covered: one per `ackEveryPackets` of them,
   * as a receiver handed one datagram at a time would have sent (`write`).
   */
  private batchAcksOwed = 0;

  constructor(private readonly config: AckConfig) {
    this.largestAckEliciting = -1;
    this.largestReceivedTime = 0;
    this.ackFloor = -1;
    this.lateLowest = NO_PN;
    this.lateReportedBy = NO_PN;
  }

  /** Largest packet number received (-1: none). */
  get largest(): number {
    return this.received.largest();
  }

  /** Whether any packet was received. */
  get any(): boolean {
    return this.received.size > 0;
  }

  /** The full packet number of a truncated one, nearest the largest received (RFC 9000 A.3). */
  expand(truncatedPn: number, pnBytes: PnLength): number {
    return expandPacketNumber(this.received.largest(), truncatedPn, pnBytes);
  }

  /**
   * Whether `pn` jumps implausibly far ahead: no honest peer does (it is
   * bounded by what it can have in flight), and a forged or corrupted-yet-
   * valid number would otherwise sit at the top of every ACK we send.
   */
  tooFarAhead(pn: number): boolean {
    return this.received.size > 0 && pn > this.received.largest() + MAX_PN_JUMP;
  }

  /** Records `pn`; false if it was received before (a duplicate). */
  record(pn: number): boolean {
    const largest = this.received.largest();
    if (!this.received.insert(pn)) return false;
    if (pn < largest) {
      if (this.lateLowest === NO_PN || pn < this.lateLowest) this.lateLowest = pn;
      this.lateReportedBy = NO_PN;
    }
    return true;
  }

  /** A duplicate arrived: our ACK may have been lost, so ack again soon if it asked for one. */
  onDuplicate(now: number, ackEliciting: boolean): void {
    if (ackEliciting) this.ackDue = Math.min(this.deadline(), now);
  }

  /**
   * A new packet was handled. `previousLargest` is the largest number before
   * it; `carriesRepair` whether it carried a REPAIR frame.
   */
  onPacket(now: number, pn: number, previousLargest: number, ackEliciting: boolean, carriesRepair: boolean): void {
    if (pn > previousLargest) this.largestReceivedTime = now;
    if (!ackEliciting) return;
    if (pn > this.largestAckEliciting) this.largestAckEliciting = pn;
    this.ackElicitingUnacked++;
    const previous = this.lastAckElicitingAt;
    this.lastAckElicitingAt = now;
    // A gap (loss or reordering) is news the sender needs at once to recover quickly, unless this
    // packet carries a repair: then the peer is sending small messages the next packets rebuild, and
    // the ACK can ride on data. (A bulk chunk fills its packet and has no repair beside it.)
    const inOrder = pn === previousLargest + 1;
    const gap = !inOrder && !carriesRepair;
    if (gap || this.ackElicitingUnacked >= this.config.ackEveryPackets || (inOrder && this.quickAck(now, previous))) this.ackDue = now;
    else this.ackDue = Math.min(this.deadline(), now + this.config.maxAckDelayMs);
  }

  /** We sent an ack-eliciting packet at `now` (an answer the next ACK may ride on). */
  onAckElicitingSent(now: number): void {
    this.lastSentAt = now;
    this.ackOnlySinceRequest = 0;
  }

  /**
   * Whether holding this packet's ACK back would gain nothing, judged by the
   * recent past (as Linux TCP leaves delayed ACKs outside its "pingpong"
   * mode): the previous ack-eliciting packet came more than `maxAckDelayMs`
   * earlier, so no second packet is likely to share the ACK, and we sent
   * nothing after it, so no answer is likely to carry it. A sparse sender
   * (a message every few seconds, a keep-alive) then gets its ACK at once:
   * the same one datagram, sent while the receiver is awake anyway instead
   * of after a timer wake-up per message. The first packet is left to the
   * delay (a reply often follows a connection's first request), and so is
   * one after a gap (see `onPacket`: its repair may rebuild what is missing
   * before the sender needs to hear of it).
   */
  private quickAck(now: number, previous: number | undefined): boolean {
    return previous !== undefined && now - previous > this.config.maxAckDelayMs && (this.lastSentAt ?? Number.NEGATIVE_INFINITY) < previous;
  }

  /** When an ACK is owed (`Infinity`: none). */
  deadline(): number {
    return this.ackDue ?? Number.POSITIVE_INFINITY;
  }

  /** Whether an ACK must go out at `now`. */
  isDue(now: number): boolean {
    return (this.batchAcksOwed > 0 || this.deadline() <= now) && this.received.size > 0;
  }

  /**
   * Whether the peer may lack our ACK of an ack-eliciting packet. Once it has
   * them all, what is left are its ACK-only packets, which it does not track:
   * repeating ACK state on every data packet would then be bytes for nothing.
   */
  peerLacksAck(): boolean {
    return this.received.size > 0 && this.largestAckEliciting > this.ackFloor;
  }

  /**
   * Called for each packet we send with an ACK frame and nothing that asks
   * for an acknowledgement: whether it should carry a PING. A peer only ever
   * acknowledges ack-eliciting packets, so a connection that only receives
   * never learns which of its ranges the peer has (`onAckAcknowledged`), and
   * without this every gap it saw would stay in its ACKs. Asked when the
   * frame has grown past `RANGES_BEFORE_ACK_OF_ACK` ranges, at most once per
   * `ACK_ONLY_PER_ACK_OF_ACK` ACK-only packets: the peer's ACK of the PING
   * raises the floor, and the next frames are one range again.
   */
  wantsAckOfAck(): boolean {
    this.ackOnlySinceRequest++;
    if (this.lastWrittenRanges < RANGES_BEFORE_ACK_OF_ACK || this.ackOnlySinceRequest < ACK_ONLY_PER_ACK_OF_ACK) return false;
    this.ackOnlySinceRequest = 0;
    return true;
  }

  /** The peer acknowledged a packet of ours whose ACK frame covered up to `ackLargest`. */
  onAckAcknowledged(ackLargest: number): void {
    if (ackLargest > this.ackFloor) this.ackFloor = ackLargest;
    // Strictly above: only a frame with a larger largest was surely written after the first that carried them all.
    if (this.lateReportedBy !== NO_PN && ackLargest > this.lateReportedBy) {
      this.lateLowest = NO_PN;
      this.lateReportedBy = NO_PN;
    }
  }

  /** Bytes of the ACK frame `write` would make at `now` with its newest range alone (0: nothing received): the least an ACK takes. */
  oneRangeBytes(now: number): number {
    const ranges = this.received.list();
    if (ranges.length === 0) return 0;
    return ackFrameSize(ranges, Math.max(0, (now - this.largestReceivedTime) * 1000), 1);
  }

  /**
   * Writes an ACK frame of at most `room` bytes (dropping the oldest ranges
   * to fit) and clears what was owed. Returns the largest number it covers,
   * or -1 if even one range does not fit.
   */
  write(now: number, w: PacketWriter, room: number): number {
    // The newest ranges down to the first the peer already knows we have (always at least one), and
    // down to any late arrival below that, written straight from the received set: a count, not a copy.
    const ranges = this.received.list();
    let count = Math.min(1, ranges.length);
    while (count < ranges.length && ((ranges[count] as PnRange).hi > this.ackFloor || (this.lateLowest !== NO_PN && (ranges[count] as PnRange).hi >= this.lateLowest))) count++;
    const delay = Math.max(0, (now - this.largestReceivedTime) * 1000);
    count = ackRangesThatFit(ranges, delay, count, room);
    if (count === 0) return -1;
    writeAck(w, ranges, delay, count);
    this.lastWrittenRanges = count;
    // A frame cut short by its room (an ACK in front of data) may not reach the late packets; one that
    // holds every range we remember does, even if the oldest late one was since forgotten.
    if (this.lateReportedBy === NO_PN && (count === ranges.length || this.lateLowest === NO_PN || (ranges[count - 1] as PnRange).lo <= this.lateLowest)) {
      this.lateReportedBy = (ranges[0] as PnRange).hi;
    }
    // A receiver that reads a burst in one batch (recvmmsg, GRO) writes its ACK once, after the batch,
    // for packets a receiver handed them one at a time would have acknowledged every `ackEveryPackets`:
    // one ACK for a whole flight, and when it is lost the sender, its window full, waits for its probe
    // timer (3-10x slower on real sockets at 50 % ACK loss: attack/README-21-sim-vs-real.md). So the
    // ACKs it would have sent still go, as copies of this one (the newest state, so none is stale).
    if (this.batchAcksOwed > 0) this.batchAcksOwed--;
    else this.batchAcksOwed = Math.min(MAX_ACKS_PER_BATCH, Math.floor(this.ackElicitingUnacked / this.config.ackEveryPackets)) - 1;
    if (this.batchAcksOwed < 0) this.batchAcksOwed = 0;
    this.ackDue = undefined;
    this.ackElicitingUnacked = 0;
    return (ranges[0] as PnRange).hi;
  }
}
