/**
 * The counting under the forum's rate limits (`rate-limit.ts`): per key, the
 * times of recent counted events and the attempts in flight, in a window.
 */

interface Entry {
  /** Times of counted events, oldest first. */
  readonly times: number[];
  /** Reserved, unsettled attempts, each dated by its reservation (moved to `now` by a step of the clock back). */
  readonly inflight: Slot[];
}

/** An attempt in flight: its own object, so that its date can move and it is still found to settle. */
interface Slot {
  at: number;
}

const insertSorted = (times: number[], t: number): void => {
  let i = times.length;
  while (i > 0 && (times[i - 1] as number) > t) i--;
  times.splice(i, 0, t);
};

/**
 * A bounded map from key to its recent counted events plus its attempts in
 * flight. A key is blocked once counted + in flight reach `max` within the
 * window; the wait is until the event that made the count reach `max` leaves
 * the window (an attempt in flight is dated by its reservation).
 */
export class SlidingWindowLog {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly maxTracked: number,
  ) {}

  /** Milliseconds until `key` may act again; 0 if now. */
  blockedFor(key: string, now: number): number {
    const e = this.recent(key, now);
    if (e === undefined) return 0;
    const all = [...e.times, ...e.inflight.map((s) => s.at)].sort((a, b) => a - b);
    if (all.length < this.max) return 0;
    return Math.max(1, (all[all.length - this.max] as number) + this.windowMs - now);
  }

  /** Records a counted event at `now`. */
  record(key: string, now: number): void {
    const e = this.touch(key, now);
    insertSorted(e.times, now);
    if (e.times.length > this.max) e.times.splice(0, e.times.length - this.max);
  }

  /** Marks an attempt in flight from `now`; returns the function that ends it (`true`: count it). */
  begin(key: string, now: number): (count: boolean) => void {
    const e = this.touch(key, now);
    const slot: Slot = { at: now };
    e.inflight.push(slot);
    let done = false;
    return (count) => {
      if (done) return;
      done = true;
      const cur = this.entries.get(key);
      if (cur !== e) {
        // The entry was forgotten meanwhile (success or eviction): a failure still counts.
        if (count) this.record(key, slot.at);
        return;
      }
      const i = e.inflight.indexOf(slot);
      if (i >= 0) e.inflight.splice(i, 1);
      if (count) {
        // Its date as the clock's steps left it: counted at its reservation, or at the step back after it.
        insertSorted(e.times, slot.at);
        if (e.times.length > this.max) e.times.splice(0, e.times.length - this.max);
      } else if (e.times.length === 0 && e.inflight.length === 0) {
        this.entries.delete(key);
      }
    };
  }

  /** Forgets the counted events of `key`; attempts in flight still count. */
  forget(key: string): void {
    const e = this.entries.get(key);
    if (e === undefined) return;
    e.times.length = 0;
    if (e.inflight.length === 0) this.entries.delete(key);
  }

  /** Keys tracked. */
  get size(): number {
    return this.entries.size;
  }

  private touch(key: string, now: number): Entry {
    const e = this.recent(key, now) ?? { times: [], inflight: [] };
    // Re-insert so Map order is least recently used first.
    this.entries.delete(key);
    this.entries.set(key, e);
    if (this.entries.size > this.maxTracked) this.evict(key, now);
    return e;
  }

  private recent(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    // The server's clock is the wall clock (a database's servers share the windows), which NTP, a resumed VM or an
    // operator may set back. An event dated after `now` is taken as happening now: it holds its key for one window
    // from here, not for the step as well (attack round 17: an hour back, and an account its attacker had locked
    // for a minute with 5 wrong passwords was refused its right one for 61 minutes). The tail only: times are sorted.
    for (let j = e.times.length - 1; j >= 0 && (e.times[j] as number) > now; j--) e.times[j] = now;
    // An attempt in flight across the step likewise, and when it settles as counted it keeps that date: dated by
    // its reservation, it was moved to whatever reading came after its settle, a window later than the step.
    for (const s of e.inflight) if (s.at > now) s.at = now;
    let i = 0;
    while (i < e.times.length && (e.times[i] as number) <= now - this.windowMs) i++;
    if (i > 0) e.times.splice(0, i);
    if (e.times.length === 0 && e.inflight.length === 0) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private evict(keep: string, now: number): void {
    // Never the entry being recorded, nor one with attempts in flight: forgetting it would free their slots early.
    const spare = (key: string, e: Entry): boolean => key === keep || e.inflight.length > 0;
    for (const [key, e] of this.entries) {
      if (this.entries.size <= this.maxTracked) return;
      const last = e.times[e.times.length - 1];
      if (!spare(key, e) && (last === undefined || last <= now - this.windowMs)) this.entries.delete(key);
    }
    // Still full of live entries: forget the least recently used.
    for (const [key, e] of this.entries) {
      if (this.entries.size <= this.maxTracked) return;
      if (!spare(key, e)) this.entries.delete(key);
    }
  }
}
