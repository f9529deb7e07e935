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
import { TokenBuckets } from 'forum-protocol';
export class RequestPacer {
  private readonly buckets: TokenBuckets;

  constructor(
    /** Requests a second each key earns back (its burst is twice this). */
    readonly perSecond: number,
    /** Most keys tracked (see {@link TokenBuckets}). */
    maxTracked = 10_000,
  ) {
    if (!Number.isFinite(perSecond) || perSecond <= 0) throw new RangeError(`request rate must be a positive number (got ${String(perSecond)})`);
    this.buckets = new TokenBuckets(perSecond, 2 * perSecond, maxTracked);
  }

  /** Takes a turn for one request of `key` at `now` (ms); returns how many ms it must wait first (0: none). */
  reserve(key: string, now: number): number {
    this.buckets.take(key, 1, now);
    return this.buckets.waitFor(key, 0, now);
  }
}
