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
 * A logged-in request is also paced by its client host (and an IPv6 host's
 * /56 and /48), at {@link HOST_RATE_MULTIPLE} times the account's rate (and
 * 4 and 16 times that for the prefixes, as every per-host limit counts them):
 * paced by account alone, one address with ten accounts was served ten
 * accounts' worth (attack round 10: 1,108 MSGs a second, the server past a
 * core, from one address).
 *
 * Pure state with the clock passed in.
 */
import { type HostLevel, TokenBuckets } from 'forum-protocol';

/**
 * Reply bytes that cost a key one more turn: a request's own turn covers a
 * reply up to this size, and a full thread's RDT (4 MiB of JSON) costs 64
 * more, so a key reading large replies in a loop gets 6.4 MB/s of them at
 * 100 turns a second (three accounts took 40 MB/s, 60% of a core).
 */
export const REPLY_BYTES_PER_TURN = 64 * 1024;

/**
 * How many accounts' pace the logged-in requests of one client host share:
 * four scripts at full pace, or hundreds of people behind one NAT address
 * (a person sends a request every few seconds), while one address holding
 * many accounts (a host may create 10 every 10 minutes, and keep them) gets
 * no more than four accounts' worth of the server.
 */
export const HOST_RATE_MULTIPLE = 4;

/**
 * Turns a request that writes the data directory costs (MSG, EDT, DLT, CRT,
 * RMV, UPD), its own included. A turn is priced by the replies at about
 * 0.7 ms of CPU (a full thread's RDT, 40–48 ms, takes 65; 25–33 ms since
 * its encoded lines are cached, SECURITY.md), and a MSG costs
 * about 2.7 ms (attack round 10: its file work in libuv's pool and the
 * kernel, the lock reads and syncs), where a read of a small thread costs
 * 0.2–0.4 ms: counted as one turn, an account's MSGs at its pace kept 30–46 %
 * of a core busy.
 */
export const WRITE_TURNS = 4;

/** Turns for requests by key: the account's, or the client host's before login; a logged-in request's host levels too. */
export class RequestPacer {
  private readonly buckets: TokenBuckets;
  /** Buckets of the logged-in requests of client hosts and IPv6 prefixes, by the level's multiple (1, 4, 16): each multiple its rate. */
  private readonly hostBuckets = new Map<number, TokenBuckets>();

  constructor(
    /** Requests a second each key earns back (its burst is twice this). */
    readonly perSecond: number,
    /** Most keys tracked (see {@link TokenBuckets}). */
    private readonly maxTracked = 10_000,
  ) {
    // TokenBuckets refuses a rate that is not above zero (RangeError).
    this.buckets = new TokenBuckets(perSecond, 2 * perSecond, maxTracked);
  }

  private hostBucketsOf(multiple: number): TokenBuckets {
    let b = this.hostBuckets.get(multiple);
    if (b === undefined) {
      const rate = this.perSecond * HOST_RATE_MULTIPLE * multiple;
      b = new TokenBuckets(rate, 2 * rate, this.maxTracked);
      this.hostBuckets.set(multiple, b);
    }
    return b;
  }

  /**
   * Charges `key` (and `hosts`, as `reserve` was given them) for a reply of `bytes` sent at `now`: a turn for
   * every {@link REPLY_BYTES_PER_TURN} past the first.
   */
  replied(key: string, bytes: number, now: number, hosts: readonly HostLevel[] = []): void {
    this.charge(key, Math.floor(bytes / REPLY_BYTES_PER_TURN), now, hosts);
  }

  /** Charges `key` (and `hosts`) `turns` more at `now`, for work past a request's own turn (a write: {@link WRITE_TURNS}). */
  charge(key: string, turns: number, now: number, hosts: readonly HostLevel[] = []): void {
    if (turns <= 0) return;
    this.buckets.take(key, turns, now);
    for (const h of hosts) this.hostBucketsOf(h.multiple).take(h.key, turns, now);
  }

  /** Takes a turn for one request of `key` at `now` (ms); returns how many ms it must wait first (0: none). */
  reserve(key: string, now: number): number {
    this.buckets.take(key, 1, now);
    return this.buckets.waitFor(key, 0, now);
  }

  /**
   * Takes a turn of each of `hosts` (a logged-in request's client host and IPv6 prefixes, `hostLevelsOf`) at `now`,
   * once its account's turn has come (`reserve`, and its wait): a request waiting for its account holds no turn of
   * its host meanwhile. Returns how many ms it must wait first (0: none): until each of them is out of debt.
   */
  reserveHosts(hosts: readonly HostLevel[], now: number): number {
    let wait = 0;
    for (const h of hosts) {
      const b = this.hostBucketsOf(h.multiple);
      b.take(h.key, 1, now);
      wait = Math.max(wait, b.waitFor(h.key, 0, now));
    }
    return wait;
  }
}
