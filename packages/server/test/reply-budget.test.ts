import { hostLevelsOf } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import {
  EVICTED_REASON,
  EVICTION_SCAN_INTERVAL_MS,
  partyOf,
  ReplyBudget,
  SERVER_SCOPE,
  STALE_AFTER_MS,
  type Blocked,
  type ReplyCharge,
  type ReplyHolder,
} from '../src/reply-budget.js';

const MiB = 1024 * 1024;

describe('ReplyBudget', () => {
  it('counts charges per host and gives them back on release', () => {
    const budget = new ReplyBudget(32 * MiB);
    const a = hostLevelsOf('192.0.2.1:4000');
    const b = hostLevelsOf('192.0.2.2:4000');
    const c1 = budget.charge(a, 10 * MiB);
    const c2 = budget.charge(hostLevelsOf('192.0.2.1:5000'), 5 * MiB);
    expect(budget.bytesOf('192.0.2.1')).toBe(15 * MiB);
    expect(budget.bytesOf('192.0.2.2')).toBe(0);
    // Another host is not held back by this one.
    expect(budget.wouldOverflow(a, 18 * MiB)?.key).toBe('192.0.2.1');
    expect(budget.wouldOverflow(a, 17 * MiB)).toBeUndefined();
    expect(budget.wouldOverflow(b, 32 * MiB)).toBeUndefined();
    c1.release();
    expect(budget.bytesOf('192.0.2.1')).toBe(5 * MiB);
    c2.release();
    expect(budget.bytesOf('192.0.2.1')).toBe(0);
    expect(budget.size).toBe(0);
  });

  it('counts replies sent apart from reservations (repliesHeld), also when a holder is closed for a waiter', () => {
    const budget = new ReplyBudget({ perHost: 32 * MiB, total: 64 * MiB, staleAfterMs: 0 });
    const a = hostLevelsOf('192.0.2.1:4000');
    const holder: ReplyHolder = { levels: a, evict: () => undefined };
    const reservation = budget.charge(a, 8 * MiB);
    const reply = budget.charge(a, 3 * MiB, { holder, at: 0 });
    expect(budget.bytes).toBe(11 * MiB);
    expect(budget.repliesHeld).toBe(3 * MiB);
    reservation.release();
    expect(budget.repliesHeld).toBe(3 * MiB);
    reply.release();
    reply.release();
    expect(budget.repliesHeld).toBe(0);
    budget.charge(a, 2 * MiB, { holder, at: 0 });
    const waiter: ReplyHolder = { levels: hostLevelsOf('192.0.2.1:5000'), evict: () => undefined };
    expect(budget.evictStale(waiter, { key: '192.0.2.1', level: a[0] }, 31 * MiB, true, 1_000_000)).toBe(1);
    expect(budget.repliesHeld).toBe(0);
    expect(budget.size).toBe(0);
  });

  it('releases a charge once however often it is released', () => {
    const budget = new ReplyBudget(32 * MiB);
    const a = hostLevelsOf('192.0.2.1:4000');
    const first = budget.charge(a, 4 * MiB);
    const second = budget.charge(a, 3 * MiB);
    first.release();
    first.release();
    first.release();
    // A double release taking the other charge's bytes would show 0 here.
    expect(budget.bytesOf('192.0.2.1')).toBe(3 * MiB);
    second.release();
    second.release();
    expect(budget.bytesOf('192.0.2.1')).toBe(0);
    expect(budget.size).toBe(0);
  });

  it('counts an IPv6 host by its /64, and its /56 and /48 at 4 and 16 times', () => {
    const budget = new ReplyBudget(10 * MiB);
    // Two addresses of one /64 share one budget.
    const x = budget.charge(hostLevelsOf('[2001:db8:0:1::1]:1'), 6 * MiB);
    expect(budget.wouldOverflow(hostLevelsOf('[2001:db8:0:1::2]:1'), 5 * MiB)?.multiple).toBe(1);
    x.release();
    // Four /64s of one /56 fill it at 40 MiB: a fifth /64 of it, empty itself, is held back by the /56.
    const inSlash56 = [0, 1, 2, 3].map((i) => budget.charge(hostLevelsOf(`[2001:db8:0:${i}::1]:1`), 10 * MiB));
    const fifth = hostLevelsOf('[2001:db8:0:4::1]:1');
    expect(budget.wouldOverflow(fifth, 1)?.multiple).toBe(4);
    // Another /56 of the same /48 still has room, up to the /48's 160 MiB.
    expect(budget.wouldOverflow(hostLevelsOf('[2001:db8:0:100::1]:1'), 10 * MiB)).toBeUndefined();
    const others = Array.from({ length: 12 }, (_, i) => budget.charge(hostLevelsOf(`[2001:db8:0:${(i + 4) * 256}::1]:1`), 10 * MiB));
    expect(budget.wouldOverflow(hostLevelsOf('[2001:db8:0:f000::1]:1'), 1)?.multiple).toBe(16);
    // Another /48 is untouched.
    expect(budget.wouldOverflow(hostLevelsOf('[2001:db8:1::1]:1'), 10 * MiB)).toBeUndefined();
    for (const c of [...inSlash56, ...others]) c.release();
    expect(budget.size).toBe(0);
  });

  it("wakes a waiter on a release of its host's bytes, and only then", async () => {
    const budget = new ReplyBudget(10 * MiB);
    const c = budget.charge(hostLevelsOf('192.0.2.1:1'), 10 * MiB);
    const elsewhere = budget.charge(hostLevelsOf('192.0.2.9:1'), MiB);
    let woken = 0;
    const waiting = budget.released('192.0.2.1').then(() => woken++);
    // Another host's acknowledgement does not wake it.
    elsewhere.release();
    await Promise.resolve();
    await Promise.resolve();
    expect(woken).toBe(0);
    c.release();
    await waiting;
    expect(woken).toBe(1);
    // A second release of the same charge wakes nobody: it changed nothing.
    let again = 0;
    void budget.released('192.0.2.1').then(() => again++);
    c.release();
    await Promise.resolve();
    await Promise.resolve();
    expect(again).toBe(0);
  });

  it('refuses a budget that is not positive', () => {
    expect(() => new ReplyBudget(0)).toThrow(RangeError);
    expect(() => new ReplyBudget(Number.NaN)).toThrow(RangeError);
  });
});

/** A connection as the budget sees it, recording whether it was closed. */
const holderAt = (address: string): ReplyHolder & { evicted: string[] } => {
  const evicted: string[] = [];
  return { levels: hostLevelsOf(address), evict: (reason) => evicted.push(reason), evicted };
};
const isCharge = (r: ReplyCharge | Blocked): r is ReplyCharge => !('key' in r);

describe('ReplyBudget: the server-wide budget', () => {
  it('bounds the sum over hosts, each under its own budget, and refuses all or nothing', () => {
    const budget = new ReplyBudget({ perHost: 32 * MiB, total: 64 * MiB, minShare: 64 * MiB });
    // Eight hosts each ask for 9 MiB: the host budgets would take them all (72 MiB); the server takes seven.
    const results = Array.from({ length: 8 }, (_, i) => budget.tryReserve(hostLevelsOf(`192.0.2.${i + 1}:1`), 9 * MiB));
    expect(results.filter(isCharge)).toHaveLength(7);
    expect(results[7]).toEqual({ key: SERVER_SCOPE });
    expect(budget.bytes).toBe(63 * MiB);
    // Nothing was charged for the refused one, at its host or anywhere.
    expect(budget.bytesOf('192.0.2.8')).toBe(0);
    expect(budget.bytesOf(SERVER_SCOPE)).toBe(63 * MiB);
    // A refusal at a host level charges nothing at the server either.
    const v6 = hostLevelsOf('[2001:db8::1]:1');
    const small = new ReplyBudget({ perHost: 4 * MiB, total: 64 * MiB });
    expect(small.tryReserve(v6, 5 * MiB)).toMatchObject({ key: '2001:db8:0:0::/64' });
    expect(small.bytes).toBe(0);
    expect(small.size).toBe(0);
    for (const r of results) if (isCharge(r)) r.release();
    expect(budget.bytes).toBe(0);
    expect(budget.size).toBe(0);
  });

  it('requests of many hosts reserving one after another never pass it', () => {
    const budget = new ReplyBudget({ perHost: 32 * MiB, total: 100 * MiB });
    let peak = 0;
    const held: ReplyCharge[] = [];
    for (let round = 0; round < 2_000; round++) {
      const r = budget.tryReserve(hostLevelsOf(`10.0.${round % 50}.${round % 7}:1`), ((round * 7919) % 9) * MiB + 1, round % 3 === 0);
      if (isCharge(r)) held.push(r);
      // Some are acknowledged meanwhile.
      if (round % 5 === 0) held.splice((round * 31) % Math.max(1, held.length), 1)[0]?.release();
      peak = Math.max(peak, budget.bytes);
    }
    expect(peak).toBeLessThanOrEqual(100 * MiB);
    expect(peak).toBeGreaterThan(90 * MiB);
    held.forEach((c) => c.release());
    expect(budget.bytes).toBe(0);
  });

  it('a party over its fair share waits while another has room: the share is the budget over the parties holding', () => {
    const budget = new ReplyBudget({ perHost: 64 * MiB, total: 64 * MiB, minShare: 8 * MiB });
    const a = hostLevelsOf('192.0.2.1:1');
    const b = hostLevelsOf('192.0.2.2:1');
    // Alone, A may take the whole budget's fair share (all of it).
    const a1 = budget.tryReserve(a, 40 * MiB);
    expect(isCharge(a1)).toBe(true);
    expect(budget.tryReserve(a, MiB)).toSatisfy(isCharge);
    // B arrives: the share is 32 MiB each; A, at 41, is refused though the server has 3 MiB free.
    expect(budget.fairShare('192.0.2.2')).toBe(32 * MiB);
    const b1 = budget.tryReserve(b, 20 * MiB);
    expect(isCharge(b1)).toBe(true);
    // It waits for its own party's acknowledgements.
    expect(budget.tryReserve(a, MiB)).toEqual({ key: SERVER_SCOPE, wakeKey: '192.0.2.1' });
    expect(budget.tryReserve(b, MiB)).toSatisfy(isCharge);
    // B past its 32 MiB share is refused too (and the server is full).
    expect(budget.tryReserve(b, 12 * MiB)).toEqual({ key: SERVER_SCOPE, wakeKey: '192.0.2.2' });
    // An IPv6 /48 is one party, whatever /64 its connections come from.
    const v6 = [0, 1, 2].map((i) => hostLevelsOf(`[2001:db8:0:${i}::1]:1`));
    expect(partyOf(v6[0] ?? [])).toBe('2001:db8:0::/48');
    const c = new ReplyBudget({ perHost: 64 * MiB, total: 64 * MiB, minShare: 8 * MiB });
    const c0 = c.tryReserve(v6[0] ?? [], 30 * MiB);
    const c1 = c.tryReserve(v6[1] ?? [], 30 * MiB);
    // Its second /64 does not get a share of its own: 60 MiB by one party, while the share floor is 8 MiB.
    expect(isCharge(c0) && isCharge(c1)).toBe(true);
    expect(c.tryReserve(hostLevelsOf('192.0.2.3:1'), 3 * MiB)).toSatisfy(isCharge);
    expect(c.tryReserve(v6[2] ?? [], MiB)).toEqual({ key: SERVER_SCOPE, wakeKey: '2001:db8:0::/48' });
  });

  it('the least share holds two largest reservations', () => {
    // The defaults, and 32 parties holding: the share is at its floor (and binds: 131.75 MiB of 256 held).
    const budget = new ReplyBudget({ perHost: 32 * MiB });
    for (let i = 0; i < 31; i++) budget.charge(hostLevelsOf(`198.51.100.${i + 1}:1`), 4.25 * MiB);
    const largest = 8 * MiB + 256;
    const a = hostLevelsOf('192.0.2.1:1');
    expect(budget.tryReserve(a, largest, true)).toSatisfy(isCharge);
    // Before: refused (16 MiB flat is 512 bytes short of two), so a party at the floor ran one LST/RDT at a time.
    expect(budget.tryReserve(a, largest, true)).toSatisfy(isCharge);
    expect(budget.tryReserve(a, 1024)).toEqual({ key: SERVER_SCOPE, wakeKey: '192.0.2.1' });
  });

  it("a reservation for a large reply leaves the budget's last eighth to small ones", () => {
    const budget = new ReplyBudget({ perHost: 64 * MiB, total: 64 * MiB, minShare: 64 * MiB });
    const a = hostLevelsOf('192.0.2.1:1');
    expect(budget.tryReserve(a, 50 * MiB, true)).toSatisfy(isCharge);
    // 14 MiB free, 8 of them only for small ones: a large 7 MiB is refused, small ones fit up to the end.
    expect(budget.tryReserve(hostLevelsOf('192.0.2.2:1'), 7 * MiB, true)).toEqual({ key: SERVER_SCOPE });
    expect(budget.tryReserve(hostLevelsOf('192.0.2.2:1'), 6 * MiB, true)).toSatisfy(isCharge);
    expect(budget.tryReserve(hostLevelsOf('192.0.2.3:1'), 8 * MiB, false)).toSatisfy(isCharge);
    expect(budget.bytes).toBe(64 * MiB);
  });

  it("wakes the server's waiters on a release that leaves room for a small reply, and only then", async () => {
    const budget = new ReplyBudget({ perHost: 64 * MiB, total: 16 * MiB, minShare: 16 * MiB });
    const big = budget.charge(hostLevelsOf('192.0.2.1:1'), 16 * MiB - 1024);
    const tiny = budget.charge(hostLevelsOf('192.0.2.2:1'), 1024);
    let woken = 0;
    const waiting = budget.released(SERVER_SCOPE).then(() => woken++);
    // 1 KiB freed: still no room for a 64 KiB reservation, nobody checks again.
    tiny.release();
    await Promise.resolve();
    await Promise.resolve();
    expect(woken).toBe(0);
    big.release();
    await waiting;
    expect(woken).toBe(1);
  });
});

describe("ReplyBudget: the server's waiters in line", () => {
  const settled = async (): Promise<void> => {
    for (let i = 0; i < 4; i++) await Promise.resolve();
  };

  it('a release wakes only as many as the room it freed holds smallest reservations, first come first', async () => {
    const budget = new ReplyBudget({ perHost: 64 * MiB, total: 16 * MiB, minShare: 16 * MiB });
    const parts = Array.from({ length: 16 }, (_, i) => budget.charge(hostLevelsOf(`198.51.100.${i + 1}:1`), MiB));
    const woken: number[] = [];
    for (let i = 0; i < 1000; i++) void budget.released(SERVER_SCOPE).then(() => woken.push(i));
    // 1 MiB freed, 16 smallest reservations: 16 of a thousand check again (before: all of them, at every release).
    (parts[0] as ReplyCharge).release();
    await settled();
    expect(woken).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(budget.wakeUps).toBe(1000 - woken.length);
    parts.slice(1).forEach((c) => c.release());
    await settled();
    expect(woken).toHaveLength(1000);
    expect(budget.wakeUps).toBe(0);
  });

  it('a waiter that stops waiting leaves the line: it neither takes a wake-up nor stays counted', async () => {
    const budget = new ReplyBudget({ perHost: 64 * MiB, total: 16 * MiB, minShare: 16 * MiB });
    const full = budget.charge(hostLevelsOf('192.0.2.1:1'), 16 * MiB);
    const gone = new AbortController();
    let goneWoken = false;
    void budget.released(SERVER_SCOPE, gone.signal).then(() => (goneWoken = true));
    let nextWoken = false;
    const next = budget.released(SERVER_SCOPE).then(() => (nextWoken = true));
    expect(budget.wakeUps).toBe(2);
    gone.abort();
    expect(budget.wakeUps).toBe(1);
    full.release();
    await next;
    expect(nextWoken).toBe(true);
    expect(goneWoken).toBe(false);
    expect(budget.wakeUps).toBe(0);
  });
});

describe("ReplyBudget: large reservations wait in their party's turn", () => {
  it('the party holding and asking for least goes first, whoever asked first', async () => {
    const budget = new ReplyBudget({ perHost: 64 * MiB, total: 64 * MiB, minShare: 32 * MiB });
    const full = budget.charge(hostLevelsOf('192.0.2.200:1'), 56 * MiB);
    // A host's many silent connections ask first: three large requests wait, then an honest client's one.
    const silent = hostLevelsOf('192.0.2.1:1');
    const silentTickets = [0, 1, 2].map(() => budget.ticket());
    for (const t of silentTickets) expect(budget.tryReserve(silent, 8 * MiB, true, t)).toEqual({ key: SERVER_SCOPE, wakeKey: `${SERVER_SCOPE}192.0.2.1` });
    const honest = hostLevelsOf('192.0.2.50:1');
    const honestTicket = budget.ticket();
    expect(budget.tryReserve(honest, 8 * MiB, true, honestTicket)).toEqual({ key: SERVER_SCOPE, wakeKey: `${SERVER_SCOPE}192.0.2.50` });
    expect(budget.queued).toBe(2);
    // Room for one is freed; the honest client's turn is woken, not the silent host's.
    let honestWoken = false;
    void budget.released(`${SERVER_SCOPE}192.0.2.50`).then(() => (honestWoken = true));
    full.release();
    await Promise.resolve();
    expect(honestWoken).toBe(true);
    // Whichever checks first, the silent host does not take it.
    for (const t of silentTickets) expect(budget.tryReserve(silent, 8 * MiB, true, t)).toMatchObject({ key: SERVER_SCOPE });
    // A small request of the silent host is not held by the turn (small replies have room of their own).
    const small = budget.tryReserve(silent, 64 * 1024);
    expect(small).toSatisfy(isCharge);
    if (isCharge(small)) small.release();
    const got = budget.tryReserve(honest, 8 * MiB, true, honestTicket);
    expect(got).toSatisfy(isCharge);
    honestTicket.done();
    // Then the silent host's turn: it is the only one waiting.
    expect(budget.tryReserve(silent, 8 * MiB, true, silentTickets[0])).toSatisfy(isCharge);
    for (const t of silentTickets) t.done();
    expect(budget.queued).toBe(0);
  });

  it("keeps no wake-up for a party that left its turn without being first", () => {
    const budget = new ReplyBudget({ perHost: 64 * MiB, total: 64 * MiB, minShare: 32 * MiB });
    const full = budget.charge(hostLevelsOf('192.0.2.200:1'), 56 * MiB);
    const first = budget.ticket();
    budget.tryReserve(hostLevelsOf('192.0.2.1:1'), 8 * MiB, true, first);
    // 1,000 parties wait behind it, each listening for its turn, and give up (their grace ends, their connection goes).
    for (let i = 0; i < 1_000; i++) {
      const t = budget.ticket();
      const blocked = budget.tryReserve(hostLevelsOf(`10.0.${i >> 8}.${i & 255}:1`), 8 * MiB, true, t);
      if (!('key' in blocked)) throw new Error('expected to wait');
      void budget.released(blocked.wakeKey ?? blocked.key);
      t.done();
    }
    // Before: one kept per party that waited.
    expect(budget.wakeUps).toBe(0);
    first.done();
    full.release();
    expect(budget.queued).toBe(0);
    expect(budget.wakeUps).toBe(0);
  });

  it('a first party held back by its own share or its host budget gives up its turn, and closes nobody at the server meanwhile', () => {
    for (const by of ['share', 'host'] as const) {
      const budget = new ReplyBudget({ perHost: by === 'host' ? 20 * MiB : 64 * MiB, total: 64 * MiB, minShare: 20 * MiB, staleAfterMs: 5_000 });
      const filler = holderAt('192.0.2.200:1');
      const full = budget.charge(filler.levels, 56 * MiB, { holder: filler, at: 0 });
      const light = hostLevelsOf('192.0.2.1:1');
      const lightTicket = budget.ticket();
      expect(budget.tryReserve(light, 8 * MiB, true, lightTicket)).toMatchObject({ key: SERVER_SCOPE });
      const other = hostLevelsOf('192.0.2.2:1');
      const otherTicket = budget.ticket();
      budget.tryReserve(other, 8 * MiB, true, otherTicket);
      // Not first: a large waiter closes nobody at the server, however stale the filler is.
      expect(budget.evictStale(holderAt('192.0.2.2:1'), { key: SERVER_SCOPE }, 8 * MiB, true, 200_000)).toBe(0);
      expect(filler.evicted).toHaveLength(0);
      full.release();
      // The first party now holds 16 MiB of its own: past its 21.3 MiB share (three parties hold), or its 20 MiB
      // host budget, with 8 more.
      const own = budget.charge(light, 16 * MiB);
      // Two others hold 5 MiB each: with the 8 asked, the server is past half its budget and the share binds.
      const smalls = [other, hostLevelsOf('192.0.2.3:1')].map((l) => budget.charge(l, 5 * MiB));
      expect(budget.tryReserve(light, 8 * MiB, true, lightTicket)).toMatchObject(by === 'share' ? { key: SERVER_SCOPE, wakeKey: '192.0.2.1' } : { key: '192.0.2.1' });
      // It left its turn: the next party is served (before: held back behind a party that could not go).
      expect(budget.queued).toBe(1);
      expect(budget.tryReserve(other, 8 * MiB, true, otherTicket)).toSatisfy(isCharge);
      lightTicket.done();
      otherTicket.done();
      own.release();
      smalls.forEach((c) => c.release());
    }
  });

  it('a request without a ticket never overtakes the parties waiting', () => {
    const budget = new ReplyBudget({ perHost: 64 * MiB, total: 64 * MiB, minShare: 32 * MiB });
    const full = budget.charge(hostLevelsOf('192.0.2.200:1'), 56 * MiB);
    const t = budget.ticket();
    budget.tryReserve(hostLevelsOf('192.0.2.1:1'), 8 * MiB, true, t);
    full.release();
    expect(budget.tryReserve(hostLevelsOf('192.0.2.2:1'), 8 * MiB, true)).toEqual({ key: SERVER_SCOPE });
    t.done();
    t.done();
    expect(budget.queued).toBe(0);
    expect(budget.tryReserve(hostLevelsOf('192.0.2.2:1'), 8 * MiB, true)).toSatisfy(isCharge);
  });
});

describe('ReplyBudget: the holder goes, not the waiter', () => {
  const STALE = 5_000;

  it('a waiter of a light party closes the stale connections of the heaviest party over its share, only as many as it needs', () => {
    const budget = new ReplyBudget({ perHost: 32 * MiB, total: 64 * MiB, minShare: 8 * MiB, staleAfterMs: STALE });
    // Two silent hosts fill the budget with replies of 4 MiB sent at t = 0 (A: 40 MiB, B: 24 MiB).
    const a = Array.from({ length: 10 }, () => holderAt('192.0.2.1:1'));
    const b = Array.from({ length: 6 }, () => holderAt('192.0.2.2:1'));
    for (const h of [...a, ...b]) budget.charge(h.levels, 4 * MiB, { holder: h, at: 0 });
    expect(budget.holders).toBe(16);
    const newcomer = holderAt('192.0.2.9:1');
    const blocked = budget.tryReserve(newcomer.levels, 8 * MiB, true);
    expect(blocked).toEqual({ key: SERVER_SCOPE });
    if (isCharge(blocked)) throw new Error('unreachable');
    // Not yet stale (5 s plus 1 ms per KiB: 9.1 s for 4 MiB): nobody is closed.
    expect(budget.evictStale(newcomer, blocked, 8 * MiB, true, 9_000)).toBe(0);
    expect(budget.isStale(a[0] as ReplyHolder, 9_000)).toBe(false);
    // Past it (and past the interval between two searches): four of the heaviest party's connections free the
    // 16 MiB missing (8 MiB, and the last 8 MiB that large reservations leave to small ones); the lighter party B
    // is left alone.
    expect(budget.evictStale(newcomer, blocked, 8 * MiB, true, 9_000 + EVICTION_SCAN_INTERVAL_MS)).toBe(4);
    expect(a.filter((h) => h.evicted.length > 0)).toHaveLength(4);
    expect(a.find((h) => h.evicted.length > 0)?.evicted).toEqual([EVICTED_REASON]);
    expect(b.every((h) => h.evicted.length === 0)).toBe(true);
    // The newcomer closes nobody itself, however long it waits.
    expect(newcomer.evicted).toEqual([]);
    // Their bytes are uncounted at once (not at their close, later): the waiter's next try fits before any other
    // waiter is woken to take the room.
    expect(budget.bytes).toBe(48 * MiB);
    expect(budget.bytesOf('192.0.2.1')).toBe(24 * MiB);
    expect(budget.tryReserve(newcomer.levels, 8 * MiB, true)).toSatisfy(isCharge);
  });

  it('never closes a fresh holder, a lighter party or one of its own party, and the heaviest first', () => {
    const budget = new ReplyBudget({ perHost: 64 * MiB, total: 64 * MiB, minShare: 8 * MiB, staleAfterMs: STALE });
    const heavy = holderAt('192.0.2.1:1');
    const fresh = holderAt('192.0.2.2:1');
    const mate = holderAt('192.0.2.3:1');
    budget.charge(heavy.levels, 30 * MiB, { holder: heavy, at: 0 });
    budget.charge(fresh.levels, 30 * MiB, { holder: fresh, at: 20_000 });
    budget.charge(mate.levels, 4 * MiB, { holder: mate, at: 0 });
    // A waiter of party 192.0.2.3 holding 4 MiB, at 40 s: heavy (stale since 35.7 s, 30 MiB, over its 21 MiB
    // share) may go; fresh (stale at 55.7 s) may not.
    const waiter = holderAt('192.0.2.3:2');
    expect(budget.evictStale(waiter, { key: SERVER_SCOPE }, 10 * MiB, false, 40_000)).toBe(1);
    expect(heavy.evicted).toHaveLength(1);
    expect(fresh.evicted).toHaveLength(0);
    // Its own party's stale connection is not its to close at the server level.
    expect(mate.evicted).toHaveLength(0);
    // A waiter of a party heavier than everyone stale closes nobody.
    const budget2 = new ReplyBudget({ perHost: 64 * MiB, total: 64 * MiB, minShare: 8 * MiB, staleAfterMs: STALE });
    const light = holderAt('192.0.2.4:1');
    budget2.charge(light.levels, 10 * MiB, { holder: light, at: 0 });
    const greedy = holderAt('192.0.2.5:1');
    const greedyHolder = holderAt('192.0.2.5:9');
    budget2.charge(greedy.levels, 40 * MiB, { holder: greedyHolder, at: 100_000 });
    expect(budget2.evictStale(greedy, { key: SERVER_SCOPE }, 64 * MiB, false, 100_000)).toBe(0);
    expect(light.evicted).toHaveLength(0);
    // A third party's waiter short of 6 MiB, once greedy's 40 MiB are stale too (at 145 s), closes the heaviest
    // party's connection, which covers what it needs, and not light's.
    const third = holderAt('192.0.2.6:1');
    expect(budget2.evictStale(third, { key: SERVER_SCOPE }, 20 * MiB, false, 200_000)).toBe(1);
    expect(greedyHolder.evicted).toHaveLength(1);
    expect(light.evicted).toHaveLength(0);
  });

  it("at a host level, a waiter closes that host's stale connections holding more than it", () => {
    const budget = new ReplyBudget({ perHost: 16 * MiB, total: 256 * MiB, staleAfterMs: STALE });
    const silent = [0, 1, 2, 3].map(() => holderAt('192.0.2.1:1'));
    for (const h of silent) budget.charge(h.levels, 4 * MiB, { holder: h, at: 0 });
    const elsewhere = holderAt('192.0.2.7:1');
    budget.charge(elsewhere.levels, 4 * MiB, { holder: elsewhere, at: 0 });
    const neighbour = holderAt('192.0.2.1:2');
    const blocked = budget.tryReserve(neighbour.levels, 8 * MiB, true);
    expect(blocked).toMatchObject({ key: '192.0.2.1' });
    if (isCharge(blocked)) throw new Error('unreachable');
    expect(budget.evictStale(neighbour, blocked, 8 * MiB, true, 60_000)).toBe(2);
    expect(silent.filter((h) => h.evicted.length > 0)).toHaveLength(2);
    // Another host's holders are not this host level's to close.
    expect(elsewhere.evicted).toHaveLength(0);
  });

  it('closes no stale holder of a party lighter than the waiting one', () => {
    const budget = new ReplyBudget({ perHost: 64 * MiB, total: 64 * MiB, minShare: 8 * MiB, staleAfterMs: STALE });
    const light = holderAt('192.0.2.1:1');
    budget.charge(light.levels, 4 * MiB, { holder: light, at: 0 });
    const fresh = holderAt('192.0.2.3:1');
    budget.charge(fresh.levels, 46 * MiB, { holder: fresh, at: 1_000_000 });
    const waiter = holderAt('192.0.2.2:1');
    budget.charge(waiter.levels, 10 * MiB, { holder: holderAt('192.0.2.2:2'), at: 1_000_000 });
    // 60 MiB held: the waiter (10 MiB, within its 21 MiB share) lacks 6 MiB for 10 more. Only light's 4 MiB are
    // stale, and light holds less than the waiter's party: nobody is closed.
    const blocked = budget.tryReserve(waiter.levels, 10 * MiB);
    expect(blocked).toEqual({ key: SERVER_SCOPE });
    if (isCharge(blocked)) throw new Error('unreachable');
    expect(budget.evictStale(waiter, blocked, 10 * MiB, false, 1_000_001)).toBe(0);
    expect(light.evicted).toHaveLength(0);
  });

  it("a waiter held back by its own party's share closes no other party's holder, only its own party's stale ones", () => {
    const budget = new ReplyBudget({ perHost: 64 * MiB, total: 64 * MiB, minShare: 8 * MiB, staleAfterMs: STALE });
    // The server is full: another party holds 34 MiB, stale and heavier than the waiter's.
    const other = holderAt('192.0.2.2:1');
    budget.charge(other.levels, 34 * MiB, { holder: other, at: 0 });
    // The waiter's party holds 30 MiB: a stale connection of 20 MiB and a fresh one of 10 MiB.
    const mate = holderAt('192.0.2.1:2');
    budget.charge(mate.levels, 20 * MiB, { holder: mate, at: 0 });
    const fresh = holderAt('192.0.2.1:3');
    budget.charge(fresh.levels, 10 * MiB, { holder: fresh, at: 1_000_000 });
    // 30 + 4 passes its 32 MiB share: it waits for its own party.
    const waiter = holderAt('192.0.2.1:1');
    const blocked = budget.tryReserve(waiter.levels, 4 * MiB);
    expect(blocked).toEqual({ key: SERVER_SCOPE, wakeKey: '192.0.2.1' });
    if (isCharge(blocked)) throw new Error('unreachable');
    expect(budget.evictStale(waiter, blocked, 4 * MiB, false, 1_000_000)).toBe(1);
    // Not the other party's, though it is stale, heavier and the server is full.
    expect(other.evicted).toHaveLength(0);
    // Its own party's stale one (before: nobody, so the waiter waited for the transport to drop it).
    expect(mate.evicted).toEqual([EVICTED_REASON]);
    expect(fresh.evicted).toHaveLength(0);
    expect(budget.tryReserve(waiter.levels, 4 * MiB)).toSatisfy(isCharge);
  });

  it("a neighbour behind one address whose party's share binds before its host budget closes the address's stale holders", () => {
    // The defaults: 32 MiB a host, 256 MiB in all. Thirteen parties holding make a share of 19.7 MiB, under the
    // host's 32 MiB: the share is what holds the neighbour back, at the server, not the host level.
    const budget = new ReplyBudget({ perHost: 32 * MiB, staleAfterMs: STALE });
    // 120 MiB held by twelve others: with the address's 20 and the request's 8, past half the server's 256.
    for (let i = 0; i < 12; i++) budget.charge(hostLevelsOf(`198.51.100.${i + 1}:1`), 10 * MiB);
    const silent = [0, 1, 2, 3, 4].map((i) => holderAt(`192.0.2.1:${100 + i}`));
    for (const h of silent) budget.charge(h.levels, 4 * MiB, { holder: h, at: 0 });
    const neighbour = holderAt('192.0.2.1:2');
    const reserve = 8 * MiB + 256;
    const blocked = budget.tryReserve(neighbour.levels, reserve, true, budget.ticket());
    // 20 MiB held by the address, 140 MiB of 256 by the server: neither its host budget nor the server is full.
    expect(budget.wouldOverflow(neighbour.levels, reserve)).toBeUndefined();
    expect(blocked).toEqual({ key: SERVER_SCOPE, wakeKey: '192.0.2.1' });
    if (isCharge(blocked)) throw new Error('unreachable');
    // Once they are stale, its wait closes as many of them as it lacks (before: none, however long it waited).
    expect(budget.evictStale(neighbour, blocked, reserve, true, 60_000)).toBe(3);
    expect(silent.filter((h) => h.evicted.length > 0)).toHaveLength(3);
    expect(budget.tryReserve(neighbour.levels, reserve, true)).toSatisfy(isCharge);
  });

  it('the fair share binds only past half the server budget: a NAT address of many readers is not held to it on a server mostly free', () => {
    const budget = new ReplyBudget({ perHost: 32 * MiB, staleAfterMs: STALE });
    // Thirteen parties holding make a share of 19.7 MiB; the server holds 20.75 MiB of its 256.
    for (let i = 0; i < 12; i++) budget.charge(hostLevelsOf(`198.51.100.${i + 1}:1`), 64 * 1024);
    const nat = hostLevelsOf('192.0.2.1:1');
    for (let i = 0; i < 5; i++) budget.charge(nat, 4 * MiB);
    expect(budget.fairShare('192.0.2.1')).toBeLessThan(20 * MiB);
    // A third thread in flight for the address (before: refused, waiting for its own acknowledgements).
    expect(budget.tryReserve(nat, 8 * MiB + 256, true, budget.ticket())).toSatisfy(isCharge);
    // Past half the budget the share binds again: others fill the server to 130 MiB, and the address waits.
    for (let i = 0; i < 12; i++) budget.charge(hostLevelsOf(`198.51.100.${i + 1}:1`), 9 * MiB);
    expect(budget.bytes).toBeGreaterThan(128 * MiB);
    expect(budget.tryReserve(nat, 2 * MiB, false)).toEqual({ key: SERVER_SCOPE, wakeKey: '192.0.2.1' });
  });

  it('searches a scope at most once per interval', () => {
    const budget = new ReplyBudget({ perHost: 16 * MiB, total: 256 * MiB, staleAfterMs: STALE });
    const silent = [0, 1, 2].map(() => holderAt('192.0.2.1:1'));
    for (const h of silent) budget.charge(h.levels, 4 * MiB, { holder: h, at: 0 });
    const waiter = holderAt('192.0.2.1:2');
    const scope = { key: '192.0.2.1' };
    // 12 MiB held: a waiter of 8 MiB is 4 MiB short, one holder.
    expect(budget.evictStale(waiter, scope, 8 * MiB, false, 60_000)).toBe(1);
    // 8 MiB held: a waiter of 12 MiB is 4 MiB short, but the scope was searched just now.
    expect(budget.evictStale(waiter, scope, 12 * MiB, false, 60_000 + EVICTION_SCAN_INTERVAL_MS - 1)).toBe(0);
    expect(budget.evictStale(waiter, scope, 12 * MiB, false, 60_000 + EVICTION_SCAN_INTERVAL_MS)).toBe(1);
  });

  it('forgets a holder once its replies are released', () => {
    const budget = new ReplyBudget({ perHost: 16 * MiB, total: 256 * MiB });
    const h = holderAt('192.0.2.1:1');
    const c1 = budget.charge(h.levels, MiB, { holder: h, at: 0 });
    const c2 = budget.charge(h.levels, MiB, { holder: h, at: 10 });
    expect(budget.heldBy(h)).toBe(2 * MiB);
    c1.release();
    // Its oldest is now the one sent at 10 ms.
    expect(budget.isStale(h, 10 + STALE_AFTER_MS + 1024)).toBe(false);
    expect(budget.isStale(h, 10 + STALE_AFTER_MS + 1025)).toBe(true);
    c2.release();
    c2.release();
    expect(budget.holders).toBe(0);
    expect(budget.heldBy(h)).toBe(0);
    expect(budget.size).toBe(0);
    expect(budget.bytes).toBe(0);
  });
});
