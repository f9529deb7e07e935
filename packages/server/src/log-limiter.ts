/**
 * Bounds the log lines a client host can cause by misbehaving (malformed
 * requests, floods that get it cut off): none of them is a line of the spec,
 * and each costs the client a datagram or a connection, so without a bound
 * one host wrote a line per request, as fast as the request pacer let it
 * (100 a second by default, every second it kept on). Per host and kind of
 * line, a token bucket lets a burst through, then a few a minute; the rest
 * are counted and said in one summary line per key when {@link LogLimiter.flush}
 * runs (the server calls it every minute and when it stops). An IPv6
 * client's /56 and /48 have buckets of their own at 4 and 16 times
 * (`hostLevelsOf`, as every per-host limit counts them): by its /64 alone,
 * one customer's /48 was 65,536 hosts of 10 lines each. Pure: the time is
 * passed in.
 */
import type { HostLevel } from 'forum-protocol';

/** How many lines of one kind a host may cause. */
export interface LogLimits {
  /** Lines written at once before suppression starts. */
  readonly burst: number;
  /** Lines a minute earned back after that. */
  readonly perMinute: number;
  /** Hosts × kinds tracked at once; past it the one used least recently is summarised and forgotten. */
  readonly maxKeys: number;
}

/** 10 at once, then 10 a minute, for 4,096 host-and-kind pairs (about 0.5 MiB at most). */
export const DEFAULT_LOG_LIMITS: LogLimits = { burst: 10, perMinute: 10, maxKeys: 4096 };

/** How often the server writes the summaries of what was suppressed. */
export const LOG_SUMMARY_INTERVAL_MS = 60_000;

/**
 * A bucket and its suppression count in one entry, in one table, rather than forum-protocol's
 * `TokenBuckets` (which the request pacer and the write budget use) beside a map of counts: that
 * class evicts its least recently taken key silently inside `take`, where this table must write
 * the evicted pair's summary first (or lose its count); it cannot forget the keys whose bucket is
 * full again, as `flush` does; and it has one rate per instance, where the levels of one address
 * earn at 1, 4 and 16 times under one bound of `maxKeys` (three instances: three bounds). Folding
 * would mean an eviction hook, iteration and per-key rates on `TokenBuckets`, and two maps kept
 * in step, for one caller. (`now` here is `performance.now()`, so the clock never steps back.)
 */
interface Entry {
  /** The level's key: the host, or an IPv6 prefix. */
  readonly host: string;
  readonly kind: string;
  /** Burst and rate of this level, as a multiple of the per-host ones. */
  readonly multiple: number;
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
  suppressed: number;
  /** When the first line of the current `suppressed` run was dropped. */
  since: number;
}

/** A per-host, per-kind limit on log lines, with summaries of what it dropped. */
export class LogLimiter {
  private readonly entries = new Map<string, Entry>();

  /** `emit` writes a line to the log. */
  constructor(
    private readonly emit: (line: string) => void,
    private readonly limits: LogLimits = DEFAULT_LOG_LIMITS,
  ) {}

  /**
   * Writes `text`, a line of `kind` caused by a client at `levels` (its host
   * and coarser IPv6 prefixes, `hostLevelsOf`), unless one of them is over
   * its limit for that kind: then it is counted against the finest such level.
   */
  line(levels: readonly HostLevel[], kind: string, text: string, now: number): void {
    let empty: Entry | undefined;
    const entries: Entry[] = [];
    for (const level of levels) {
      const e = this.entry(level, kind, now);
      this.refill(e, now);
      entries.push(e);
      if (empty === undefined && e.tokens < 1) empty = e;
    }
    if (empty === undefined) {
      for (const e of entries) e.tokens -= 1;
      this.emit(text);
      return;
    }
    if (empty.suppressed === 0) empty.since = now;
    empty.suppressed++;
  }

  /** Writes a summary for each key that dropped lines since the last flush, and forgets hosts that have gone quiet. */
  flush(now: number): void {
    for (const [key, e] of this.entries) {
      this.summarise(e, now);
      this.refill(e, now);
      if (e.tokens >= this.limits.burst * e.multiple) this.entries.delete(key);
    }
  }

  /** Host-and-kind pairs tracked (for tests of the bound). */
  get size(): number {
    return this.entries.size;
  }

  /** The entry of `level` and `kind`, made (with a full bucket) if there is none. */
  private entry(level: HostLevel, kind: string, now: number): Entry {
    const key = `${level.key}\n${kind}`;
    const known = this.entries.get(key);
    if (known !== undefined) {
      // To the back of the map's order, which eviction takes from the front: a host or prefix still
      // misbehaving is not the one forgotten (and handed a full burst) while newcomers fill the table.
      this.entries.delete(key);
      this.entries.set(key, known);
      return known;
    }
    if (this.entries.size >= this.limits.maxKeys) this.forgetOldest(now);
    const made: Entry = { host: level.key, kind, multiple: level.multiple, tokens: this.limits.burst * level.multiple, at: now, suppressed: 0, since: now };
    this.entries.set(key, made);
    return made;
  }

  private refill(e: Entry, now: number): void {
    e.tokens = Math.min(this.limits.burst * e.multiple, e.tokens + ((now - e.at) * this.limits.perMinute * e.multiple) / 60_000);
    e.at = now;
  }

  private summarise(e: Entry, now: number): void {
    if (e.suppressed === 0) return;
    const seconds = Math.max(1, Math.round((now - e.since) / 1000));
    this.emit(`Client host ${e.host}: ${e.suppressed} more "${e.kind}" line${e.suppressed === 1 ? '' : 's'} suppressed in the last ${seconds} s`);
    e.suppressed = 0;
  }

  private forgetOldest(now: number): void {
    const oldest = this.entries.entries().next().value;
    if (oldest === undefined) return;
    this.summarise(oldest[1], now);
    this.entries.delete(oldest[0]);
  }
}
