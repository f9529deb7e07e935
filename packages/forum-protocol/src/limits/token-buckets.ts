/**
 * Token buckets by key that may go into debt: each key earns `perSecond`
 * tokens a second up to `burst`, and a take may leave it below zero, to be
 * earned back before it has any again. The server paces requests with them
 * (one token a request) and the data directory charges writes (a byte a
 * token, see write-budget.ts). Bounded: past `maxTracked` keys the one taken
 * from longest ago is forgotten, and starts full again (by then it has
 * earned most of its debt back). Pure state with the clock passed in.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { level: number; at: number }>();

  constructor(
    /** Tokens a second each key earns back. */
    readonly perSecond: number,
    /** Most tokens a key saves up; a new key starts with this many. */
    readonly burst: number,
    /** Most keys tracked. */
    private readonly maxTracked = 10_000,
  ) {
    if (!Number.isFinite(perSecond) || perSecond <= 0 || !Number.isFinite(burst) || burst <= 0) {
      throw new RangeError(`token buckets: a rate and a burst above zero (got ${String(perSecond)}, ${String(burst)})`);
    }
  }

  /** Tokens `key` holds at `now` (ms; negative: its debt). */
  level(key: string, now: number): number {
    const b = this.buckets.get(key);
    return b === undefined ? this.burst : Math.min(this.burst, b.level + (Math.max(0, now - b.at) * this.perSecond) / 1000);
  }

  /** Milliseconds until `key` holds `tokens` again (0: it does). */
  waitFor(key: string, tokens: number, now: number): number {
    const short = tokens - this.level(key, now);
    return short <= 0 ? 0 : Math.ceil((short * 1000) / this.perSecond);
  }

  /** Takes `tokens` from `key` at `now`, into debt if need be. */
  take(key: string, tokens: number, now: number): void {
    const level = this.level(key, now) - tokens;
    const at = Math.max(now, this.buckets.get(key)?.at ?? now);
    // Most recently taken from last, so the first is the one to forget.
    this.buckets.delete(key);
    this.buckets.set(key, { level, at });
    if (this.buckets.size > this.maxTracked) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
  }
}
