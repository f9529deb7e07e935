/**
 * Loss detection as in RFC 9002 §6, with RACK's adaptive reordering window
 * (RFC 8985 §6.2, and Linux's adaptive `tp->reordering`): the record of
 * ack-eliciting packets in flight, what an ACK frame acknowledges, the
 * packet- and time-threshold rules that declare a packet lost, and the
 * probe timeout with exponential backoff.
 *
 * Reordering is not loss. Packets declared lost are remembered for a few
 * probe timeouts; if one is acknowledged after all, the loss was spurious:
 * the time threshold widens to cover the round trip that packet took, the
 * packet threshold to twice the distance it was overtaken by (so the time
 * rule decides from then on), the packet's contents count as delivered, and
 * the congestion controller and the coordinator undo their response. With no
 * spurious loss for `REORDER_DECAY_RTTS` round trips the packet rule is
 * restored and the time window halves, so a path that stops reordering gets
 * fast loss detection back.
 *
 * It feeds RTT samples to the estimator and acknowledgements and losses to
 * the congestion controller; what a packet carried is the coordinator's
 * business (`PacketFate`).
 *
 * Beside it: what a sent packet records (`sent-packet.ts`), the numbers
 * left out and what an ACK may cover (`packet-number-skips.ts`), the record
 * of packets declared lost (`lost-record.ts`).
 */
import { type AckSample, type CongestionController, ENDED_CONTROLLER } from '../congestion/controller.js';
import type { AckFrame, PnRange } from '../../wire/ack-frame.js';
import type { RttEstimator } from './rtt.js';
import { SentQueue } from './sent-queue.js';
import type { OutgoingPacket, PacketFate, SentPacket } from './sent-packet.js';
import { clipRanges, coversSkip, nextSkip, rememberSkip, skipsBetween } from './packet-number-skips.js';
import { forgetLostBefore, LOST_RECORD_PTOS, lowerBound, rememberLost, type LostPacket } from './lost-record.js';
import { emptyArray } from '../shared-empty.js';
import type { Writable } from '../writable.js';

/**
 * The sample handed to the congestion controller, rewritten for every ACK
 * (an object per ACK was some 120 bytes of garbage): a controller keeps its
 * values, never the object (`CongestionController.onAck`).
 */
const SAMPLE: Writable<AckSample> = {
  ackedBytes: 0,
  bytesInFlight: 0,
  deliveryRate: undefined,
  appLimited: false,
  priorDelivered: 0,
  delivered: 0,
  minRttMs: 0,
  srttMs: 0,
  latestRttMs: undefined,
  ackedRttSumMs: 0,
  ackedRttCount: 0,
};

/** Largest packet threshold reordering may widen to (Linux's default `tcp_max_reordering`). */
const MAX_PACKET_THRESHOLD = 300;
/** Margin over the slowest round trip seen for a reordered packet. */
const REORDER_MARGIN = 5 / 4;
/** Round trips without a spurious loss before the reordering window narrows. */
const REORDER_DECAY_RTTS = 32;
/** Share of the time window kept at each narrowing step. */
const REORDER_DECAY_KEEP = 0.5;
/** Spread of the round trip (in `rttvar`s) a packet no ACK has passed yet is given before it counts as lost. */
const SILENT_LOSS_RTTVARS = 2;
/**
 * Packets one ACK declares lost beyond which they are a run (an outage): a repair is one symbol, a
 * lost message's resend waits for at most two, and a chat's repair covers the messages of about two
 * round trips (ten at 20 ms over 70 ms). At 2, resends of the bench's burst3 runs went before the
 * repairs that would have rebuilt them (24 seeds: p99 +1.4 ms, max +23 ms); at 10 no seed changes.
 */
const LOST_RUN = 10;
/** Packets `detectLosses` declares lost in one call, kept until the call tells their fate (no array per ACK). */
const LOST_SCRATCH: SentPacket[] = [];

/** The settings loss detection reads. */
export interface LossDetectionConfig {
  /** A packet is lost once one this many numbers newer is acknowledged. */
  readonly packetThreshold: number;
  /** …or once it is older than this multiple of the RTT when a newer one is acknowledged. */
  readonly timeThreshold: number;
  /** The peer's longest ACK delay, ms (part of the probe timeout while fewer than `ackEveryPackets` are in flight). */
  readonly maxAckDelayMs: number;
  /** Ack-eliciting packets after which the peer acknowledges at once (its ACK policy, assumed ours). */
  readonly ackEveryPackets: number;
  /** Cap of the backed-off probe timeout, ms. */
  readonly maxPtoMs: number;
  /** The idle timeout, ms: the probe timer never waits more than `PROBES_PER_IDLE_TIMEOUT`th of it past `maxPtoMs`. */
  readonly idleTimeoutMs: number;
}

/**
 * Probe timeouts an idle timeout holds at least, once the probe timeout is longer than `maxPtoMs`: a
 * round-trip estimate swollen by a bottleneck queue (8 s at 64 kbit/s behind 64 KiB) put a probe only
 * every 7 to 19 s once the queue had drained, two to four in the 30 s the idle timer gives, and with 30 %
 * burst loss all of them or their ACKs were lost: honest peers were closed ("no packet" or "no
 * acknowledgement"; test/measure/overcommit-pace.ts slow, seeds 1-30: 6 of 30 at 128 kbit/s, 6 at
 * 64 kbit/s). A probe at least every tenth of it (3 s by default): 1 and 0 of 30, the remaining one a
 * direction that lost every datagram for 29 s. QUIC keeps probing as slowly and stretches the idle
 * timeout to three probe timeouts instead (RFC 9000 §10.1), which saved one run of the twelve here.
 */
export const PROBES_PER_IDLE_TIMEOUT = 10;

/**
 * Fewest ack-eliciting packets in flight for which the probe timeout leaves the peer's ACK delay out:
 * a flight of one always waits for it (RFC 8985 §7.2), whatever our own `ackEveryPackets`.
 */
export const MIN_FLIGHT_OWING_ACK = 2;

/** Sent packets, loss detection and the probe timeout of one connection. */
export class LossDetection {
  /**
   * Largest packet number the peer acknowledged (-1: none). This and the other packet numbers here
   * are declared bare and set in the constructor: a `= -1` / `= 0` field becomes a 16-byte box in every
   * connection once one connection's numbers pass 2^31.
   */
  largestAcked: number;
  /** Bytes of ack-eliciting packets in flight. */
  bytesInFlight = 0;
  /** Probe timeouts in a row without an ACK (the backoff exponent). */
  ptoCount = 0;
  /** Ack-eliciting packets in flight, oldest first (not a Map: see `SentQueue`). */
  private readonly sent = new SentQueue<SentPacket>();
  /**
   * When the oldest packet below `largestAcked` turns lost by the time rule (`undefined`: none
   * pending, as at idle: an `Infinity` there would keep a boxed 16-byte number in every connection).
   */
  private lossTime: number | undefined;
  // These three send times are `undefined` until the first packet and read as 0 then (through
  // getters): as fields holding fractional times only, each would be a boxed 16-byte number in
  // every connection, one that has only received included.
  private ackElicitingSentAt: number | undefined;
  /**
   * Bytes acknowledged so far (the delivery-rate samples' count). Declared bare and set in the
   * constructor: a `= 0` field becomes a 16-byte box in every connection once one delivered 2 GiB.
   */
  private delivered: number;
  private deliveredAt: number | undefined;
  private firstSentAt: number | undefined;
  /** The packet threshold in force: the configured one, widened by reordering seen. */
  packetThreshold: number;
  /** Smallest time threshold reordering seen asks for, ms (0: none). */
  reorderDelayMs: number;
  /** Packets declared lost and later acknowledged. */
  spuriousLosses = 0;
  /** Recently declared-lost packets, in packet-number order. */
  private lostRecord: LostPacket[] = emptyArray();
  /** When reordering last widened the window, or it last narrowed. */
  private reorderChangedAt: number;
  /** The next packet number the sender leaves out (0: none; numbering starts at 1). See `SKIP_MIN_GAP`. */
  skipAt: number;
  /** The first packet sent on the current path (`useController`): older ones' losses are not the controller's. */
  private pathStartPn: number;
  /** The last `SKIPS_REMEMBERED` numbers left out, oldest first, `NO_SKIP` in slots not filled yet (shared empty until the first). */
  private skipped: number[] = emptyArray();

  constructor(
    private readonly config: LossDetectionConfig,
    private readonly rtt: RttEstimator,
    private cc: CongestionController,
    private readonly fate: PacketFate,
  ) {
    this.packetThreshold = config.packetThreshold;
    this.largestAcked = -1;
    this.skipAt = 0;
    this.pathStartPn = 0;
    this.delivered = 0;
    // A delay and a time (fractions once reordering is seen): set here, not as `= 0`, which V8 boxes
    // (16 bytes) in every connection once any holds a fraction.
    this.reorderDelayMs = 0;
    this.reorderChangedAt = 0;
  }

  /**
   * Reports to `cc` from now on, a new path's controller (the client moved
   * to another host, RFC 9000 §9.4: packets sent on the old path MUST NOT
   * contribute to congestion control or RTT estimation for the new path).
   * Packets sent before `firstPn` went on the old path: those still in
   * flight are declared lost at `now` (resent on the new path, as any lost
   * packet's data) without telling `cc`, so they neither fill its window nor
   * give it or the RTT an acknowledgement sample; one acknowledged later is
   * undone as any spurious loss, without widening the new path's reordering
   * window. The probe backoff and the reordering window start afresh, as on
   * a new connection (RFC 9002 A.3).
   */
  useController(cc: CongestionController, firstPn: number, now: number): void {
    this.cc = cc;
    this.packetThreshold = this.config.packetThreshold;
    this.reorderDelayMs = 0;
    this.reorderChangedAt = now;
    this.leaveAddress(firstPn, now);
  }

  /**
   * The peer proved it receives at a new port of its host (a NAT rebinding):
   * packets sent before `firstPn` went to its old port, which the NAT no
   * longer maps. Those still in flight are declared lost at `now` and resent,
   * without telling the controller (the network path is the same one, and
   * a mapping gone is no congestion), and the probe backoff the dead port
   * grew starts afresh. Kept in flight, they filled the window until a probe
   * timeout, backed off while the client was unreachable, found the client
   * at a port it had already left again: a download whose client's port
   * changed every second stalled for good. One acknowledged later (the old
   * mapping still lived) is undone as an old path's, widening nothing.
   */
  leaveAddress(firstPn: number, now: number): void {
    this.pathStartPn = firstPn;
    this.ptoCount = 0;
    const slots = this.sent.walkSlots();
    for (let i = this.sent.walkStart(); i < slots.length; i++) {
      const p = slots[i];
      if (p === undefined) continue;
      if (p.pn >= firstPn) break;
      // Nothing counted for `cc`: every one of them is below `pathStartPn` now.
      this.takeLost(now, p);
      LOST_SCRATCH.push(p);
    }
    // A run: the repairs that followed them went on the old path too.
    this.tellLostScratch(now, true);
  }

  /** Records an ack-eliciting packet that left at `now`. */
  onPacketSent(now: number, p: OutgoingPacket): void {
    if (this.bytesInFlight === 0) {
      this.firstSentAt = now;
      this.deliveredAt = now;
    }
    this.sent.set(p.pn, {
      pn: p.pn,
      timeSent: p.timeSent,
      size: p.size,
      chunks: p.chunks,
      retransmission: p.retransmission,
      ackLargest: p.ackLargest,
      carriedMaxData: p.carriedMaxData,
      carriedBlocked: p.carriedBlocked,
      delivered: this.delivered,
      deliveredTime: this.deliveredTime,
      firstSentTime: this.firstSentTime,
      appLimited: p.appLimited,
      leftQueueEmpty: p.leftQueueEmpty,
      pingOnly: p.pingOnly,
    });
    this.bytesInFlight += p.size;
    this.ackElicitingSentAt = now;
    // Last: a controller may end the connection from here (destroy(): `clear`), which must find the packet
    // recorded to forget it; nothing after this call may record it again.
    this.cc.onPacketSent(now, p.size);
  }

  /**
   * Arms packet-number skipping: the first number left out is drawn after
   * `after` from `random` (a uniform 32-bit integer from the endpoint's
   * randomness). Until called, nothing is skipped (unit tests of this class).
   */
  scheduleSkip(after: number, random: number): void {
    this.skipAt = nextSkip(after, random);
  }

  /**
   * The sender left out packet number `pn` (it was `skipAt`): remember it
   * and draw the next one from `random`. It is never sent, so it is never in
   * flight, acknowledged or lost.
   */
  onSkipped(pn: number, random: number): void {
    this.skipped = rememberSkip(this.skipped, pn);
    this.scheduleSkip(pn, random);
  }

  /**
   * What is wrong with an ACK frame whose ranges are `ranges` (highest
   * first), if anything: it covers a number we skipped, or (when `strict`)
   * one above `largestSent`, the newest number we used. Either says the peer
   * acknowledges packets it never received. `strict` is for encrypted
   * connections: only the peer can produce an ACK there, and it can only have
   * received what we sent. In plaintext, anyone who learnt the connection id
   * can inject a DATA packet with a number ahead of ours, which the peer then
   * acknowledges in good faith: `onAck` clips such ranges away instead, and
   * only the skipped numbers (which an injected packet would have to hit by
   * chance) count. Such a forger could send a CLOSE as well, so neither check
   * hands it anything new.
   */
  ackViolation(ranges: readonly PnRange[], largestSent: number, strict: boolean): string | undefined {
    const top = ranges[0];
    if (top === undefined) return undefined;
    if (strict && top.hi > largestSent) return 'acknowledged a packet never sent';
    return coversSkip(this.skipped, ranges) ? 'acknowledged a skipped packet number' : undefined;
  }

  /**
   * Processes an ACK frame; `largestSent` is the newest packet number we
   * used. Returns whether it acknowledged anything new. (`ackViolation` is
   * asked first: this neither checks nor closes.)
   */
  onAck(now: number, f: AckFrame, largestSent: number, fresh = false): boolean {
    // In plaintext, ranges above anything we sent come from a forged packet the peer accepted (it
    // cannot tell): clip them away and keep the honest ranges below, so one forgery cannot stall the
    // connection. (On an encrypted connection `ackViolation` closed the connection before this.)
    const ranges = clipRanges(f.ranges, largestSent);
    const top = ranges[0];
    if (!top) return false;
    const acked = this.processAck(now, f, ranges, top.hi);
    if (fresh && !this.ended) this.detectSilentLosses(now);
    return acked;
  }

  private processAck(now: number, f: AckFrame, ranges: readonly PnRange[], largest: number): boolean {
    let newest: SentPacket | undefined;
    let ackedBytes = 0;
    const ackDelay = Math.min(f.delayMicros / 1000, this.config.maxAckDelayMs);
    // Every packet acknowledged is an RTT sample for the controller, not only the largest: when each
    // datagram's delay is drawn on its own, the largest acknowledged is most often one that took a
    // short path (it overtook the others), and a mean of those alone sits far below the path's.
    let ackedCount = 0;
    let ackedRttSumMs = 0;
    let ri = ranges.length - 1;
    const slots = this.sent.walkSlots();
    for (let i = this.sent.walkStart(); i < slots.length; i++) {
      const p = slots[i];
      if (p === undefined) continue;
      const pn = p.pn;
      if (pn > largest) break;
      while (ri >= 0 && (ranges[ri] as PnRange).hi < pn) ri--;
      if (ri < 0) break;
      const r = ranges[ri] as PnRange;
      if (pn < r.lo) continue;
      this.sent.delete(pn);
      this.bytesInFlight -= p.size;
      ackedBytes += p.size;
      const sample = now - p.timeSent;
      ackedRttSumMs += sample - ackDelay >= this.rtt.minRtt ? sample - ackDelay : sample;
      ackedCount++;
      this.delivered += p.size;
      newest = p;
      this.fate.acked(p);
    }
    if (this.lostRecord.length > 0) this.detectSpuriousLosses(now, ranges);
    if (!newest) return false;
    // Its controller may have ended the connection from `onSpuriousLoss` (an application's calling destroy(),
    // which `clear`s): what the ACK tells past that is neither recorded nor told.
    if (this.ended) return true;
    this.deliveredAt = now;
    let latestRttMs: number | undefined;
    if (largest > this.largestAcked) {
      this.largestAcked = largest;
      if (newest.pn === largest) {
        const sample = now - newest.timeSent;
        this.rtt.update(sample, ackDelay);
        // The controller wants the path's delay, not how long the peer sat on its ACK.
        latestRttMs = sample - ackDelay >= this.rtt.minRtt ? sample - ackDelay : sample;
      }
    }
    this.firstSentAt = newest.timeSent;
    const interval = Math.max(newest.timeSent - newest.firstSentTime, now - newest.deliveredTime);
    this.ptoCount = 0;
    this.narrowReorderWindow(now);
    this.detectLosses(now);
    // …or from `onLoss`: then it is not told of an ACK whose flight the close forgot.
    if (this.ended) return true;
    const s = SAMPLE;
    s.ackedBytes = ackedBytes;
    s.bytesInFlight = this.bytesInFlight;
    s.deliveryRate = interval > 0 ? (this.delivered - newest.delivered) / interval : undefined;
    s.appLimited = newest.appLimited;
    s.priorDelivered = newest.delivered;
    s.delivered = this.delivered;
    s.minRttMs = this.rtt.minRtt;
    s.srttMs = this.rtt.srtt;
    s.latestRttMs = latestRttMs;
    s.ackedRttSumMs = ackedRttSumMs;
    s.ackedRttCount = ackedCount;
    this.cc.onAck(now, s);
    return true;
  }

  /**
   * Declares lost every packet below the largest acknowledged that is
   * `packetThreshold` numbers older, or older than `timeThreshold` RTTs, and
   * arms the loss timer for the next one to cross the time rule.
   */
  detectLosses(now: number): void {
    const lossDelay = Math.max(this.config.timeThreshold * Math.max(this.rtt.srtt, this.rtt.latest), this.reorderDelayMs, 1);
    let lossTime = Number.POSITIVE_INFINITY;
    let lostBytes = 0;
    const slots = this.sent.walkSlots();
    for (let i = this.sent.walkStart(); i < slots.length; i++) {
      const p = slots[i];
      if (p === undefined) continue;
      const pn = p.pn;
      if (pn > this.largestAcked) break;
      if (p.timeSent <= now - lossDelay || this.packetRuleLost(pn)) {
        lostBytes += this.takeLost(now, p);
        LOST_SCRATCH.push(p);
      } else {
        lossTime = Math.min(lossTime, p.timeSent + lossDelay);
      }
    }
    this.lossTime = lossTime === Number.POSITIVE_INFINITY ? undefined : lossTime;
    // Their fates are told once the run's length is known: the resends of a run (after an outage, the
    // first ACK to come back declares all of it lost) do not wait for repairs that cannot rebuild it.
    this.tellLostScratch(now, LOST_SCRATCH.length > LOST_RUN);
    if (lostBytes > 0) this.cc.onLoss(now, lostBytes, this.bytesInFlight);
  }

  /**
   * The packet rule: `packetThreshold` packets sent after `pn` are
   * acknowledged. A skipped number between them is no packet, or a packet
   * reordered by the threshold's distance would count as lost just because
   * its neighbours straddle a skip.
   */
  private packetRuleLost(pn: number): boolean {
    const over = this.largestAcked - pn - this.packetThreshold;
    return over >= 0 && (this.skipped.length === 0 || over >= skipsBetween(this.skipped, pn, this.largestAcked));
  }

  /**
   * The time rule for packets no ACK has passed yet. A fresh ACK (in the
   * newest packet from the peer) that still lacks a packet sent longer ago
   * than a round trip and its spread says the peer had time to get it and did
   * not: it is lost, although nothing newer is acknowledged. Without this, a
   * run of lost packets (a burst, or a sender of small messages whose every
   * packet since was lost) waits until a later packet gets through and is
   * acknowledged, a round trip after the burst ends; the probe timeout never
   * fires while new data keeps leaving. Reordering widens the window as for
   * the other rules (a late packet acknowledged after all is undone). Only
   * for packets that left with nothing ready behind them (small messages): a
   * sender that fills the path builds a queue whose delay a smoothed RTT
   * learns only later (4 MiB of 1 KB messages over 5 ± 5 ms at 50 Mbit/s:
   * 1–438 spurious resends), and there the usual rules see later packets
   * acknowledged soon enough.
   */
  private detectSilentLosses(now: number): void {
    const rtt = this.rtt;
    const delay = Math.max(this.config.timeThreshold * rtt.srtt, rtt.srtt + SILENT_LOSS_RTTVARS * rtt.rttvar, this.reorderDelayMs, 1);
    let lostBytes = 0;
    const slots = this.sent.walkSlots();
    for (let i = this.sent.walkStart(); i < slots.length; i++) {
      const p = slots[i];
      if (p === undefined) continue;
      if (p.timeSent > now - delay) break;
      if (p.pn <= this.largestAcked || !p.leftQueueEmpty) continue;
      lostBytes += this.takeLost(now, p);
      this.fate.lost(now, p, true);
    }
    if (lostBytes > 0) this.cc.onLoss(now, lostBytes, this.bytesInFlight);
  }

  /**
   * Takes `p` out of flight as lost and keeps it in the record (an ACK for it
   * later undoes the loss). Returns the bytes the controller is to count: none
   * for a packet of an old path (`useController`).
   */
  private takeLost(now: number, p: SentPacket): number {
    this.sent.delete(p.pn);
    this.bytesInFlight -= p.size;
    this.remember(now, p);
    return p.pn >= this.pathStartPn ? p.size : 0;
  }

  /** Tells the fate of each packet gathered in `LOST_SCRATCH` (`run`: one of a run of losses), and empties it, also if a fate throws. */
  private tellLostScratch(now: number, run: boolean): void {
    try {
      for (let i = 0; i < LOST_SCRATCH.length; i++) this.fate.lost(now, LOST_SCRATCH[i] as SentPacket, false, run);
    } finally {
      LOST_SCRATCH.length = 0;
    }
  }

  private remember(now: number, packet: SentPacket): void {
    this.lostRecord = rememberLost(this.lostRecord, { packet, lostAt: now, largestAcked: this.largestAcked });
  }

  /** Packets declared lost that `ranges` acknowledge were only reordered: widen the window and undo. */
  private detectSpuriousLosses(now: number, ranges: readonly PnRange[]): void {
    const record = this.lostRecord;
    // Forget what is too old to be merely late.
    forgetLostBefore(record, now - LOST_RECORD_PTOS * this.rtt.pto(this.config.maxAckDelayMs));
    let spuriousBytes = 0;
    for (const r of ranges) {
      let i = lowerBound(record, r.lo);
      while (i < record.length && (record[i] as LostPacket).packet.pn <= r.hi) {
        const e = record[i] as LostPacket;
        record.splice(i, 1);
        this.spuriousLosses++;
        // An old path's packet (`useController`) says nothing of the new path: not its controller's, nor how it reorders.
        if (e.packet.pn >= this.pathStartPn) {
          spuriousBytes += e.packet.size;
          // Once the path is seen to reorder, the time rule decides (RFC 8985 §6.2: RACK stops counting
          // packets): a threshold widened to each distance seen only waits for the next, longer one.
          const overtaken = e.largestAcked - e.packet.pn - skipsBetween(this.skipped, e.packet.pn, e.largestAcked);
          this.packetThreshold = Math.min(MAX_PACKET_THRESHOLD, Math.max(this.packetThreshold, 2 * overtaken + 1));
          this.reorderDelayMs = Math.max(this.reorderDelayMs, (now - e.packet.timeSent) * REORDER_MARGIN);
          this.reorderChangedAt = now;
        }
        this.fate.spurious(e.packet);
      }
    }
    // An emptied record goes back to the shared empty array: an idle connection keeps no storage.
    if (this.lostRecord.length === 0) this.lostRecord = emptyArray();
    if (spuriousBytes > 0) this.cc.onSpuriousLoss(now, spuriousBytes);
  }

  /**
   * After `REORDER_DECAY_RTTS` round trips with no spurious loss the packet
   * rule is back, and the time window halves (per such period) towards the
   * RTT rule alone.
   */
  private narrowReorderWindow(now: number): void {
    if (this.packetThreshold === this.config.packetThreshold && this.reorderDelayMs === 0) return;
    if (now - this.reorderChangedAt < REORDER_DECAY_RTTS * this.rtt.srtt) return;
    this.packetThreshold = this.config.packetThreshold;
    this.reorderDelayMs = this.reorderDelayMs * REORDER_DECAY_KEEP < 1 ? 0 : this.reorderDelayMs * REORDER_DECAY_KEEP;
    this.reorderChangedAt = now;
  }

  /** When the time rule next declares a loss (`Infinity`: nothing pending). */
  lossDeadline(): number {
    return this.lossTime ?? Number.POSITIVE_INFINITY;
  }

  /**
   * When the probe timer fires (`Infinity` with nothing in flight): the RFC 9002 PTO (without the peer's
   * ACK delay while `ackEveryPackets` or more are in flight), doubled per expiry
   * up to `maxPtoMs` or the PTO itself if longer, but never longer than `maxPtoMs` and a tenth of the
   * idle timeout (`PROBES_PER_IDLE_TIMEOUT`), so an idle timeout always holds probes enough to tell a
   * lossy path from a dead one.
   */
  ptoDeadline(): number {
    if (this.sent.size === 0) return Number.POSITIVE_INFINITY;
    // The peer's ACK delay only while it may hold its ACK back (RFC 8985 §7.2 adds it for a flight of one
    // segment only): with `ackEveryPackets` in flight it owes an immediate ACK, so the allowance only
    // delays the probe that replaces a lost ACK or a lost tail. A receiver that reads a burst in one
    // batch (recvmmsg) ACKs it once at the end; that ACK lost, the 25 ms made every such stall ~27 ms
    // against a sub-millisecond round trip (attack/README-21-sim-vs-real.md). A probe sent early costs
    // two packets and draws an immediate ACK itself (two in a row, or a gap). Never for one packet, even
    // where we ACK every packet (`ackEveryPackets` 1): that is our receive policy, and a peer with the
    // default holds a lone packet's ACK; probes timed without it fired every srtt + 1 ms, each pair
    // drawing the held ACK that ended the backoff, so an idle connection sent two packets every 3 ms.
    const ackDelay = this.sent.size >= Math.max(MIN_FLIGHT_OWING_ACK, this.config.ackEveryPackets) ? 0 : this.config.maxAckDelayMs;
    const base = this.rtt.pto(ackDelay);
    const cap = Math.max(this.config.maxPtoMs, Math.min(base, this.config.idleTimeoutMs / PROBES_PER_IDLE_TIMEOUT));
    return this.lastAckElicitingSentAt + Math.min(base * 2 ** this.ptoCount, cap);
  }

  /** When the oldest ack-eliciting packet still in flight left (`Infinity`: none in flight). */
  oldestInFlightSentAt(): number {
    return this.sent.first()?.timeSent ?? Number.POSITIVE_INFINITY;
  }

  /**
   * When the first packet still in flight that left at or after `t` asking for more than a PING's
   * acknowledgment left (`Infinity`: none; `SentPacket.pingOnly`). Walked from the newest, so it costs
   * the packets sent since `t`.
   */
  firstSentSince(t: number): number {
    const slots = this.sent.walkSlots();
    let first = Number.POSITIVE_INFINITY;
    for (let i = slots.length - 1; i >= this.sent.walkStart(); i--) {
      const p = slots[i];
      if (p === undefined) continue;
      if (p.timeSent < t) break;
      if (!p.pingOnly) first = p.timeSent;
    }
    return first;
  }

  /** The probe timer fired: back off. */
  onPtoExpired(): void {
    this.ptoCount++;
  }

  /** When an ack-eliciting packet last left. */
  get lastAckElicitingSentAt(): number {
    return this.ackElicitingSentAt ?? 0;
  }

  /** When the delivery-rate sample in progress last saw a packet delivered (0 before the first packet). */
  private get deliveredTime(): number {
    return this.deliveredAt ?? 0;
  }

  /** When the first packet of the delivery-rate sample in progress left (0 before the first packet). */
  private get firstSentTime(): number {
    return this.firstSentAt ?? 0;
  }

  /** Whether packet `pn` is still in flight (neither acknowledged nor lost). */
  inFlight(pn: number): boolean {
    return this.sent.has(pn);
  }

  /** The packets in flight, oldest first. */
  packets(): IterableIterator<SentPacket> {
    return this.sent.values();
  }

  /**
   * Forgets everything in flight, and the controller (the connection ended): nothing is told to it from
   * now, also by a call under way when it ended the connection (see `ENDED_CONTROLLER`).
   */
  clear(): void {
    this.sent.clear();
    this.lostRecord = emptyArray();
    this.bytesInFlight = 0;
    this.lossTime = undefined;
    this.cc = ENDED_CONTROLLER;
  }

  /** Whether the connection ended (`clear`): an ACK under way stops where its controller ended it. */
  private get ended(): boolean {
    return this.cc === ENDED_CONTROLLER;
  }
}
