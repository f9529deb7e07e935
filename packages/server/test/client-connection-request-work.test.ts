/**
 * Every request takes its party's turn at the server's rate of request work (large-reply-rate.ts,
 * `ServerContext.largeReplies`), not only LST and RDT replies of 2 KiB or more: paced per account and host alone, N
 * addresses of cheap requests got N hosts' pace (8 addresses: 4,189–4,241 replies a second, 54–69 % of a core).
 * Fake connections over a memory store, served by the real session code; the rate's clock and timers are the
 * test's, so time moves only as its timers run, and what was answered is counted on that clock. On the old code
 * nothing but LST and RDT replies of 2 KiB or more ever waits: every request here is answered at once, at clock 0.
 */
import type { RequestCommand, Thread } from 'forum-protocol';
import { expect, it } from 'vitest';
import { REPLY_FIXED_BYTES } from '../src/large-reply-rate.js';
import { WRITE_TURNS } from '../src/request-pacer.js';
import { onFakeClock as rig, settle } from './fake-clock-rate.js';
import type { FakeConnection } from './served-connection.js';

const MIB = 1024 * 1024;
/** The rate of most tests: 1 MiB/s and 1 MiB of burst, each cheap request REPLY_FIXED_BYTES (48 KiB): 21⅓ a second. */
const RATE = MIB;
const BURST = MIB;
const PER_SECOND = RATE / REPLY_FIXED_BYTES;
const small: Thread = { title: 'small', creator: 'alice', entries: [{ kind: 'message', author: 'alice', text: 'hi' }] };

/** A server context over `small` whose rate runs on a clock the test moves (fake-clock-rate.ts). */
const onFakeClock = (bytesPerSecond = RATE) => rig([small], bytesPerSecond, BURST);

/** Sends `n` requests of `cmd` back to back on each of `lanes` lanes of `conn` (as a client with that many in flight); counts each answer. */
const flood = (conn: FakeConnection, cmd: RequestCommand, args: readonly string[], lanes: number, n: number, onAnswer: () => void): Promise<void> => {
  let next = 0;
  return Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < n) {
        const id = `f${next++}`;
        await conn.request(cmd, args, id);
        onAnswer();
      }
    }),
  ).then(() => undefined);
};

/**
 * The most cheap requests a rate of `bytesPerSecond` lets through in `ms` from a full bucket: its burst, what it
 * earns, and the debt parties under their share may add (a burst, and a MSG's turns past it).
 */
const mostIn = (ms: number, bytesPerSecond = RATE): number => (2 * BURST + (bytesPerSecond * ms) / 1000) / REPLY_FIXED_BYTES + WRITE_TURNS;

it('many hosts of cheap requests are bounded in total: 16 addresses sending reads of a tiny thread and refused EDTs as fast as they may get the rate, not what they ask', async () => {
  const { clock, drive, logIn } = onFakeClock();
  const addresses = Array.from({ length: 16 }, (_, i) => `10.0.2.${i}`);
  // Two connections an address.
  const conns = await logIn([...addresses, ...addresses]);
  const t0 = clock.now;
  let answered = 0;
  // In cheap requests' turns: a write counts WRITE_TURNS (refused or not, as the pacer counts it).
  let turns = 0;
  // Half the addresses read a one-line thread (an RDT's turn is taken after it ran), half send EDTs refused (not
  // theirs: every other request's turn is taken before it runs). Two connections an address, 200 each, 8 in flight.
  const floods = conns.map((c, i) =>
    flood(c, i % 2 === 0 ? 'RDT' : 'EDT', i % 2 === 0 ? ['small'] : ['small', '1', 'x'], 8, 200, () => {
      answered++;
      turns += i % 2 === 0 ? 1 : WRITE_TURNS;
    }),
  );
  await drive(() => false, t0 + 10_000, () => {
    // At no moment more than the rate has let through since the flood began.
    expect(turns).toBeLessThanOrEqual(mostIn(clock.now - t0));
  });
  // 10 s: 213 turns at the rate and 21 of burst; on the old code all 6,400 requests (16,000 turns) at clock 0.
  expect(turns).toBeLessThanOrEqual(mostIn(10_000));
  expect(turns).toBeGreaterThanOrEqual(10 * PER_SECOND);
  // Nothing is dropped: given time, every request is answered.
  await drive(() => answered === 6_400);
  await Promise.all(floods);
  expect(answered).toBe(6_400);
});

it("an honest party's requests under the flood are served within 20 ms, a write as a read, while 32 addresses are held to the rate", async () => {
  // 8 MiB/s: 171 cheap requests a second, 5.2 a party among 33. The honest party asks one a second, a read and a MSG
  // (4 turns) in turn: 2.5 turns a second, under its share.
  const rate = 8 * MIB;
  const { clock, drive, logIn } = onFakeClock(rate);
  const addresses = Array.from({ length: 32 }, (_, i) => `10.0.3.${i}`);
  const [honest, ...conns] = await logIn(['10.0.9.9', ...addresses]);
  if (honest === undefined) throw new Error('no honest connection');
  const t0 = clock.now;
  let answered = 0;
  for (const c of conns) void flood(c, 'RDT', ['small'], 8, 1_000, () => answered++);
  // One request a second of the clock; each one's wait on the clock.
  const waits: number[] = [];
  let next = t0 + 1_000;
  let sent = 0;
  await drive(() => false, t0 + 20_000, () => {
    if (clock.now < next) return;
    next += 1_000;
    const at = clock.now;
    const k = sent++;
    const reply = k % 2 === 0 ? honest.request('RDT', ['small'], `h${k}`) : honest.request('MSG', ['small', `honest ${k}`], `h${k}`);
    void reply.then((r) => {
      expect(r.status).toBe('ok');
      waits.push(clock.now - at);
    });
  });
  expect(sent).toBeGreaterThanOrEqual(19);
  expect(waits.length).toBeGreaterThanOrEqual(sent - 1);
  // A party that asked less than its share and has nothing waiting goes first, at the next of the rate's releases
  // (every 10 ms at least; at once while no such party waits and the debt is under the burst): each waited 10 ms here.
  expect(Math.max(...waits)).toBeLessThanOrEqual(20);
  // The flood meanwhile: the rate, less what the honest party took (on the old code, all 32,000 at clock 0).
  expect(answered).toBeLessThanOrEqual(mostIn(20_000, rate));
  expect(answered).toBeGreaterThanOrEqual((20 * rate) / REPLY_FIXED_BYTES - (sent / 2) * (1 + WRITE_TURNS) - 2);
});

it('hosts share the rate equally, whatever their connections: one address with 8 connections of 8 in flight gets what each of 7 with one connection of one in flight does', async () => {
  const { clock, drive, logIn } = onFakeClock();
  const big = Array.from({ length: 8 }, () => '10.0.4.1');
  const others = Array.from({ length: 7 }, (_, i) => `10.0.4.${i + 10}`);
  const conns = await logIn([...big, ...others]);
  const t0 = clock.now;
  const byHost = new Map<string, number>();
  const count = (c: FakeConnection) => () => byHost.set(c.remoteAddress, (byHost.get(c.remoteAddress) ?? 0) + 1);
  conns.forEach((c, i) => void flood(c, i < 8 ? 'RDT' : 'LST', i < 8 ? ['small'] : [], i < 8 ? 8 : 1, 2_000, count(c)));
  // The first 5 s left out: the first host to ask took the burst, nobody waiting then (a host alone is not slowed).
  await drive(() => false, t0 + 5_000);
  const before = new Map(byHost);
  await drive(() => false, t0 + 30_000);
  const counts = [...byHost].map(([h, n]) => n - (before.get(h) ?? 0));
  expect(counts.length).toBe(8);
  // 25 s at 21⅓ a second: 533 between 8 hosts, 67 each. On the old code the address with 8 connections got its
  // 16,000 and each other 2,000, all at clock 0.
  const total = counts.reduce((a, b) => a + b, 0);
  expect(total).toBeLessThanOrEqual(mostIn(25_000));
  expect(total).toBeGreaterThanOrEqual(25 * PER_SECOND - 2);
  for (const n of counts) expect(Math.abs(n - total / 8)).toBeLessThanOrEqual(2);
});

it('the rate holds under concurrency: 512 connections of 128 addresses each asking 4 requests in the same turn of the event loop get the burst at once, then the rate, and all are answered', async () => {
  const { clock, timers, drive, logIn } = onFakeClock();
  const addresses = Array.from({ length: 512 }, (_, i) => `10.1.${i % 128}.1`);
  const conns = await logIn(addresses);
  const t0 = clock.now;
  let answered = 0;
  // Every request asked before any is answered: MSGs (4 turns), RDTs and LSTs of small replies.
  const all = conns.flatMap((c, i) =>
    Array.from({ length: 4 }, (_, k) =>
      (i % 3 === 0 ? c.request('MSG', ['small', `m${k}`], `c${k}`) : i % 3 === 1 ? c.request('RDT', ['small'], `c${k}`) : c.request('LST', [], `c${k}`)).then(() => answered++),
    ),
  );
  await settle();
  // The burst (21 cheap ones' worth) and the debt new parties may add (as much): on the old code all 2,048 at once.
  expect(answered).toBeLessThanOrEqual(mostIn(0));
  expect(timers.length).toBe(1);
  let last = answered;
  let lastAt = clock.now;
  await drive(() => answered === all.length, Infinity, () => {
    // What each timer let go is what the rate earned since the last, and a request of a party under its share.
    expect(answered - last).toBeLessThanOrEqual(((clock.now - lastAt) * RATE) / 1000 / REPLY_FIXED_BYTES + WRITE_TURNS + 1);
    last = answered;
    lastAt = clock.now;
  });
  await Promise.all(all);
  expect(answered).toBe(2_048);
  // 2,048 requests of which 684 MSGs (4 turns each): 4,100 turns at 21⅓ a second, less the burst.
  const turns = 2_048 + (WRITE_TURNS - 1) * 4 * Math.ceil(512 / 3);
  expect(clock.now - t0).toBeGreaterThanOrEqual(((turns - 2 * BURST / REPLY_FIXED_BYTES - WRITE_TURNS) / PER_SECOND) * 1000);
});
