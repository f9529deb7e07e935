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
 * goes. Buckets are kept in the order they were last charged or refused
 * (a `Map` re-inserted), so both are found at its front in O(1).
 *
 * Pure: time is the `now` the endpoint is given.
 */
import type { HostLevel } from './host-key.js';

/** Most buckets kept: about 9 MiB of keys and buckets (measured: ~140 bytes each), whatever the number of hosts. */
export const MAX_HANDSHAKE_RATE_ENTRIES = 65_536;

/** Buckets looked at per charge for being full again (and so forgotten): enough to keep up, since each charge adds at most one per level. */
const SWEEP_PER_CHARGE = 4;

/** One level's bucket: tokens at `at` (ms), of a burst of `multiple` times the per-host burst. */
interface Bucket {
  tokens: number;
  at: number;
  readonly multiple: number;
}

/** Token buckets per host level; see the file's comment. */
export class HandshakeRate {
  private readonly buckets = new Map<string, Bucket>();
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
      const b = this.refilled(now, level);
      if (empty === undefined && b !== undefined && b.tokens < 1) empty = level;
    }
    if (empty === undefined) {
      for (const level of levels) {
        const b = this.buckets.get(level.key);
        if (b === undefined) this.buckets.set(level.key, { tokens: this.burst * level.multiple - 1, at: now, multiple: level.multiple });
        else b.tokens -= 1;
      }
    }
    this.sweep(now);
    return empty;
  }

  /** Buckets kept (hosts and prefixes that are not full). */
  get size(): number {
    return this.buckets.size;
  }

  /** The bucket of `level` brought up to `now` and moved to the back (most recent), or `undefined` if there is none: it is full. */
  private refilled(now: number, level: HostLevel): Bucket | undefined {
    const b = this.buckets.get(level.key);
    if (b === undefined) return undefined;
    b.tokens = Math.min(this.burst * b.multiple, b.tokens + (now - b.at) * this.perMs * b.multiple);
    b.at = now;
    // Re-inserted: the front of the map is then the bucket touched least recently.
    this.buckets.delete(level.key);
    this.buckets.set(level.key, b);
    return b;
  }

  /** Forgets buckets at the front that are full again, and the front one while over `maxEntries`. */
  private sweep(now: number): void {
    let looked = 0;
    for (const [key, b] of this.buckets) {
      const over = this.buckets.size > this.maxEntries;
      const full = b.tokens + (now - b.at) * this.perMs * b.multiple >= this.burst * b.multiple;
      // Over the cap the least recent goes even if not full: its host gets a full bucket back, but only
      // once `maxEntries` other buckets were charged since it was (see SECURITY.md).
      if (!over && !full) return;
      this.buckets.delete(key);
      if (!over && ++looked >= SWEEP_PER_CHARGE) return;
    }
  }
}
