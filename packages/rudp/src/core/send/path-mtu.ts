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
 * Black holes (RFC 8899 §4.4): see `black-hole-detector.ts`. A black hole
 * sends the size back to the base, and the search starts again
 * `RAISE_INTERVAL_MS` later (PMTU_RAISE_TIMER). The connection sends its
 * probe-timeout packets at the base size while larger ones are in use, so a
 * black hole that swallows all its data still produces the small
 * acknowledged packet the detector asks for.
 */

import { writePing } from '../../wire/frame.js';
import type { PnRange } from '../../wire/ack-frame.js';
import type { PacketWriter } from '../../wire/packet.js';
import { BlackHoleDetector } from './black-hole-detector.js';

/**
 * Writes a probe into `w`, opened at the probe's size: a PING padded to fill
 * the packet exactly (padding frames are zero bytes; the tag or checksum
 * follows).
 */
export function writeMtuProbe(w: PacketWriter): void {
  writePing(w);
  w.bytes(new Uint8Array(w.room()));
}

/** Most probes of one size lost before it counts as too large (RFC 8899 MAX_PROBES). */
export const MAX_PROBES = 3;
/** The search stops when the next probe would differ from the last by less than this, bytes (quinn's 20). */
export const MIN_SEARCH_STEP = 20;
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

/** Probe counters (`PathMtu.counts`). */
interface ProbeCounts {
  sent: number;
  acked: number;
  lost: number;
  blackHoles: number;
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
  /**
   * The next search may start from this time (a search starts only when data needs it); `Infinity`
   * once the largest size is reached. Declared bare (set in the constructor): a `= 0` field that
   * holds fractional times or `Infinity` is a 16-byte box in every connection.
   */
  private searchAfter: number;
  /** Black-hole evidence, kept only while the size is above the base. */
  private holes: BlackHoleDetector | undefined;
  /**
   * Counters, made at the first probe: one field, not four (32 bytes), in a connection that never
   * fills a packet and so never probes (an idle one, one of small messages).
   */
  private counts: ProbeCounts | undefined;

  constructor(
    /** Base size: always safe, never probed, the fallback. */
    readonly base: number,
    /** Largest size probed. */
    private readonly max: number,
  ) {
    this.current = base;
    this.lo = base;
    this.hi = max + 1;
    this.searchAfter = 0;
  }

  /**
   * Back to the base size with nothing known above it, on a new path (the
   * client moved to another host, RFC 9000 §9.4): the next search may start
   * as soon as data fills packets. The counters stay (they are the connection's).
   */
  reset(): void {
    this.current = this.base;
    this.lo = this.base;
    this.hi = this.max + 1;
    this.next = 0;
    this.lostAtSize = 0;
    this.probe = undefined;
    this.searchAfter = 0;
    this.holes = undefined;
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
    this.tally().sent++;
  }

  /** An ACK frame with `ranges` arrived: the probe passed if they cover it. */
  onAck(now: number, ranges: readonly PnRange[]): void {
    const p = this.probe;
    if (p === undefined || !ranges.some((r) => r.lo <= p.pn && p.pn <= r.hi)) return;
    this.probe = undefined;
    this.tally().acked++;
    this.lo = p.size;
    this.current = Math.max(this.current, p.size);
    // The size passes for certain: nothing lost so far says otherwise.
    if (this.holes === undefined) this.holes = new BlackHoleDetector(this.base, MIN_SEARCH_STEP);
    else this.holes.onProbeAcked();
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
    this.tally().lost++;
    if (++this.lostAtSize < MAX_PROBES) return;
    this.hi = p.size;
    this.step(now);
  }

  /** Data packet `pn` of `size` bytes was acknowledged at `now`. */
  onPacketAcked(now: number, pn: number, size: number): void {
    if (this.holes === undefined) return;
    this.holes.onAcked(pn, size, this.current);
    if (this.holes.detected()) this.fallBack(now);
  }

  /** Data packet `pn` of `size` bytes was declared lost at `now`. */
  onPacketLost(now: number, pn: number, size: number): void {
    if (this.holes === undefined) return;
    this.holes.onLost(pn, size);
    if (this.holes.detected()) this.fallBack(now);
  }

  /** Large packets vanish while small ones get through: the path's MTU shrank. Back to the size that always passes. */
  private fallBack(now: number): void {
    this.current = this.base;
    this.holes = undefined;
    this.tally().blackHoles++;
    this.next = 0;
    this.probe = undefined;
    this.searchAfter = now + RAISE_INTERVAL_MS;
  }

  /** Counters for stats. */
  stats(): PathMtuStats {
    const c = this.counts;
    return { datagramSize: this.current, mtuProbesSent: c?.sent ?? 0, mtuProbesAcked: c?.acked ?? 0, mtuProbesLost: c?.lost ?? 0, mtuBlackHoles: c?.blackHoles ?? 0 };
  }

  /** The counters, made at the first count. */
  private tally(): ProbeCounts {
    this.counts ??= { sent: 0, acked: 0, lost: 0, blackHoles: 0 };
    return this.counts;
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
