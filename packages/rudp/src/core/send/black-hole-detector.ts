/**
 * Black-hole detection of path MTU discovery (RFC 8899 §4.4), after quinn's
 * `BlackHoleDetector`: a path that stops carrying the datagram size in use
 * while smaller datagrams still get through. The evidence is bursts of lost
 * packets:
 *
 * - A burst is a run of losses with no packet acknowledged between them.
 *   Packet numbers skipped by ACK-only packets and probes, which loss
 *   detection does not track, do not split it: one queue overflow is one
 *   burst however the numbers fall.
 * - A burst is suspicious while every packet in it was larger than the base
 *   size and nothing sent after it, at least as large as its smallest
 *   packet, has been acknowledged. A later acknowledged packet of that size
 *   proves the size passes: the usual verdict on a path that reorders (a
 *   packet declared lost because later ones were acknowledged) and ordinary
 *   random loss of mid-size packets are never suspicious.
 * - More than `BLACK_HOLE_BURSTS` suspicious bursts, with a base-size packet
 *   acknowledged since the last full-size one was, is a black hole.
 *
 * A connection makes one only once its datagram size has grown past the
 * base: most never do (chat traffic never fills a base-size packet), and
 * they keep none of this state.
 */
import { emptyArray, pushOnto } from '../shared-empty.js';

/** Suspicious loss bursts beyond which the path is taken for a black hole (quinn's threshold). */
export const BLACK_HOLE_BURSTS = 3;

/** The black-hole evidence of one connection while its datagrams are larger than the base size. */
export class BlackHoleDetector {
  /** Newest packet number acknowledged (-1: none). */
  private newestAcked = -1;
  /**
   * Lowest packet number acknowledged above the burst under way (`Infinity`: none known): one
   * below the next loss means a packet between them got through, so that loss starts a new burst.
   */
  private ackedAfterBurst = Number.POSITIVE_INFINITY;
  /** Newest packet number acknowledged that was larger than the base, and its size. */
  private newestLarge = -1;
  private newestLargeSize = 0;
  /** Newest packet number of a full-size packet acknowledged (see `onAcked`). */
  private newestFull = -1;
  /** Newest packet number of the burst under way (-1: none), and its smallest size (0: not suspicious). */
  private burstEnd = -1;
  private burstSmallest = 0;
  /** Finished suspicious bursts not yet disproved, as pairs: newest packet number, smallest size. */
  private suspicious: number[] = emptyArray();
  /** A base-size packet was acknowledged since a full-size one was. */
  private smallAcked = false;

  constructor(
    /** The base size: a packet no larger always passes. */
    private readonly base: number,
    /** Sizes within this many bytes of the current size count as full-size. */
    private readonly fullSlack: number,
  ) {}

  /**
   * Data packet `pn` of `size` bytes was acknowledged, while data packets are
   * `current` bytes. Full-size means within `fullSlack` of `current`: a full
   * packet falls a few bytes short when its chunk is cut for the largest
   * offset header its message can need.
   */
  onAcked(pn: number, size: number, current: number): void {
    if (pn > this.newestAcked) this.newestAcked = pn;
    if (this.burstEnd >= 0 && pn > this.burstEnd && pn < this.ackedAfterBurst) this.ackedAfterBurst = pn;
    if (size <= this.base) {
      this.smallAcked = true;
      return;
    }
    if (pn > this.newestLarge) {
      this.newestLarge = pn;
      this.newestLargeSize = size;
    }
    const full = size > current - this.fullSlack;
    if (full && pn > this.newestFull) {
      this.newestFull = pn;
      this.smallAcked = false;
    }
    // A packet sent after a burst, and at least as large as all of it, got through: no black hole
    // there. A full-size packet proves the current size, every data packet's size.
    const proves = full ? current : size;
    if (this.burstEnd >= 0 && this.burstEnd < pn && this.burstSmallest <= proves) this.burstSmallest = 0;
    if (this.suspicious.length > 0) this.suspicious = this.disprove(pn, proves);
  }

  /** Data packet `pn` of `size` bytes was declared lost. */
  onLost(pn: number, size: number): void {
    const suspect = this.suspect(pn, size);
    if (this.burstEnd < 0 || this.ackedAfterBurst < pn) {
      this.finishBurst();
      this.burstEnd = pn;
      this.burstSmallest = suspect ? size : 0;
      // Loss is declared once later packets are acknowledged: which of them lie between this loss
      // and the next is not known, so the newest stands in (one burst too few at worst, never a split too many).
      this.ackedAfterBurst = this.newestAcked > pn ? this.newestAcked : Number.POSITIVE_INFINITY;
      return;
    }
    if (pn > this.burstEnd) this.burstEnd = pn;
    if (this.burstSmallest > 0) this.burstSmallest = suspect ? Math.min(this.burstSmallest, size) : 0;
  }

  /** An MTU probe of the current size was acknowledged: the size passes, whatever was lost before. */
  onProbeAcked(): void {
    this.suspicious = emptyArray();
    this.burstSmallest = 0;
  }

  /** Whether the evidence now says black hole: the burst under way counts if it is suspicious. */
  detected(): boolean {
    return this.smallAcked && this.suspicious.length / 2 + (this.burstSmallest > 0 ? 1 : 0) > BLACK_HOLE_BURSTS;
  }

  /** Whether a lost packet speaks of the MTU: larger than the base, and nothing sent after it of its size acknowledged yet. */
  private suspect(pn: number, size: number): boolean {
    return size > this.base && this.newestFull < pn && !(this.newestLarge > pn && this.newestLargeSize >= size);
  }

  private finishBurst(): void {
    if (this.burstEnd >= 0 && this.burstSmallest > 0) {
      this.suspicious = pushOnto(pushOnto(this.suspicious, this.burstEnd), this.burstSmallest);
      // Only the most recent count: one more than the threshold is all `detected` needs.
      if (this.suspicious.length > 2 * (BLACK_HOLE_BURSTS + 1)) this.suspicious.splice(0, 2);
    }
    this.burstEnd = -1;
    this.burstSmallest = 0;
  }

  /** The suspicious bursts left standing by acknowledged packet `pn`, which proves `size` bytes pass. */
  private disprove(pn: number, size: number): number[] {
    let kept: number[] = emptyArray();
    for (let i = 0; i < this.suspicious.length; i += 2) {
      const end = this.suspicious[i] as number;
      const smallest = this.suspicious[i + 1] as number;
      if (end < pn && smallest <= size) continue;
      kept = pushOnto(pushOnto(kept, end), smallest);
    }
    return kept;
  }
}
