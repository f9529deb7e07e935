/**
 * Handshakes per client host per second: a token bucket for each level a
 * client address counts at (`hostLevels`: the host, and an IPv6 client's /56
 * and /48 at 4 and 16 times the rate and burst, as the connection limits
 * count them). A server charges a token only for an INITIAL that carries a
 * valid cookie and would otherwise cost a handshake, so a spoofed source
 * cannot spend a victim's tokens, and it checks before any key exchange.
 *
 * The table is bounded: a bucket refilled to its burst is the same as none
 * and is forgotten, and past `maxEntries` the bucket charged least recently
 * goes. Buckets are kept in a list by when they were last charged or
 * refused, so both are found at its oldest end: O(1) a charge.
 *
 * Pure: time is the `now` the endpoint is given.
 */
import type { HostLevel } from './host-key.js';

/** Most buckets kept: about 5.4 MiB of keys and buckets (measured: ~345 bytes each with IPv6 keys), whatever the number of hosts. */
export const MAX_HANDSHAKE_RATE_ENTRIES = 16_384;

/** Buckets looked at per charge for being full again (and so forgotten): enough to keep up, since each charge adds at most one per level. */
const SWEEP_PER_CHARGE = 4;

/** One level's bucket: tokens at `at` (ms), of a burst of `multiple` times the per-host burst; a link of the recency list. */
interface Bucket {
  readonly key: string;
  readonly multiple: number;
  tokens: number;
  at: number;
  older: Bucket | undefined;
  newer: Bucket | undefined;
}

/** Token buckets per host level; see the file's comment. */
export class HandshakeRate {
  private readonly buckets = new Map<string, Bucket>();
  /**
   * The ends of the list of buckets by when they were last charged or
   * refused. A list of its own rather than the map's order: a map whose
   * front is deleted over and over is walked past its holes until it is
   * rehashed (measured: 86 µs a charge at a cap of 65,536; 0.9 µs with the list).
   */
  private oldest: Bucket | undefined;
  private newest: Bucket | undefined;
  /** Tokens a level of multiple 1 gains per ms. */
  private readonly perMs: number;

  constructor(
    /** Handshakes a second a level of multiple 1 may start, sustained. */
    perSecond: number,
    /** Handshakes a level of multiple 1 may start at once. */
    private readonly burst: number,
    private readonly maxEntries = MAX_HANDSHAKE_RATE_ENTRIES,
  ) {
    this.perMs = perSecond / 1000;
  }

  /**
   * Charges one handshake at every one of `levels` at `now` and returns
   * `undefined`; or, if one of them has no token left, charges none and
   * returns the first (finest) such level.
   */
  take(now: number, levels: readonly HostLevel[]): HostLevel | undefined {
    let empty: HostLevel | undefined;
    for (const level of levels) {
      const b = this.buckets.get(level.key);
      if (b === undefined) continue;
      b.tokens = this.tokensAt(now, b);
      b.at = now;
      // The most recent now: the oldest end is then the bucket touched least recently.
      this.unlink(b);
      this.append(b);
      if (empty === undefined && b.tokens < 1) empty = level;
    }
    if (empty === undefined) {
      for (const level of levels) {
        const b = this.buckets.get(level.key);
        if (b !== undefined) b.tokens -= 1;
        else {
          const made: Bucket = { key: level.key, multiple: level.multiple, tokens: this.burst * level.multiple - 1, at: now, older: undefined, newer: undefined };
          this.buckets.set(level.key, made);
          this.append(made);
        }
      }
    }
    this.sweep(now);
    return empty;
  }

  /** Buckets kept (hosts and prefixes that are not full). */
  get size(): number {
    return this.buckets.size;
  }

  private tokensAt(now: number, b: Bucket): number {
    // A clock set back (a driver's wall clock) earns nothing, and takes nothing away either.
    return Math.min(this.burst * b.multiple, b.tokens + Math.max(0, now - b.at) * this.perMs * b.multiple);
  }

  /** Forgets the least recent buckets that are full again (a few), and the least recent one while over `maxEntries`. */
  private sweep(now: number): void {
    for (let looked = 0; this.oldest !== undefined; ) {
      const b = this.oldest;
      // Over the cap the least recent goes even if not full: its host gets a full bucket back, but only
      // once `maxEntries` other buckets were charged or refused since it was (see SECURITY.md).
      if (this.buckets.size > this.maxEntries) {
        this.forget(b);
        continue;
      }
      if (looked++ >= SWEEP_PER_CHARGE || this.tokensAt(now, b) < this.burst * b.multiple) return;
      this.forget(b);
    }
  }

  private forget(b: Bucket): void {
    this.buckets.delete(b.key);
    this.unlink(b);
  }

  private append(b: Bucket): void {
    b.older = this.newest;
    b.newer = undefined;
    if (this.newest !== undefined) this.newest.newer = b;
    else this.oldest = b;
    this.newest = b;
  }

  private unlink(b: Bucket): void {
    if (b.older !== undefined) b.older.newer = b.newer;
    else if (this.oldest === b) this.oldest = b.newer;
    if (b.newer !== undefined) b.newer.older = b.older;
    else if (this.newest === b) this.newest = b.older;
    b.older = undefined;
    b.newer = undefined;
  }
}
