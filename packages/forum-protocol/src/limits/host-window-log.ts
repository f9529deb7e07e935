/**
 * A sliding-window limit per client host that also counts the host's coarser
 * IPv6 prefixes (`hostLevelsOf`): a /56 may have 4 times a host's events and
 * a /48 16 times, so one customer's delegation (256 or 65,536 /64s) does not
 * get that many hosts' budgets, while a household's or a small site's few
 * /64s each keep the full one.
 */
import type { HostLevel } from './host-of.js';
import { SlidingWindowLog } from './sliding-window-log.js';

/** `SlidingWindowLog` over every level of a host; see the file's comment. */
export class HostWindowLog {
  // One log per multiple (1, 4, 16), as a log has one limit; keys of different levels never collide.
  private readonly logs = new Map<number, SlidingWindowLog>();

  /** `max`: a host's limit within `windowMs`; `maxTracked`: keys tracked per level. */
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly maxTracked: number,
  ) {}

  /** Milliseconds until a host of `levels` may act again (the longest wait of any level); 0 if now. */
  blockedFor(levels: readonly HostLevel[], now: number): number {
    return Math.max(0, ...levels.map((l) => this.log(l.multiple).blockedFor(l.key, now)));
  }

  /** Records a counted event at `now` at every level. */
  record(levels: readonly HostLevel[], now: number): void {
    for (const l of levels) this.log(l.multiple).record(l.key, now);
  }

  /** Marks an attempt in flight from `now` at every level; returns the function that ends it everywhere (`true`: count it). */
  begin(levels: readonly HostLevel[], now: number): (count: boolean) => void {
    const ends = levels.map((l) => this.log(l.multiple).begin(l.key, now));
    return (count) => ends.forEach((end) => end(count));
  }

  /** Hosts and prefixes tracked. */
  get size(): number {
    let n = 0;
    for (const log of this.logs.values()) n += log.size;
    return n;
  }

  private log(multiple: number): SlidingWindowLog {
    let log = this.logs.get(multiple);
    if (log === undefined) this.logs.set(multiple, (log = new SlidingWindowLog(this.max * multiple, this.windowMs, this.maxTracked)));
    return log;
  }
}
