/**
 * Round-trip time estimation as in RFC 9002 §5: smoothed RTT and its mean
 * deviation (RFC 6298 weights), the minimum ever seen, and the peer's
 * reported ack delay subtracted where that keeps the sample above min_rtt.
 */

/** Initial RTT before any sample (RFC 9002 recommends 333 ms; we favour interactive links). */
export const INITIAL_RTT_MS = 250;

/** RTT state of one connection. */
export class RttEstimator {
  /** Smoothed RTT. */
  srtt = INITIAL_RTT_MS;
  /** RTT variation. */
  rttvar = INITIAL_RTT_MS / 2;
  /**
   * Smallest RTT sample (`undefined`: none yet, as on a connection that has only received: an
   * `Infinity` would keep a boxed 16-byte number in it, the field holding fractional times).
   */
  private smallest: number | undefined;
  /** Most recent RTT sample. */
  latest = INITIAL_RTT_MS;
  /** Whether any sample was taken. */
  hasSample = false;

  /** Smallest RTT sample (`Infinity` before the first). */
  get minRtt(): number {
    return this.smallest ?? Number.POSITIVE_INFINITY;
  }

  /** Feeds one sample: `sampleMs` from send to ack, `ackDelayMs` as the peer reported it. */
  update(sampleMs: number, ackDelayMs: number): void {
    this.latest = sampleMs;
    this.smallest = Math.min(this.minRtt, sampleMs);
    const adjusted = sampleMs - ackDelayMs >= this.minRtt ? sampleMs - ackDelayMs : sampleMs;
    if (!this.hasSample) {
      this.hasSample = true;
      this.srtt = adjusted;
      this.rttvar = adjusted / 2;
      return;
    }
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - adjusted);
    this.srtt = 0.875 * this.srtt + 0.125 * adjusted;
  }

  /**
   * A first estimate from outside the ACK loop (the handshake): used until
   * the first real sample, which replaces it rather than being averaged in.
   */
  seed(sampleMs: number): void {
    if (this.hasSample) return;
    this.srtt = sampleMs;
    this.rttvar = sampleMs / 2;
    this.latest = sampleMs;
  }

  /** Back to the initial values, before any sample: the client moved to another host, a new path (RFC 9000 §9.4). */
  reset(): void {
    this.srtt = INITIAL_RTT_MS;
    this.rttvar = INITIAL_RTT_MS / 2;
    this.smallest = undefined;
    this.latest = INITIAL_RTT_MS;
    this.hasSample = false;
  }

  /** The probe timeout before backoff: srtt + max(4·rttvar, granularity) + the peer's max ack delay. */
  pto(maxAckDelayMs: number, granularityMs = 1): number {
    return this.srtt + Math.max(4 * this.rttvar, granularityMs) + maxAckDelayMs;
  }
}
