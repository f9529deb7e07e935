/**
 * Paces the requests of one account (or, before login, of one client host):
 * a token bucket of `perSecond` requests with a burst of twice that, where a
 * request past it waits its turn instead of being refused. Each request costs
 * the server about 0.15 ms of CPU however cheap its answer (decoding,
 * sealing, the transport's work), so three accounts sending refused EDTs as
 * fast as they could kept 81% of a core busy; paced, one key can take at most
 * `perSecond` requests' worth. A connection's requests already run one after
 * another and at most 32 wait (client-connection.ts), so a flooder that keeps
 * sending is cut off rather than queued without end.
 *
 * Pure state with the clock passed in.
 */
export class RequestPacer {
  private readonly buckets = new Map<string, { level: number; at: number }>();
  private readonly burst: number;

  constructor(
    /** Requests a second each key earns back (its burst is twice this). */
    readonly perSecond: number,
    /** Most keys tracked; past it the one used longest ago is forgotten (it starts full again). */
    private readonly maxTracked = 10_000,
  ) {
    if (!Number.isFinite(perSecond) || perSecond <= 0) throw new RangeError(`request rate must be a positive number (got ${String(perSecond)})`);
    this.burst = 2 * perSecond;
  }

  /** Takes a turn for one request of `key` at `now` (ms); returns how many ms it must wait first (0: none). */
  reserve(key: string, now: number): number {
    let b = this.buckets.get(key);
    if (b === undefined) b = { level: this.burst, at: now };
    else {
      b.level = Math.min(this.burst, b.level + (Math.max(0, now - b.at) * this.perSecond) / 1000);
      b.at = Math.max(b.at, now);
    }
    b.level -= 1;
    // Most recently used last, so the first is the one to forget.
    this.buckets.delete(key);
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxTracked) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    return b.level >= 0 ? 0 : Math.ceil((-b.level * 1000) / this.perSecond);
  }
}
