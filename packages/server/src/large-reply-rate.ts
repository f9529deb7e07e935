/**
 * A server-wide rate of LST and RDT replies, shared fairly by client parties
 * (an IPv4 address, an IPv6 /48: reply-budget.ts's `partyOf`). A reply of a
 * full thread costs the main thread 7–9 ms to encode when its lines are not
 * cached and some 20 ms more to seal and send; the request pacer prices it by
 * bytes per account and per host, but nothing bounded the sum: 32 accounts on
 * 8 addresses reading distinct full threads kept the server's core 86–96 %
 * busy and an honest MSG from another address waited up to 400 ms (p99).
 *
 * A rated reply ({@link LARGE_REPLY_MIN_BYTES} or more) takes its cost from
 * one token bucket of {@link LargeReplyRate.bytesPerSecond} before it is
 * encoded: its bytes and {@link REPLY_FIXED_BYTES} more, what its CPU apart
 * from its bytes is worth in bytes (counted in bytes alone, 32 MiB/s of
 * 63 KiB replies cost nearly twice the CPU of 32 MiB/s of full threads). While
 * nobody waits and the bucket is not in debt a reply goes at once, whatever
 * its size (so a lone reader is never slowed below the full
 * rate). Otherwise replies wait, and each time the debt is paid back the
 * next one goes in fair order by party: a party's reply starts at the later
 * of its previous reply's finish and the start of the last one let go, and
 * finishes its cost later; the earliest finish goes first, so parties reading
 * all they can share the rate equally, whatever their number of accounts or
 * connections, and a small reply does not wait for a round of large ones; the
 * oldest waiting (least start) is passed by no more than its own cost. A party that
 * read no more than its share lately (not ahead of that virtual time) and
 * has nothing waiting goes at once while the debt is under the burst: it
 * would be first anyway, and the debt it adds delays those that read more
 * (unless such a reply already waits, having come past the burst: then it
 * is first, and the others wait behind it).
 * Within a party, first come first served: a connection runs its requests
 * one at a time and an account has one session (a second login is refused),
 * so each account has at most one reply waiting, and its accounts take
 * turns. A waiting reply is delayed, never dropped, and its connection's
 * later requests wait behind it (never reordered). The bucket is one for the
 * server and each turn is taken at once (no await between the check and the
 * take), so a party's many connections asking together get no more than one.
 *
 * Every other request takes its turn too (session 34, {@link LargeReplyRate.request}): each costs the server
 * 0.1–0.35 ms of CPU however cheap its answer (decoding, sealing, acknowledging), what a reply of a few KiB does, and
 * paced per account and host alone, N addresses of cheap requests got N hosts' pace (8 addresses reading 1 KiB
 * threads: 4,189–4,241 a second, 54–69 % of a core; more addresses more). Each request takes
 * {@link LargeReplyRate.perReplyBytes} (`--request-charge`), a write `WRITE_TURNS` times it, before it runs; an LST
 * or RDT after it, with its reply's bytes if they are {@link LARGE_REPLY_MIN_BYTES} or more. So the rate is the
 * server's budget of request work, about a third of a core by default (682 cheap requests a second), shared by
 * parties as above.
 *
 * Time is passed in (`now`, `schedule`): unit tests run it on a fake clock.
 */

/**
 * Replies at least this large, bytes, take their turn. Not 64 KiB (the size past which a reply costs its account
 * more than its own pacing turn, request-pacer.ts): a reply just under it costs a host no more turns than an empty
 * one, so a host's 400 turns a second read 25 MB of 63 KiB replies unrated, at 0.6–1.5 ms of CPU each, and 32
 * accounts on 8 addresses kept the core 94 % busy (1,376 a second). Not 8 KiB (session 32): 32 accounts on 8
 * addresses read 1,697 unrated 7 KiB replies a second, 0.36 ms of CPU each against 0.11–0.13 for an empty thread's,
 * 69 % of a core. At 32 accounts on 8 addresses, unrated (request-cost.ts, `--large-reply-rate 0`, 2,000–4,000
 * replies a second), a reply of 1 KiB (one datagram) cost 0.13–0.14 ms, what an empty thread's did (0.11–0.13), of
 * 2 KiB 0.14–0.18, 4 KiB 0.16–0.19, 7 KiB 0.43–0.50 (at 820 a second): under 2 KiB a reply costs what the request
 * does, which the pacer bounds per host (SECURITY.md, Known weaknesses: requests are bounded per host, not in all).
 */
export const LARGE_REPLY_MIN_BYTES = 2 * 1024;
/**
 * What a rated reply takes of the rate beyond its bytes: its CPU apart from its bytes, in bytes. Measured (session
 * 33, request-cost.ts, the shared 2-core machine at a load of 2–14): each KiB of a large reply costs 7.5–10 µs of
 * CPU (256 KiB 2.6–3.0 ms, a full thread's 3.9 MiB 25–35), and a reply of 0–7 KiB 0.24–0.35 ms in all at 1,000
 * replies a second, 0.33–0.58 ms at the 600–950 a second the rate lets through: some 40–60 KiB of a full thread's
 * bytes. One of 63 KiB costs 0.9–1.9 ms, more a byte than either. Counted in bytes alone, the rate's 32 MiB/s
 * were 8 full threads (30–37 % of a core) but 520 replies of 63 KiB (52–70 %) and none of 7 KiB (not rated: up
 * to 4,084 a second, 54–86 %); at 32 KiB a reply, 620–880 of 7 KiB a second cost 34–46 %. At 48 KiB, 595–601 of
 * 7 KiB cost 33–42 %, 296–315 of 63 KiB 37–56 %, and full threads 34–38 % (SECURITY.md, Reads of large threads).
 * Since session 34 it is also what any request takes (a cheap one costs what a reply of a few KiB does): the default
 * of `--request-charge`.
 */
export const REPLY_FIXED_BYTES = 48 * 1024;
/**
 * Default {@link LargeReplyRate.bytesPerSecond}: 32 MiB/s, eight full threads
 * a second, about 30 % of a core at 35 ms of CPU each (encoding, sealing,
 * sending; SECURITY.md, Reads of large threads), and about as much for
 * replies of any size with {@link REPLY_FIXED_BYTES} each, or 682 cheap
 * requests a second (24–35 % of a core, session 34). At or above one
 * client host's own pace of rated replies (`HOST_RATE_MULTIPLE` × 100 turns a
 * second: 21.5 MiB/s of 7 KiB replies, 32 MiB/s of 34 KiB ones; a reply
 * of 64 KiB or more costs its host a turn more a 64 KiB), so a host alone
 * on the server waits here only past its burst, and only for replies of
 * 34–64 KiB (400 a second of 63 KiB: 43 MiB/s, slowed to 295) and of
 * 116–128 KiB (by 7 % at most).
 */
export const DEFAULT_LARGE_REPLY_BYTES_PER_SECOND = 32 * 1024 * 1024;
/** Default {@link LargeReplyRate.burstBytes}: two full threads' replies (or 149 of 7 KiB) go at once from a rested bucket. */
export const DEFAULT_LARGE_REPLY_BURST_BYTES = 8 * 1024 * 1024;

/** A reply's lines as JSON text, about: each line's characters and its quotes and comma. Cheap (a string's length is stored), exact for text that needs no escapes. */
export const replyLinesBytes = (lines: readonly string[]): number => {
  let n = 0;
  for (const l of lines) n += l.length + 3;
  return n;
};

/**
 * Most UTF-8 bytes of JSON one character of a reply's lines takes: a character of U+0800–U+FFFF
 * (CJK, say) 3, `"` and `\` 2 escaped (control characters and lone surrogates, 6 escaped, are refused
 * in what is stored: names.ts).
 */
const MAX_BYTES_PER_CHAR = 3;

/**
 * The shortest wait, ms, before waiting replies are let go again: each time what the rate earned since, several
 * small replies in one turn of the event loop, whose packets the transport sends together. Let go one a timer (every
 * 1–2 ms for replies of a few KiB), a reply of 3 or 7 KiB cost 0.44–0.63 ms of CPU, 38–48 % of a core at the rate;
 * every 10 ms, 0.38–0.47 ms, 34–38 % (4 interleaved pairs, `A10_KIB=3|7 request-cost.ts rdt-mid 32 8 6 8`; over
 * all runs of either, medians 38 and 36 %: a small gain).
 */
const RELEASE_EVERY_MS = 10;

/**
 * The size {@link LargeReplyRate.turn} is asked for a reply of `lines`: 0 if it is under
 * {@link LARGE_REPLY_MIN_BYTES} (it is not rated: it does not wait), else about its bytes. By characters
 * ({@link replyLinesBytes}) when they alone reach the mark; counted exactly when only their bytes
 * may (at most 64 K characters: some 0.1 ms). By characters alone, a reply of 65,000 CJK characters
 * (63 KiB by that count, 190 KiB sent) never waited: every host could read such replies at its own pace.
 */
export const largeReplyEstimate = (lines: readonly string[]): number => {
  const chars = replyLinesBytes(lines);
  if (chars >= LARGE_REPLY_MIN_BYTES) return chars;
  if (chars * MAX_BYTES_PER_CHAR < LARGE_REPLY_MIN_BYTES) return 0;
  const bytes = Buffer.byteLength(JSON.stringify(lines)) - 1;
  return bytes >= LARGE_REPLY_MIN_BYTES ? bytes : 0;
};

interface Waiter {
  readonly party: string;
  /** What it takes: its bytes and the rate's {@link LargeReplyRateOptions.perReplyBytes}. */
  readonly cost: number;
  /** It came while others waited and was not ahead: it would have gone at once but for the debt. While one such waits, none goes at once. */
  readonly fresh: boolean;
  /** Its virtual start: where it stands in the fair order (moves back when a reply ahead of it in its party leaves the line). */
  start: number;
  /** What replies finishing before it took while it was the oldest waiting: past its own cost, it goes next. */
  passed: number;
  /**
   * The most the rate may have let go ({@link LargeReplyRate.served}) before it goes, whatever the order says: what
   * its party's share of the parties waiting when it came would take to reach its start and cost, and a burst.
   */
  readonly due: number;
  readonly go: () => void;
}

/** Options of {@link LargeReplyRate}. */
export interface LargeReplyRateOptions {
  /** Bytes a second the bucket earns back (> 0). */
  readonly bytesPerSecond: number;
  /** The most it holds; default {@link DEFAULT_LARGE_REPLY_BURST_BYTES}. */
  readonly burstBytes?: number;
  /** What each reply takes beyond its bytes (≥ 0); default {@link REPLY_FIXED_BYTES}. */
  readonly perReplyBytes?: number;
  /** The clock, ms (monotonic). */
  readonly now: () => number;
  /** Calls `fn` after `ms`; default an unref'd `setTimeout`. */
  readonly schedule?: (fn: () => void, ms: number) => void;
  /**
   * Whether the server is busy (event-loop-busy.ts); while it is not, the bucket stays full, so nothing waits for
   * the rate, only for the order while others wait. Default: always busy (the rate alone).
   */
  readonly busy?: () => boolean;
}

/** See the file's comment. */
export class LargeReplyRate {
  readonly bytesPerSecond: number;
  readonly burstBytes: number;
  /** What each reply takes beyond its bytes ({@link REPLY_FIXED_BYTES} by default). */
  readonly perReplyBytes: number;
  private readonly now: () => number;
  private readonly schedule: (fn: () => void, ms: number) => void;
  private readonly busy: () => boolean;
  private level: number;
  private at: number;
  /** Waiting replies by party, each first come first served. */
  private readonly queues = new Map<string, Waiter[]>();
  /** A party's last reply's virtual finish; only those past {@link virtual} matter (others start at it). */
  private readonly finish = new Map<string, number>();
  /** The virtual start of the last reply let go. */
  private virtual = 0;
  private waiting = 0;
  /** Waiting replies that were not ahead when they came ({@link Waiter.fresh}). */
  private freshWaiting = 0;
  private armed = false;
  /** What the rate has let go in all, bytes: the clock of each waiter's {@link Waiter.due}. */
  private served = 0;

  constructor(options: LargeReplyRateOptions) {
    if (!(options.bytesPerSecond > 0)) throw new RangeError(`large reply rate: bytesPerSecond must be above 0 (got ${String(options.bytesPerSecond)})`);
    this.bytesPerSecond = options.bytesPerSecond;
    this.burstBytes = options.burstBytes ?? DEFAULT_LARGE_REPLY_BURST_BYTES;
    this.perReplyBytes = options.perReplyBytes ?? REPLY_FIXED_BYTES;
    if (!(this.perReplyBytes >= 0)) throw new RangeError(`large reply rate: perReplyBytes must be 0 or more (got ${String(options.perReplyBytes)})`);
    this.now = options.now;
    this.schedule =
      options.schedule ??
      ((fn, ms) => {
        setTimeout(fn, ms).unref();
      });
    this.busy = options.busy ?? (() => true);
    this.level = this.burstBytes;
    this.at = this.now();
  }

  /**
   * A reply of `bytes` for `party`: `undefined` if it may be sent now (its
   * cost is taken: its bytes and {@link perReplyBytes}), else a promise that
   * settles when its turn comes (its cost taken then), or when `signal`
   * aborts (it leaves the line and takes nothing: the caller sends nothing).
   */
  turn(party: string, bytes: number, signal?: AbortSignal): Promise<void> | undefined {
    // Replies of a few KiB cost the server more per byte than full threads: each is charged what its CPU apart from
    // its bytes is worth (REPLY_FIXED_BYTES), so the rate bounds the CPU of many small replies as of few large ones.
    return this.wait(party, bytes + this.perReplyBytes, signal);
  }

  /**
   * A request other than LST or RDT of `party` that costs `turns` cheap requests' work (a write: `WRITE_TURNS`,
   * request-pacer.ts): as {@link turn}, taking `turns` × {@link perReplyBytes} (nothing, and at once, if that is 0).
   * Each request costs the server 0.1–0.35 ms of CPU however cheap its answer (decoding, sealing, acknowledging),
   * what a reply of a few KiB does: paced per host only, 8 addresses sent 4,100–4,260 a second, 61–63 % of a core,
   * and more addresses more (SECURITY.md, A charge per reply).
   */
  request(party: string, turns: number, signal?: AbortSignal): Promise<void> | undefined {
    return this.wait(party, turns * this.perReplyBytes, signal);
  }

  private wait(party: string, cost: number, signal?: AbortSignal): Promise<void> | undefined {
    if (cost <= 0) return undefined;
    const start = Math.max(this.virtual, this.finish.get(party) ?? 0);
    this.refill();
    if (this.waiting === 0 && this.level >= 0) {
      this.take(party, cost, start);
      // Nobody waited for it: the virtual time moves past it, so reading alone leaves a party no debt to the
      // order (a host alone gets the full rate, and enters a contention as any other), and it can be forgotten.
      this.virtual = Math.max(this.virtual, start + cost);
      return undefined;
    }
    // While others wait, a party not ahead of the virtual time (it read no more than its share lately) and with
    // nothing waiting goes at once as long as the debt is under the burst: it would be first in line anyway, and the
    // debt it adds delays the parties that read more. An occasional reader of a full thread waited a repayment and a turn for each (p50
    // 296 ms against 89 on main, `A10_PROBE_RDT=big A10_PROBE_GAP_MS=2000 … rdt-many 32 8 10 8`). The rate still
    // holds: the debt never passes the burst and a reply. Not while such a reply already waits (it came when the debt
    // was past the burst): it is first, and the virtual time moves only as waiters go, which they do only out of
    // debt; parties of new addresses each going at once kept the debt under 0 and every waiter waited for ever
    // (8 new addresses a second reading a full thread each: none of 169 waiting went in 10 s).
    const fresh = this.waiting > 0 && start <= this.virtual && !this.queues.has(party);
    if (fresh && this.freshWaiting === 0 && this.level >= -this.burstBytes) {
      this.take(party, cost, start);
      return undefined;
    }
    if (signal?.aborted === true) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const leave = (): void => {
        const q = this.queues.get(party);
        const at = q?.indexOf(w) ?? -1;
        if (q === undefined || at < 0) return;
        q.splice(at, 1);
        // Its cost was never taken: the party's order forgets it. Kept, a client queueing a full thread and
        // closing, again and again, pushed its address's finish ahead at no cost to the rate, and the honest
        // readers sharing that address then waited behind every other party's bytes up to it.
        for (let i = at; i < q.length; i++) (q[i] as Waiter).start -= cost;
        const f = this.finish.get(party);
        if (f !== undefined) this.finish.set(party, f - cost);
        if (q.length === 0) this.queues.delete(party);
        this.waiting--;
        if (w.fresh) this.freshWaiting--;
        resolve();
      };
      const w: Waiter = {
        party,
        cost,
        fresh,
        start,
        passed: 0,
        // New addresses each start at the virtual time, which moves only to the start of what goes: while only they
        // went it stood still, and a party that had asked before (its next start a charge past it) was neither first
        // by finish nor the oldest, so a new address a millisecond asking one cheap request (47 MiB/s asked of 32,
        // a handshake each and no account) kept it waiting until they stopped. Its share of those waiting when it
        // came bounds its wait however many come after it.
        due: this.served + (this.queues.size + (this.queues.has(party) ? 0 : 1)) * (start - this.virtual + cost) + this.burstBytes,
        go: () => {
          signal?.removeEventListener('abort', leave);
          resolve();
        },
      };
      signal?.addEventListener('abort', leave, { once: true });
      let q = this.queues.get(party);
      if (q === undefined) this.queues.set(party, (q = []));
      q.push(w);
      this.waiting++;
      if (fresh) this.freshWaiting++;
      // Its successors in its party start after it.
      this.finish.set(party, start + cost);
      this.arm();
    });
  }

  /**
   * Takes `bytes` more (or gives back, negative) for a reply of `party` already let go: its encoded size
   * was not the estimate. Its party's order counts them too: with the bucket alone, a party whose text is
   * CJK (3 bytes a character, counted 1) was sent three times the bytes of one reading ASCII, in turn.
   */
  charge(bytes: number, party?: string): void {
    this.refill();
    this.level = Math.min(this.burstBytes, this.level - bytes);
    const f = party === undefined ? undefined : this.finish.get(party);
    if (party === undefined || f === undefined) return;
    // Its finish is the virtual time when it went with nobody waiting (turn): the time moves past it again, so a
    // party reading alone still owes the order nothing. Not while others wait: past their starts, it would reorder them.
    if (f === this.virtual && this.waiting === 0) this.virtual = Math.max(this.virtual, f + bytes);
    this.finish.set(party, f + bytes);
  }

  /** Replies waiting (0 once none waits: nothing leaks). */
  get size(): number {
    return this.waiting;
  }

  /** Parties remembered for their order (bounded: see {@link forget}). */
  get parties(): number {
    return this.finish.size;
  }

  private refill(): void {
    const now = this.now();
    // An idle server's core is there to use: held to the rate, 1,000 honest addresses asking twice a second waited
    // 1.4 s each for 683 answers a second, a third of a core, however idle the rest (attack/request-rate-sim.ts).
    if (!this.busy()) this.level = this.burstBytes;
    else if (now > this.at) this.level = Math.min(this.burstBytes, this.level + ((now - this.at) * this.bytesPerSecond) / 1000);
    this.at = now;
  }

  private take(party: string, bytes: number, start: number): void {
    this.level -= bytes;
    this.served += bytes;
    this.virtual = Math.max(this.virtual, start);
    if (start + bytes > (this.finish.get(party) ?? 0)) this.finish.set(party, start + bytes);
    this.forget();
  }

  /** Drops the parties whose finish is not past the virtual time (they would start at it anyway), once they outnumber the waiting ones well. */
  private forget(): void {
    if (this.finish.size <= 2 * this.queues.size + 64) return;
    for (const [p, f] of this.finish) if (f <= this.virtual && !this.queues.has(p)) this.finish.delete(p);
  }

  /** Lets waiters go while the bucket is not in debt, earliest virtual finish first; else wakes when it will be out of debt. */
  private release = (): void => {
    this.armed = false;
    this.refill();
    while (this.waiting > 0 && this.level >= 0) {
      // The earliest finish first (start and cost), not the earliest start: while N parties read full threads, their
      // replies of a round all start at one virtual time, which holds for the round (N × 4 MiB at 32 MiB/s), and a
      // party that read a 3 KiB list in it started its next read past the round: it waited for all of it (up to
      // 12.4 s with 128 such parties, on a fake clock, where the client gives up at 8); and parties new to the order
      // all start at the virtual time, so an honest 3 KiB read asked after 60 new addresses' full threads waited
      // 7.7 s for them. But the oldest (least start, first come among equals) is passed by no more than its own
      // cost: a party's next start is past its finish, yet new addresses each start at the virtual time, and a
      // full thread asked while a new address a millisecond read 3 KiB once never went.
      let first: Waiter | undefined;
      let oldest: Waiter | undefined;
      let overdue: Waiter | undefined;
      for (const q of this.queues.values()) {
        const head = q[0] as Waiter;
        if (overdue === undefined || head.due < overdue.due) overdue = head;
        if (first === undefined || head.start + head.cost < first.start + first.cost) first = head;
        if (oldest === undefined || head.start < oldest.start) oldest = head;
      }
      if (first === undefined || oldest === undefined) break;
      if (overdue !== undefined && overdue.due <= this.served) first = overdue;
      else if (first !== oldest && oldest.passed >= oldest.cost) first = oldest;
      if (first !== oldest) oldest.passed += first.cost;
      const q = this.queues.get(first.party) as Waiter[];
      q.shift();
      if (q.length === 0) this.queues.delete(first.party);
      this.waiting--;
      if (first.fresh) this.freshWaiting--;
      this.take(first.party, first.cost, first.start);
      first.go();
    }
    this.arm();
  };

  private arm(): void {
    if (this.armed || this.waiting === 0) return;
    this.refill();
    this.armed = true;
    // Until the debt is paid back, and at least RELEASE_EVERY_MS (a timer of 0 would spin while the clock stands).
    this.schedule(this.release, Math.max(RELEASE_EVERY_MS, Math.ceil((-this.level * 1000) / this.bytesPerSecond)));
  }
}
