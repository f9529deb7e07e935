/**
 * Loss detection as in RFC 9002 §6: the record of ack-eliciting packets in
 * flight, what an ACK frame acknowledges, the packet- and time-threshold
 * rules that declare a packet lost, and the probe timeout with exponential
 * backoff. It feeds RTT samples to the estimator and acknowledgements and
 * losses to the congestion controller; what a packet carried is the
 * coordinator's business (`PacketFate`).
 */
import type { CongestionController } from '../congestion/controller.js';
import type { ChunkRef } from '../send/outgoing-message.js';
import type { AckFrame, PnRange } from '../../wire/frame.js';
import type { RttEstimator } from './rtt.js';
import { SentQueue } from './sent-queue.js';

/** An ack-eliciting packet in flight. */
export interface SentPacket {
  readonly pn: number;
  readonly timeSent: number;
  readonly size: number;
  readonly chunks: readonly ChunkRef[];
  readonly retransmission: boolean;
  /** Largest pn our ACK frame in this packet covered (-1 if none). */
  readonly ackLargest: number;
  readonly carriedMaxData: boolean;
  /** Delivery-rate sampling state when it left (the congestion controller's bandwidth samples). */
  readonly delivered: number;
  readonly deliveredTime: number;
  readonly firstSentTime: number;
  readonly appLimited: boolean;
}

/** A packet as the packet builder describes it; loss detection adds the rate-sampling fields. */
export type OutgoingPacket = Omit<SentPacket, 'delivered' | 'deliveredTime' | 'firstSentTime'>;

/** What happens to a packet's contents once its fate is known. */
export interface PacketFate {
  /** The peer acknowledged `p`. */
  acked(p: SentPacket): void;
  /** `p` was declared lost at `now`. */
  lost(now: number, p: SentPacket): void;
}

/** The settings loss detection reads. */
export interface LossDetectionConfig {
  /** A packet is lost once one this many numbers newer is acknowledged. */
  readonly packetThreshold: number;
  /** …or once it is older than this multiple of the RTT when a newer one is acknowledged. */
  readonly timeThreshold: number;
  /** The peer's longest ACK delay, ms (part of the probe timeout). */
  readonly maxAckDelayMs: number;
  /** Cap of the backed-off probe timeout, ms. */
  readonly maxPtoMs: number;
}

/** Sent packets, loss detection and the probe timeout of one connection. */
export class LossDetection {
  /** Largest packet number the peer acknowledged (-1: none). */
  largestAcked = -1;
  /** Bytes of ack-eliciting packets in flight. */
  bytesInFlight = 0;
  /** Probe timeouts in a row without an ACK (the backoff exponent). */
  ptoCount = 0;
  /** Ack-eliciting packets in flight, oldest first (not a Map: see `SentQueue`). */
  private readonly sent = new SentQueue<SentPacket>();
  /** When the oldest packet below `largestAcked` turns lost by the time rule. */
  private lossTime = Number.POSITIVE_INFINITY;
  private lastAckElicitingSent = 0;
  private delivered = 0;
  private deliveredTime = 0;
  private firstSentTime = 0;

  constructor(
    private readonly config: LossDetectionConfig,
    private readonly rtt: RttEstimator,
    private readonly cc: CongestionController,
    private readonly fate: PacketFate,
  ) {}

  /** Records an ack-eliciting packet that left at `now`. */
  onPacketSent(now: number, p: OutgoingPacket): void {
    if (this.bytesInFlight === 0) {
      this.firstSentTime = now;
      this.deliveredTime = now;
    }
    this.sent.set(p.pn, {
      pn: p.pn,
      timeSent: p.timeSent,
      size: p.size,
      chunks: p.chunks,
      retransmission: p.retransmission,
      ackLargest: p.ackLargest,
      carriedMaxData: p.carriedMaxData,
      delivered: this.delivered,
      deliveredTime: this.deliveredTime,
      firstSentTime: this.firstSentTime,
      appLimited: p.appLimited,
    });
    this.bytesInFlight += p.size;
    this.lastAckElicitingSent = now;
    this.cc.onPacketSent(now, p.size);
  }

  /**
   * Processes an ACK frame; `largestSent` is the newest packet number we
   * used. Returns whether it acknowledged anything new.
   */
  onAck(now: number, f: AckFrame, largestSent: number): boolean {
    // Ranges above anything we sent come from a forged packet the peer accepted (it cannot tell):
    // clip them away and keep the honest ranges below, so one forgery cannot stall the connection.
    const ranges = clipRanges(f.ranges, largestSent);
    const top = ranges[0];
    if (!top) return false;
    const largest = top.hi;
    let newest: SentPacket | undefined;
    let ackedBytes = 0;
    let ri = ranges.length - 1;
    for (const p of this.sent.values()) {
      const pn = p.pn;
      if (pn > largest) break;
      while (ri >= 0 && (ranges[ri] as PnRange).hi < pn) ri--;
      if (ri < 0) break;
      const r = ranges[ri] as PnRange;
      if (pn < r.lo) continue;
      this.sent.delete(pn);
      this.bytesInFlight -= p.size;
      ackedBytes += p.size;
      this.delivered += p.size;
      newest = p;
      this.fate.acked(p);
    }
    if (!newest) return false;
    this.deliveredTime = now;
    let latestRttMs: number | undefined;
    if (largest > this.largestAcked) {
      this.largestAcked = largest;
      if (newest.pn === largest) {
        const sample = now - newest.timeSent;
        const ackDelay = Math.min(f.delayMicros / 1000, this.config.maxAckDelayMs);
        this.rtt.update(sample, ackDelay);
        // The controller wants the path's delay, not how long the peer sat on its ACK.
        latestRttMs = sample - ackDelay >= this.rtt.minRtt ? sample - ackDelay : sample;
      }
    }
    this.firstSentTime = newest.timeSent;
    const interval = Math.max(newest.timeSent - newest.firstSentTime, now - newest.deliveredTime);
    this.ptoCount = 0;
    this.detectLosses(now);
    this.cc.onAck(now, {
      ackedBytes,
      bytesInFlight: this.bytesInFlight,
      deliveryRate: interval > 0 ? (this.delivered - newest.delivered) / interval : undefined,
      appLimited: newest.appLimited,
      priorDelivered: newest.delivered,
      delivered: this.delivered,
      minRttMs: this.rtt.minRtt,
      srttMs: this.rtt.srtt,
      latestRttMs,
    });
    return true;
  }

  /**
   * Declares lost every packet below the largest acknowledged that is
   * `packetThreshold` numbers older, or older than `timeThreshold` RTTs, and
   * arms the loss timer for the next one to cross the time rule.
   */
  detectLosses(now: number): void {
    const lossDelay = Math.max(this.config.timeThreshold * Math.max(this.rtt.srtt, this.rtt.latest), 1);
    this.lossTime = Number.POSITIVE_INFINITY;
    let lostBytes = 0;
    for (const p of this.sent.values()) {
      const pn = p.pn;
      if (pn > this.largestAcked) break;
      if (p.timeSent <= now - lossDelay || this.largestAcked >= pn + this.config.packetThreshold) {
        this.sent.delete(pn);
        this.bytesInFlight -= p.size;
        lostBytes += p.size;
        this.fate.lost(now, p);
      } else {
        this.lossTime = Math.min(this.lossTime, p.timeSent + lossDelay);
      }
    }
    if (lostBytes > 0) this.cc.onLoss(now, lostBytes, this.bytesInFlight);
  }

  /** When the time rule next declares a loss (`Infinity`: nothing pending). */
  lossDeadline(): number {
    return this.lossTime;
  }

  /** When the probe timer fires: the RFC 9002 PTO, doubled per expiry up to `maxPtoMs` (`Infinity` with nothing in flight). */
  ptoDeadline(): number {
    if (this.sent.size === 0) return Number.POSITIVE_INFINITY;
    const base = this.rtt.pto(this.config.maxAckDelayMs);
    return this.lastAckElicitingSent + Math.min(base * 2 ** this.ptoCount, Math.max(this.config.maxPtoMs, base));
  }

  /** The probe timer fired: back off. */
  onPtoExpired(): void {
    this.ptoCount++;
  }

  /** When an ack-eliciting packet last left. */
  get lastAckElicitingSentAt(): number {
    return this.lastAckElicitingSent;
  }

  /** Whether packet `pn` is still in flight (neither acknowledged nor lost). */
  inFlight(pn: number): boolean {
    return this.sent.has(pn);
  }

  /** The packets in flight, oldest first. */
  packets(): IterableIterator<SentPacket> {
    return this.sent.values();
  }

  /** Forgets everything in flight (the connection is closing). */
  clear(): void {
    this.sent.clear();
    this.bytesInFlight = 0;
  }
}

/** `ranges` (highest first) without packet numbers above `max`. */
export function clipRanges(ranges: readonly PnRange[], max: number): readonly PnRange[] {
  const first = ranges[0];
  if (first === undefined || first.hi <= max) return ranges;
  const out: PnRange[] = [];
  for (const r of ranges) {
    if (r.lo > max) continue;
    out.push(r.hi > max ? { lo: r.lo, hi: max } : r);
  }
  return out;
}
