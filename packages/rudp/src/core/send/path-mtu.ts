/**
 * Datagram Packetization Layer Path MTU Discovery (RFC 8899), in the manner
 * of quinn-proto's `mtud.rs`: the connection starts at the base size (the
 * `mtu` option, 1200 by default) and, once it has data that fills a
 * base-size packet, probes larger sizes with padded PING packets. The search
 * tries the ceiling first (most paths allow it), then halves the interval
 * between the largest size acknowledged and the smallest that failed, until
 * the next step would be under `MIN_SEARCH_STEP`. A size fails after
 * `MAX_PROBES` probes of it are lost (RFC 8899 §5.1.2).
 *
 * A probe carries no data, so its loss retransmits nothing and is no
 * congestion signal: probes are kept out of loss detection and judged here.
 *
 * Black holes (RFC 8899 §4.4, after quinn's `BlackHoleDetector`): a path
 * that stops carrying large datagrams while smaller ones still get through
 * shows as bursts of lost packets (numbers in a row) that are all larger
 * than the base size and all sent after the newest full-size packet that
 * was acknowledged, with a base-size packet acknowledged after that. More
 * than `BLACK_HOLE_BURSTS` such bursts send the size back to the base, and
 * the search starts again `RAISE_INTERVAL_MS` later (PMTU_RAISE_TIMER).
 * Counting bursts by packet number, not lost packets as they are declared,
 * is what keeps reordering and queues out: a drop-tail queue's overflow is
 * one burst, and a packet declared lost because later ones were
 * acknowledged (the usual verdict on a path that reorders) was sent before
 * an acknowledged full-size packet, which proves the size passes. The
 * connection sends its probe-timeout packets at the base size while larger
 * ones are in use, so a black hole that swallows all its data still
 * produces the small acknowledged packet.
 */

import type { PnRange } from '../../wire/frame.js';

/** Most probes of one size lost before it counts as too large (RFC 8899 MAX_PROBES). */
export const MAX_PROBES = 3;
/** The search stops when the next probe would differ from the last by less than this, bytes (quinn's 20). */
export const MIN_SEARCH_STEP = 20;
/** Suspicious loss bursts (see {@link PathMtu}) beyond which the path is taken for a black hole (quinn's threshold). */
export const BLACK_HOLE_BURSTS = 3;
/** How long after a finished search or a black hole a new search starts, ms (RFC 8899's PMTU_RAISE_TIMER: 600 s). */
export const RAISE_INTERVAL_MS = 600_000;

/** Probe counters, for stats. */
export interface PathMtuStats {
  /** Datagram size data packets use now, bytes. */
  readonly datagramSize: number;
  readonly mtuProbesSent: number;
  readonly mtuProbesAcked: number;
  readonly mtuProbesLost: number;
  /** Times the size fell back to the base (a black hole). */
  readonly mtuBlackHoles: number;
}

/** The probe in flight. */
interface Probe {
  readonly pn: number;
  readonly size: number;
  readonly sentAt: number;
}

/** Path MTU discovery of one connection. */
export class PathMtu {
  /** Datagram size data packets use now. */
  current: number;
  /** Largest size the search knows to pass, and smallest known to fail (`max + 1`: none). */
  private lo: number;
  private hi: number;
  /** Size the next probe has (0: the search is over). */
  private next = 0;
  private lostAtSize = 0;
  private probe: Probe | undefined;
  /** The next search may start from this time (a search starts only when data needs it). */
  private searchAfter = 0;
  /** Suspicious loss bursts finished since a full-size packet or a probe was last acknowledged. */
  private suspiciousBursts = 0;
  /** Newest packet number of the loss burst under way (-1: none). */
  private burstEnd = -1;
  /** Whether the burst under way lost a base-size packet (then it is congestion, not the path's MTU). */
  private burstHasSmall = false;
  /** Newest packet number of a full-size packet (see `onPacketAcked`) acknowledged (-1: none). */
  private largestFullAcked = -1;
  /** A base-size packet was acknowledged since a full-size one was. */
  private smallAcked = false;
  // Counters as fields, not an object of their own: every connection has them.
  private mtuProbesSent = 0;
  private mtuProbesAcked = 0;
  private mtuProbesLost = 0;
  private mtuBlackHoles = 0;

  constructor(
    /** Base size: always safe, never probed, the fallback. */
    readonly base: number,
    /** Largest size probed. */
    private readonly max: number,
  ) {
    this.current = base;
    this.lo = base;
    this.hi = max + 1;
  }

  /** Whether discovery is on (the ceiling is above the base). */
  get enabled(): boolean {
    return this.max > this.base;
  }

  /**
   * The size of the probe to send now, if one is due: data fills packets of
   * the current size (`wantsLarger`), no probe is in flight and the search
   * has a size left to try.
   */
  probeDue(now: number, wantsLarger: boolean): number | undefined {
    if (!this.enabled || this.probe !== undefined || !wantsLarger) return undefined;
    if (this.next === 0) {
      if (now < this.searchAfter || this.current >= this.max) return undefined;
      // A new search: the ceiling first.
      this.lo = this.current;
      this.hi = this.max + 1;
      this.next = this.max;
      this.lostAtSize = 0;
    }
    return this.next;
  }

  /** Probe packet `pn` of `size` bytes left at `now`. */
  onProbeSent(now: number, pn: number, size: number): void {
    this.probe = { pn, size, sentAt: now };
    this.mtuProbesSent++;
  }

  /** An ACK frame with `ranges` arrived: the probe passed if they cover it. */
  onAck(now: number, ranges: readonly PnRange[]): void {
    const p = this.probe;
    if (p === undefined || !ranges.some((r) => r.lo <= p.pn && p.pn <= r.hi)) return;
    this.probe = undefined;
    this.mtuProbesAcked++;
    // The size passes for certain: nothing lost so far says otherwise.
    this.suspiciousBursts = 0;
    this.burstEnd = -1;
    this.lo = p.size;
    this.current = Math.max(this.current, p.size);
    this.step(now);
  }

  /**
   * The probe is lost if `now` is `lossDelayMs` past its send time and it is
   * still unacknowledged (the caller passes its probe timeout: a probe may be
   * late, never wrongly judged).
   */
  checkProbeLost(now: number, lossDelayMs: number): void {
    const p = this.probe;
    if (p === undefined || now < p.sentAt + lossDelayMs) return;
    this.probe = undefined;
    this.mtuProbesLost++;
    if (++this.lostAtSize < MAX_PROBES) return;
    this.hi = p.size;
    this.step(now);
  }

  /**
   * Data packet `pn` of `size` bytes was acknowledged at `now`. Full-size means within a search
   * step of the current size: a full packet falls a few bytes short when its chunk is cut for
   * the largest offset header its message can need.
   */
  onPacketAcked(now: number, pn: number, size: number): void {
    if (size > this.current - MIN_SEARCH_STEP && size > this.base) {
      if (pn > this.largestFullAcked) {
        this.largestFullAcked = pn;
        this.suspiciousBursts = 0;
        this.smallAcked = false;
      }
      return;
    }
    if (size > this.base) return;
    this.smallAcked = true;
    this.detectBlackHole(now);
  }

  /** Data packet `pn` of `size` bytes was declared lost at `now`. */
  onPacketLost(now: number, pn: number, size: number): void {
    if (this.current <= this.base) return;
    if (pn !== this.burstEnd + 1) {
      this.finishBurst();
      this.detectBlackHole(now);
    }
    if (size <= this.base) this.burstHasSmall = true;
    this.burstEnd = pn;
  }

  /**
   * Counts the loss burst under way if it is suspicious: only large packets, all sent after the
   * newest acknowledged full-size one (a burst's numbers rise, so its newest decides).
   */
  private finishBurst(): void {
    if (this.burstEnd >= 0 && !this.burstHasSmall && this.burstEnd > this.largestFullAcked) this.suspiciousBursts++;
    this.burstEnd = -1;
    this.burstHasSmall = false;
  }

  private detectBlackHole(now: number): void {
    if (this.suspiciousBursts <= BLACK_HOLE_BURSTS || !this.smallAcked || this.current <= this.base) return;
    // Large packets vanish while small ones get through: the path's MTU shrank. Back to the size that always passes.
    this.current = this.base;
    this.suspiciousBursts = 0;
    this.burstEnd = -1;
    this.burstHasSmall = false;
    this.smallAcked = false;
    this.mtuBlackHoles++;
    this.next = 0;
    this.probe = undefined;
    this.searchAfter = now + RAISE_INTERVAL_MS;
  }

  /** Counters for stats. */
  stats(): PathMtuStats {
    return { datagramSize: this.current, mtuProbesSent: this.mtuProbesSent, mtuProbesAcked: this.mtuProbesAcked, mtuProbesLost: this.mtuProbesLost, mtuBlackHoles: this.mtuBlackHoles };
  }

  /** After a probe's verdict: the midpoint of what is still unknown, or the end of the search. */
  private step(now: number): void {
    this.lostAtSize = 0;
    const mid = Math.floor((this.lo + this.hi - 1) / 2);
    if (Math.abs(mid - this.next) < MIN_SEARCH_STEP || mid <= this.lo) {
      this.next = 0;
      // A search that ended below the ceiling is tried again later (RFC 8899 §5.2: the path may have grown).
      this.searchAfter = this.current < this.max ? now + RAISE_INTERVAL_MS : Number.POSITIVE_INFINITY;
      return;
    }
    this.next = mid;
  }
}
