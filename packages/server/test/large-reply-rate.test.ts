/** The server-wide rate of LST and RDT replies, each its bytes and a charge per reply (large-reply-rate.ts), on a fake clock: timers run only when the test moves time. */
import { setMaxListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { LARGE_REPLY_MIN_BYTES, largeReplyEstimate, LargeReplyRate, REPLY_FIXED_BYTES, replyLinesBytes } from '../src/large-reply-rate.js';

const MIB = 1024 * 1024;
/** The order's mechanics in bytes alone: no charge per reply (the cases below that count replies use the default). */
const BYTES_ONLY = { perReplyBytes: 0 } as const;

/** A clock and a timer list the test moves by hand. */
const fakeTime = () => {
  let now = 0;
  const timers: { at: number; fn: () => void }[] = [];
  return {
    now: () => now,
    schedule: (fn: () => void, ms: number) => void timers.push({ at: now + ms, fn }),
    /** Moves the clock to `to`, running each timer due on the way at its time. */
    advance: async (to: number) => {
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const t = timers[0];
        if (t === undefined || t.at > to) break;
        timers.shift();
        now = t.at;
        t.fn();
        // The replies let go settle their promises: their `then`s run before the clock moves on.
        await Promise.resolve();
        await Promise.resolve();
      }
      now = to;
    },
    get pending() {
      return timers.length;
    },
  };
};

/** Asks for `n` replies of `bytes` for `party`, one after another as a connection would; records the time each goes. */
const reader = (rate: LargeReplyRate, clock: { now: () => number }, party: string, bytes: number, n: number, log: string[], signal?: AbortSignal) =>
  (async () => {
    for (let i = 0; i < n; i++) {
      const turn = rate.turn(party, bytes, signal);
      if (turn !== undefined) await turn;
      if (signal?.aborted === true) return;
      log.push(`${party}${i}@${clock.now()}`);
    }
  })();

/** 16 messages of 432 characters: 7 KiB of lines, as `A10_KIB=7 request-cost.ts rdt-mid` reads. */
const SEVEN_KIB = Array.from({ length: 16 }, (_, i) => `${i + 1} alice: ${'m'.repeat(432)}`);

/** `n` parties named as addresses. */
const hostsOf = (n: number): string[] => Array.from({ length: n }, (_, i) => `10.0.1.${i}`);
const sum = (ns: readonly number[]): number => ns.reduce((a, b) => a + b, 0);

/**
 * `parties` each reading replies of `bytes` back to back for `ms`, the next asked a pacing turn later (2.5 ms: the
 * pacer lets a host have 400 a second), the clock moved by the millisecond (`each` called at every one). Returns
 * how many replies each got.
 */
const backToBack = async (
  rate: LargeReplyRate,
  clock: ReturnType<typeof fakeTime>,
  parties: readonly string[],
  bytes: number,
  ms: number,
  each?: (t: number) => void,
): Promise<number[]> => {
  const stop = new AbortController();
  setMaxListeners(parties.length + 1, stop.signal);
  const got = parties.map(() => 0);
  const host = async (i: number): Promise<void> => {
    while (!stop.signal.aborted) {
      const turn = rate.turn(parties[i] as string, bytes, stop.signal);
      if (turn !== undefined) await turn;
      if (stop.signal.aborted) return;
      got[i] = (got[i] as number) + 1;
      const at = clock.now() + 2.5;
      while (clock.now() < at && !stop.signal.aborted) await new Promise((r) => setImmediate(r));
    }
  };
  const start = clock.now();
  const running = parties.map((_, i) => host(i));
  for (let t = start + 1; t <= start + ms; t++) {
    await clock.advance(t);
    each?.(t - start);
    await new Promise((r) => setImmediate(r));
  }
  stop.abort();
  await Promise.all(running);
  return got;
};

describe('large reply rate', () => {
  it('lets a lone party read at the full rate: the burst at once, then a reply each time the bucket is out of debt', async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: 32 * MIB, burstBytes: 8 * MIB, ...BYTES_ONLY, ...clock });
    const log: string[] = [];
    const done = reader(rate, clock, 'a', 4 * MIB, 12, log);
    await clock.advance(0);
    // 8 MiB of burst: two 4 MiB replies at 0, and a third, as the bucket is not in debt yet (exactly 0): it goes into debt.
    expect(log).toEqual(['a0@0', 'a1@0', 'a2@0']);
    await clock.advance(1000);
    // A second of 32 MiB pays 4 MiB of debt and 7 replies more: 10 in the first second, the rate and the burst.
    expect(log.length).toBe(11);
    expect(log[3]).toBe('a3@125');
    await clock.advance(2000);
    await done;
    expect(log.length).toBe(12);
    expect(rate.size).toBe(0);
  });

  it('a party that read less goes first: while a busy host waits, an honest reply goes at once, and a second one ahead of most of its queue', async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: 32 * MIB, burstBytes: 4 * MIB, ...BYTES_ONLY, ...clock });
    const log: string[] = [];
    // Four accounts of one host, each a reply waiting at any time.
    const hostile = [0, 1, 2, 3].map(() => reader(rate, clock, 'h', 4 * MIB, 5, log));
    await clock.advance(10);
    // Two replies at 0 put the rate 4 MiB in debt (the burst); 10 ms later it is 3.7 MiB, under the burst: the honest
    // party, which read nothing, goes at once, and the debt it adds delays the host (its next at 250 ms, not 125).
    const honest: string[] = [];
    const two = reader(rate, clock, 'x', 4 * MIB, 2, honest);
    await clock.advance(11);
    expect(honest).toEqual(['x0@10']);
    await clock.advance(20_000);
    await Promise.all([...hostile, two]);
    expect(log.filter((l) => l.endsWith('@125'))).toEqual([]);
    expect(log[2]).toMatch(/@250$/);
    // Its second, asked at once, is ahead of the virtual time by one reply: it waits its turn, behind the two of the
    // host's waiting replies that started earlier, ahead of the other 16.
    expect(honest).toEqual(['x0@10', 'x1@500']);
    expect(log.filter((l) => Number(l.split('@')[1]) > 500).length).toBe(16);
    // The rate holds: 84 MiB went before the last of the 22 replies, 4 of them the burst, so it goes at 80 / 32 = 2.5 s.
    expect(log.at(-1)).toMatch(/@2500$/);
  });

  it('parties reading all they can share the rate equally, whatever their number of accounts', async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: 32 * MIB, burstBytes: 4 * MIB, ...BYTES_ONLY, ...clock });
    const stop = new AbortController();
    const many: string[] = [];
    const few: string[] = [];
    // Party m has 8 accounts reading 1 MiB replies, party f one account reading 4 MiB replies.
    const readers = [
      ...Array.from({ length: 8 }, () => reader(rate, clock, 'm', MIB, 1_000, many, stop.signal)),
      reader(rate, clock, 'f', 4 * MIB, 1_000, few, stop.signal),
    ];
    await clock.advance(10_000);
    stop.abort();
    await Promise.all(readers);
    const mBytes = many.length * MIB;
    const fBytes = few.length * 4 * MIB;
    // 10 s at 32 MiB/s and the burst between them, about half each: apart by the burst (which m's eight accounts took
    // at once, uncontended) and a reply of f at most.
    expect(mBytes + fBytes).toBeGreaterThanOrEqual(320 * MIB);
    expect(mBytes + fBytes).toBeLessThanOrEqual(332 * MIB);
    expect(Math.abs(mBytes - fBytes)).toBeLessThanOrEqual(8 * MIB);
    // The waiters of the abort left the line.
    expect(rate.size).toBe(0);
  });

  it("a party's replies go in the order asked, and a reply that leaves the line (its connection closed) takes nothing", async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: MIB, burstBytes: MIB, ...BYTES_ONLY, ...clock });
    expect(rate.turn('a', 2 * MIB)).toBeUndefined();
    const order: string[] = [];
    const gone = new AbortController();
    const p1 = rate.turn('a', MIB)?.then(() => order.push('first'));
    const p2 = rate.turn('a', MIB, gone.signal)?.then(() => order.push('left'));
    const p3 = rate.turn('a', MIB)?.then(() => order.push('third'));
    expect(rate.size).toBe(3);
    gone.abort();
    await p2;
    expect(rate.size).toBe(2);
    // 1 MiB of debt: paid back at 1 s; the first goes (into debt again), the third a second later.
    await clock.advance(1000);
    await p1;
    expect(order).toEqual(['left', 'first']);
    await clock.advance(2000);
    await p3;
    expect(order).toEqual(['left', 'first', 'third']);
    expect(rate.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('replies that left the line cost their party no place: queueing a full thread and closing, again and again, does not push its neighbours back', async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: MIB, burstBytes: MIB, ...BYTES_ONLY, ...clock });
    // Party b reads 3 MiB at once (2 MiB of debt, past the burst: every later reply waits), then 1 MiB replies back to back.
    expect(rate.turn('b', 3 * MIB)).toBeUndefined();
    const log: string[] = [];
    const b = reader(rate, clock, 'b', MIB, 10, log);
    // A client of address n asks for a full thread and closes before its turn, ten times (a reply ahead of another
    // of its party's too: the one behind it moves up).
    for (let i = 0; i < 10; i++) {
      const gone = new AbortController();
      const p = rate.turn('n', 4 * MIB, gone.signal);
      expect(p).toBeDefined();
      gone.abort();
      await p;
    }
    const gone = new AbortController();
    const left = rate.turn('n', 4 * MIB, gone.signal);
    const n = reader(rate, clock, 'n', MIB, 1, log);
    gone.abort();
    await left;
    expect(rate.size).toBe(2);
    await clock.advance(20_000);
    await Promise.all([b, n]);
    // Its neighbour's reply starts where n's order stood (b's first one, asked first, ahead of it at the same start):
    // second, when the debt is paid back a second time. Before, it stood 44 MiB on, behind all of b's.
    expect(log.slice(0, 3)).toEqual(['b0@2000', 'n0@3000', 'b1@4000']);
    expect(rate.size).toBe(0);
  });

  it('a party whose replies are larger than their estimate (CJK text: 3 bytes a character, counted 1) gets its share of the bytes sent, not three times it', async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: 32 * MIB, burstBytes: 4 * MIB, ...BYTES_ONLY, ...clock });
    const stop = new AbortController();
    let cjkBytes = 0;
    let asciiBytes = 0;
    const read = async (party: string, estimate: number, sent: number, add: (n: number) => void) => {
      while (!stop.signal.aborted) {
        const turn = rate.turn(party, estimate, stop.signal);
        if (turn !== undefined) await turn;
        if (stop.signal.aborted) return;
        // As the server does: what the estimate missed, charged once the reply is sent.
        rate.charge(sent - estimate, party);
        add(sent);
      }
    };
    const readers = [read('cjk', MIB, 3 * MIB, (n) => (cjkBytes += n)), read('ascii', 3 * MIB, 3 * MIB, (n) => (asciiBytes += n))];
    await clock.advance(10_000);
    stop.abort();
    await Promise.all(readers);
    // 10 s at 32 MiB/s: about 160 MiB each, apart by a few replies (on the old order, 240 and 80). Three: at the same
    // start the smaller estimate goes first, so the CJK party's reply goes first of each pair (168 and 159 MiB; 165
    // and 162 when ties went first come first served), then they take turns.
    expect(cjkBytes + asciiBytes).toBeGreaterThanOrEqual(320 * MIB);
    expect(Math.abs(cjkBytes - asciiBytes)).toBeLessThanOrEqual(9 * MIB);
  });

  it('takes a reply as large by its bytes, not its characters: 1 KiB of CJK characters is 3 KiB sent', () => {
    const cjk = Array.from({ length: 2 }, () => '한'.repeat(500));
    expect(replyLinesBytes(cjk)).toBeLessThan(LARGE_REPLY_MIN_BYTES);
    expect(largeReplyEstimate(cjk)).toBe(Buffer.byteLength(JSON.stringify(cjk)) - 1);
    // Quotes escaped: 2 bytes each.
    const quotes = Array.from({ length: 2 }, () => '"'.repeat(600));
    expect(largeReplyEstimate(quotes)).toBe(Buffer.byteLength(JSON.stringify(quotes)) - 1);
    // ASCII under the mark, and a reply of the mark or more by its characters alone (counted so: cheap).
    expect(largeReplyEstimate(Array.from({ length: 2 }, () => 'x'.repeat(900)))).toBe(0);
    const big = Array.from({ length: 17 }, () => 'x'.repeat(4000));
    expect(largeReplyEstimate(big)).toBe(replyLinesBytes(big));
  });

  it('rates replies of a few KiB, not tiny ones: a 7 KiB thread is rated, an empty or one-line read is not', () => {
    // 16 messages of 432 characters: 7 KiB of lines, as `A10_KIB=7 request-cost.ts rdt-mid` reads (on the old mark
    // of 8 KiB, never rated).
    const seven = Array.from({ length: 16 }, (_, i) => `${i + 1} alice: ${'m'.repeat(432)}`);
    expect(replyLinesBytes(seven)).toBeLessThan(8 * 1024);
    expect(largeReplyEstimate(seven)).toBe(replyLinesBytes(seven));
    expect(largeReplyEstimate(['Thread t is empty'])).toBe(0);
    expect(largeReplyEstimate(['1 alice: hello', '2 bob: hi'])).toBe(0);
    expect(largeReplyEstimate(Array.from({ length: 4 }, () => 'x'.repeat(400)))).toBe(0);
  });

  it('rates replies just under 64 KiB too, each its bytes and a fixed charge: 8 hosts reading 63 KiB replies get the rate, a lone reader never waits', async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: 32 * MIB, burstBytes: 8 * MIB, ...clock });
    // 16 messages of 4,000 characters: 63 KiB of lines, as request-cost.ts rdt-mid reads.
    const lines = Array.from({ length: 16 }, (_, i) => `${i + 1} alice: ${'m'.repeat(4016)}`);
    expect(replyLinesBytes(lines)).toBeLessThan(64 * 1024);
    const bytes = largeReplyEstimate(lines);
    const cost = bytes + REPLY_FIXED_BYTES;
    // Alone, at one account's pace (100 a second: 6.3 MB/s, 10.8 MiB/s of cost), for 5 s: every reply goes at once.
    for (let t = 0; t < 5_000; t += 10) {
      await clock.advance(t);
      expect(rate.turn('10.0.0.1', bytes)).toBeUndefined();
    }
    // 8 hosts, each reading such replies back to back (the pacer lets a host have 400 a second, 197 MiB between
    // the 8), for 10 s.
    const got = await backToBack(rate, clock, hostsOf(8), bytes, 10_000);
    const replies = sum(got);
    // At most 10 s of the rate and the burst, each reply its bytes and 48 KiB: 3,000 (counted in bytes alone, 5,300).
    expect(replies * cost).toBeLessThanOrEqual(320 * MIB + 8 * MIB + cost);
    expect(replies * cost).toBeGreaterThanOrEqual(300 * MIB);
  });

  it('counts replies, not only bytes: 8 hosts reading 7 KiB replies back to back get the rate, 596 a second, not all they ask', async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: 32 * MIB, burstBytes: 8 * MIB, ...clock });
    const bytes = largeReplyEstimate(SEVEN_KIB);
    const cost = bytes + REPLY_FIXED_BYTES;
    // An honest party reading one such reply every half second meanwhile: each goes at once (it read less than its share).
    const honest: (Promise<void> | undefined)[] = [];
    const got = await backToBack(rate, clock, hostsOf(8), bytes, 10_000, (t) => {
      if (t % 500 === 0) honest.push(rate.turn('10.0.9.9', bytes));
    });
    const replies = sum(got);
    // Unrated on the old code, every one asked went: 21,900–23,300 in 10 s (a turn every 3 ms here, the clock moving by the
    // millisecond; the server's pacer lets 8 hosts have 3,200 a second, at 0.36 ms of CPU each). Now at most 10 s of
    // the rate and the burst, each reply 55 KiB: 6,100.
    expect(replies * cost).toBeLessThanOrEqual(320 * MIB + 8 * MIB + cost);
    expect(replies * cost).toBeGreaterThanOrEqual(300 * MIB);
    // Shared equally by the hosts, within a reply or two (a host's first ones were in the burst).
    expect(Math.max(...got) - Math.min(...got)).toBeLessThanOrEqual(2);
    expect(honest.length).toBe(20);
    expect(honest.filter((p) => p !== undefined)).toEqual([]);
  });

  it('one host alone at its pace of 7 KiB replies (400 a second), or one account at 100 a second, never waits', async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: 32 * MIB, burstBytes: 8 * MIB, ...clock });
    const bytes = largeReplyEstimate(SEVEN_KIB);
    // 400 a second of 55 KiB: 21.5 MiB/s, under the rate.
    for (let t = 0; t < 5_000; t += 2.5) {
      await clock.advance(t);
      expect(rate.turn('10.0.0.1', bytes)).toBeUndefined();
    }
    for (let t = 5_000; t < 10_000; t += 10) {
      await clock.advance(t);
      expect(rate.turn('10.0.0.2', bytes)).toBeUndefined();
    }
    expect(rate.size).toBe(0);
  });

  it('takes a request other than LST and RDT its turns of the charge: one host alone at its pace (400 cheap requests a second, or 100 MSGs of 4 turns) never waits, and 0 turns or a charge of 0 take nothing', async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: 32 * MIB, burstBytes: 8 * MIB, ...clock });
    // 400 a second of 48 KiB: 18.75 MiB/s, under the rate.
    for (let t = 0; t < 5_000; t += 2.5) {
      await clock.advance(t);
      expect(rate.request('10.0.0.1', 1)).toBeUndefined();
    }
    for (let t = 5_000; t < 10_000; t += 10) {
      await clock.advance(t);
      expect(rate.request('10.0.0.1', 4)).toBeUndefined();
    }
    // A second later (the bucket full again), 600 cheap requests at once from another party: 28 MiB, the burst's 8
    // and a request past it go; the rest wait.
    await clock.advance(11_000);
    const asked = Array.from({ length: 600 }, () => rate.request('10.0.0.2', 1));
    expect(asked.filter((t) => t === undefined).length).toBe(Math.floor((8 * MIB) / REPLY_FIXED_BYTES) + 1);
    expect(rate.request('10.0.0.3', 0)).toBeUndefined();
    const free = new LargeReplyRate({ bytesPerSecond: 1, burstBytes: 1, perReplyBytes: 0, ...clock });
    for (let i = 0; i < 1_000; i++) expect(free.request('10.0.0.4', 4)).toBeUndefined();
    await clock.advance(30_000);
    await Promise.all(asked);
    expect(rate.size).toBe(0);
  });

  it("holds under concurrency: 64 connections of one party asking for 7 KiB replies at once, back to back, get the rate's worth, no more", async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: 32 * MIB, burstBytes: 8 * MIB, ...clock });
    const bytes = largeReplyEstimate(SEVEN_KIB);
    const cost = bytes + REPLY_FIXED_BYTES;
    const stop = new AbortController();
    setMaxListeners(64, stop.signal);
    const log: string[] = [];
    // Each connection's requests one after another, all 64 asking in the same instant; 2,000 each at most (on the
    // old code all 128,000 went at once).
    const readers = Array.from({ length: 64 }, () => reader(rate, clock, '10.0.0.1', bytes, 2_000, log, stop.signal));
    await clock.advance(0);
    // The burst: 8 MiB of 55 KiB replies, and the one that put the bucket in debt.
    expect(log.length).toBe(Math.ceil((8 * MIB) / cost));
    await clock.advance(10_000);
    stop.abort();
    await Promise.all(readers);
    expect(log.length * cost).toBeLessThanOrEqual(320 * MIB + 8 * MIB + cost);
    expect(log.length * cost).toBeGreaterThanOrEqual(320 * MIB);
    expect(rate.size).toBe(0);
  });

  it('lets waiting replies go at most every 10 ms, several at a time: 596 replies of 7 KiB a second take 100 wake-ups, not one each', async () => {
    const clock = fakeTime();
    let wakeUps = 0;
    const schedule = (fn: () => void, ms: number): void => {
      wakeUps++;
      clock.schedule(fn, ms);
    };
    const rate = new LargeReplyRate({ bytesPerSecond: 32 * MIB, burstBytes: 8 * MIB, now: clock.now, schedule });
    const bytes = largeReplyEstimate(SEVEN_KIB);
    const stop = new AbortController();
    setMaxListeners(16, stop.signal);
    const log: string[] = [];
    // 16 connections of 8 hosts, each asking again as soon as its reply went.
    const readers = Array.from({ length: 16 }, (_, i) => reader(rate, clock, `10.0.1.${i % 8}`, bytes, 10_000, log, stop.signal));
    await clock.advance(0);
    wakeUps = 0;
    await clock.advance(1000);
    const inASecond = log.length;
    stop.abort();
    await Promise.all(readers);
    // The rate all the same: the 8 MiB burst and 32 MiB a second of 55 KiB, 746 replies, give or take one.
    expect(Math.abs(inASecond - (40 * MIB) / (bytes + REPLY_FIXED_BYTES))).toBeLessThanOrEqual(1.5);
    // A wake-up every 10 ms (on the old code one a reply: 596, each putting the rate in debt again).
    expect(wakeUps).toBeLessThanOrEqual(101);
  });

  it('replies of new parties going at once do not keep the waiting ones waiting for ever: once one had to wait, the others wait behind it', async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: 32 * MIB, burstBytes: 8 * MIB, ...clock });
    // A party in debt with one reply waiting, then a new address every 40 ms reading a full thread once: 100 MiB a
    // second asked of 32.
    expect(rate.turn('a', 12 * MIB)).toBeUndefined();
    const waited: number[] = [];
    let served = 0;
    void rate.turn('a', 4 * MIB)?.then(() => served++);
    for (let i = 0; i * 40 < 10_000; i++) {
      await clock.advance(i * 40);
      const asked = clock.now();
      const p = rate.turn(`10.0.${i >> 8}.${i & 255}`, 4 * MIB);
      void p?.then(() => {
        served++;
        waited.push(clock.now() - asked);
      });
    }
    await clock.advance(10_000);
    // The rate's 80 replies in 10 s go to those that waited, in their turn (on the old rule the new parties going at
    // once kept the debt under 0 and none of the 170 waiting went).
    expect(served).toBeGreaterThanOrEqual(70);
    expect(Math.min(...waited)).toBeLessThanOrEqual(500);
  });

  it("an honest party's few-KiB reply does not wait behind every full thread of many new addresses that came first: 64 parties' 64 full threads at once, then a 3 KiB read", async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: 32 * MIB, burstBytes: 8 * MIB, ...clock });
    // 64 addresses each asking for a full thread in the same instant: 4 go on the burst (and into debt), the 60
    // others wait, each new to the order, so all at the same virtual start.
    const hostile = hostsOf(64).map((p) => rate.turn(p, 4 * MIB));
    expect(hostile.filter((p) => p === undefined).length).toBe(4);
    let hostileServed = 0;
    for (const p of hostile) void p?.then(() => hostileServed++);
    // An honest client then lists the threads or reads a short one: 3 KiB, rated since the mark went to 2 KiB (it
    // went at once before). It waits for the debt (8 MiB past 0), not for 60 full threads (7.6 s at 32 MiB/s: with
    // the debt, its sending and acknowledgment, past the client's 8 s).
    await clock.advance(100);
    let honestAt: number | undefined;
    const honest = rate.turn('10.0.9.9', 3 * 1024);
    expect(honest).toBeDefined();
    void honest?.then(() => (honestAt = clock.now()));
    for (let t = 101; t <= 10_000 && honestAt === undefined; t++) await clock.advance(t);
    expect(honestAt).toBeDefined();
    expect(honestAt as number).toBeLessThanOrEqual(500);
    // The full threads still go, at the rate, none dropped.
    await clock.advance(12_000);
    expect(hostileServed).toBe(60);
    expect(rate.size).toBe(0);
  });

  it("an honest party reading a few KiB now and then waits a turn, not a round of many parties' full threads: 96 addresses reading full threads back to back, a 3 KiB read every 2 s", async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: 32 * MIB, burstBytes: 8 * MIB, ...clock });
    const waits: number[] = [];
    let pending = false;
    // Their replies go in rounds of 96, each at one virtual start (12 s at 32 MiB/s). In the order by start, the
    // honest party's read after one in a round started past the round and waited for all of it: 8.4 s at most here
    // (12.4 s with 128 addresses), past the client's 8. By finish (start and cost), it goes next.
    const got = await backToBack(rate, clock, hostsOf(96), 4 * MIB, 30_000, (t) => {
      if (t < 10_000 || t % 2000 !== 0 || pending) return;
      const asked = clock.now();
      const p = rate.turn('10.0.9.9', 3 * 1024);
      if (p === undefined) return void waits.push(0);
      pending = true;
      void p.then(() => {
        waits.push(clock.now() - asked);
        pending = false;
      });
    });
    expect(Math.max(...waits)).toBeLessThanOrEqual(500);
    expect(waits.length).toBe(10);
    // The full threads still share the rate equally: 30 s of it and the burst, 244 of 4 MiB and 48 KiB.
    expect(Math.max(...got) - Math.min(...got)).toBeLessThanOrEqual(1);
    expect(sum(got)).toBeGreaterThanOrEqual(236);
  });

  it('a waiting reply is passed by replies that finish earlier no more than its own cost: a full thread asked while a new address every millisecond reads 3 KiB once (50 MiB/s asked of 32) goes', async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: 32 * MIB, burstBytes: 8 * MIB, ...clock });
    let wentAt: number | undefined;
    for (let t = 0; t < 4_000; t++) {
      await clock.advance(t);
      // Each new to the order: they all start at the virtual time, where the full thread starts too, and finish
      // before it. Taken by their finish alone, they passed it for ever (it never went in 20 s).
      rate.turn(`10.1.${t >> 8}.${t & 255}`, 3 * 1024);
      if (t === 1_000) {
        const p = rate.turn('10.0.9.9', 4 * MIB);
        expect(p).toBeDefined();
        void p?.then(() => (wentAt = clock.now()));
      }
      await Promise.resolve();
    }
    // The debt, its own cost passed (4 MiB of 3 KiB replies: 125 ms), and its turn.
    expect(wentAt).toBeDefined();
    expect((wentAt as number) - 1_000).toBeLessThanOrEqual(600);
  });

  it("new addresses each asking one cheap request past the rate (a handshake each, no account) do not keep a party that asked before waiting for ever: its next request goes within its share's turn", async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: 32 * MIB, burstBytes: 8 * MIB, ...clock });
    // A new address every millisecond, each one cheap request (48 KiB of the rate: 46.9 MiB/s asked of 32), for 6 s.
    // Each is new to the order and starts at the virtual time; the virtual time moved only with the start of what
    // went, so while only new parties went it stood still, and a party that had asked once (its next start one
    // charge past it) was neither first by finish nor the oldest: it waited until they stopped.
    const honestAt: number[] = [];
    let asked = 0;
    for (let t = 0; t < 6_000; t++) {
      await clock.advance(t);
      void rate.request(`10.1.${t >> 8}.${t & 255}`, 1);
      if (t === 1_000 || t === 2_000) {
        asked = t;
        const p = rate.request('10.0.9.9', 1);
        if (p === undefined) honestAt.push(0);
        else void p.then(() => honestAt.push(clock.now() - asked));
      }
      await Promise.resolve();
    }
    // Both answered while the new addresses still came, each within 2 s (1.6 s: its share of the ~640 parties
    // waiting when it came, and a burst). On 7aff170 the second went only after they stopped and those waiting had
    // gone: 6.5 s after it was asked, and never while they kept coming.
    expect(honestAt.length).toBe(2);
    expect(Math.max(...honestAt)).toBeLessThanOrEqual(2_000);
    await clock.advance(20_000);
    expect(rate.size).toBe(0);
  });

  it('counts nothing while the server is not busy (--rate-idle-below): 2,000 cheap requests of one party at once all go, and once it is busy the burst goes, then the rate', async () => {
    const clock = fakeTime();
    let busy = false;
    const rate = new LargeReplyRate({ bytesPerSecond: 32 * MIB, burstBytes: 8 * MIB, ...clock, busy: () => busy });
    // 2,000 of 48 KiB: 94 MiB, 11 bursts, in one instant.
    for (let i = 0; i < 2_000; i++) expect(rate.request('10.0.6.1', 1)).toBeUndefined();
    busy = true;
    // Nothing was counted but the last: the bucket is full less one request, its burst goes, the rest waits.
    const asked = Array.from({ length: 400 }, () => rate.request('10.0.6.1', 1));
    const atOnce = asked.filter((t) => t === undefined).length;
    expect(atOnce).toBe(Math.floor((8 * MIB) / REPLY_FIXED_BYTES));
    let went = 0;
    for (const t of asked) void t?.then(() => went++);
    await clock.advance(300);
    // At the rate: 682 a second, 204 in 300 ms.
    expect(went).toBeLessThanOrEqual(Math.ceil((0.3 * 32 * MIB) / REPLY_FIXED_BYTES) + 1);
    expect(went).toBeGreaterThanOrEqual(Math.floor((0.3 * 32 * MIB) / REPLY_FIXED_BYTES) - 1);
    await clock.advance(1_000);
    expect(went).toBe(400 - atOnce);
    // Idle again with some waiting: they go at the next release, however deep the debt.
    const more = Array.from({ length: 400 }, () => rate.request('10.0.6.1', 1));
    expect(more.filter((t) => t === undefined).length).toBeLessThan(400);
    busy = false;
    let left = more.filter((t) => t !== undefined).length;
    for (const t of more) void t?.then(() => left--);
    await clock.advance(1_030);
    expect(left).toBe(0);
    expect(rate.size).toBe(0);
  });

  it('remembers few parties however many have read: those whose order no longer matters are forgotten', async () => {
    const clock = fakeTime();
    const rate = new LargeReplyRate({ bytesPerSecond: 1024 * MIB, burstBytes: 1024 * MIB, ...clock });
    for (let i = 0; i < 10_000; i++) {
      expect(rate.turn(`10.0.${i >> 8}.${i & 255}`, 64 * 1024)).toBeUndefined();
      await clock.advance(clock.now() + 1);
    }
    expect(rate.parties).toBeLessThanOrEqual(65);
  });

  it('refuses a rate that is not above 0, and estimates a reply by its lines', () => {
    expect(() => new LargeReplyRate({ bytesPerSecond: 0, now: () => 0 })).toThrow(RangeError);
    expect(() => new LargeReplyRate({ bytesPerSecond: 1, perReplyBytes: -1, now: () => 0 })).toThrow(RangeError);
    const lines = ['1 alice: hello', '2 bob: hi'];
    // Its quotes and commas, the array's brackets aside.
    expect(replyLinesBytes(lines)).toBe(JSON.stringify(lines).length - 1);
  });
});
