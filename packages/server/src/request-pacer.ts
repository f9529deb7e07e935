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

/**
 * Reply bytes that cost a key one more turn: a request's own turn covers a
 * reply up to this size, and a full thread's RDT (4 MiB of JSON) costs 64
 * more, so a key reading large replies in a loop gets 6.4 MB/s of them at
 * 100 turns a second (three accounts took 40 MB/s, 60% of a core).
 */
export const REPLY_BYTES_PER_TURN = 64 * 1024;

/** Turns for requests by key: the account's, or the client host's before login. */
export class RequestPacer {
  private readonly buckets: TokenBuckets;

  constructor(
    /** Requests a second each key earns back (its burst is twice this). */
    readonly perSecond: number,
    /** Most keys tracked (see {@link TokenBuckets}). */
    maxTracked = 10_000,
  ) {
    // TokenBuckets refuses a rate that is not above zero (RangeError).
    this.buckets = new TokenBuckets(perSecond, 2 * perSecond, maxTracked);
  }

  /** Charges `key` for a reply of `bytes` sent at `now`: a turn for every {@link REPLY_BYTES_PER_TURN} past the first. */
  replied(key: string, bytes: number, now: number): void {
    const turns = Math.floor(bytes / REPLY_BYTES_PER_TURN);
    if (turns > 0) this.buckets.take(key, turns, now);
  }

  /** Takes a turn for one request of `key` at `now` (ms); returns how many ms it must wait first (0: none). */
  reserve(key: string, now: number): number {
    this.buckets.take(key, 1, now);
    return this.buckets.waitFor(key, 0, now);
  }
}
