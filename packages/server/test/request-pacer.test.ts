import { describe, expect, it } from 'vitest';
import { hostLevelsOf } from 'forum-protocol';
import { HOST_RATE_MULTIPLE, REPLY_BYTES_PER_TURN, RequestPacer, WRITE_TURNS } from '../src/request-pacer.js';

describe('request pacer', () => {
  it('lets a burst of twice the rate through at once, then one request per 1/rate s', () => {
    const p = new RequestPacer(10);
    const waits = Array.from({ length: 25 }, () => p.reserve('user a', 0));
    expect(waits.slice(0, 20)).toEqual(Array(20).fill(0));
    expect(waits.slice(20)).toEqual([100, 200, 300, 400, 500]);
    // 1 s on, ten turns have come back, five of which the queued requests above took.
    expect(p.reserve('user a', 1_000)).toBe(0);
  });

  it('keys are independent: one key in debt does not slow another', () => {
    const p = new RequestPacer(1);
    for (let i = 0; i < 10; i++) p.reserve('host 10.0.0.1', 0);
    expect(p.reserve('host 10.0.0.1', 0)).toBeGreaterThan(0);
    expect(p.reserve('user ann', 0)).toBe(0);
  });

  it('served at its rate over time, a key never waits; past it, the wait is what its debt takes to earn back', () => {
    const p = new RequestPacer(50);
    for (let t = 0; t < 10_000; t += 20) expect(p.reserve('k', t)).toBe(0);
    const p2 = new RequestPacer(50);
    let waited = 0;
    for (let i = 0; i < 600; i++) waited = p2.reserve('k', 0);
    // 600 requests at once: 100 from the burst, 500 more at 50 a second.
    expect(waited).toBe(10_000);
  });

  it('forgets the key used longest ago past maxTracked', () => {
    const p = new RequestPacer(1, 2);
    for (let i = 0; i < 5; i++) p.reserve('a', 0);
    p.reserve('b', 0);
    p.reserve('c', 0);
    expect(p.reserve('a', 0)).toBe(0);
  });

  it('a large reply costs its key a turn for every 64 KiB: a loop of full-thread reads is paced by bytes', () => {
    const p = new RequestPacer(100);
    // A 4 MiB reply: 64 more turns, 65 with its request's. Four such requests start within the burst of 200
    // (the fourth takes it into debt); the fifth waits for the debt, 60 turns at 100 a second.
    for (let i = 0; i < 4; i++) {
      expect(p.reserve('user a', 0)).toBe(0);
      p.replied('user a', 4 * 1024 * 1024, 0);
    }
    expect(p.reserve('user a', 0)).toBe(610);
    // A reply under 64 KiB costs nothing more than its request's turn.
    const q = new RequestPacer(1);
    for (let i = 0; i < 2; i++) {
      expect(q.reserve('user b', 0)).toBe(0);
      q.replied('user b', REPLY_BYTES_PER_TURN - 1, 0);
    }
    expect(q.reserve('user b', 0)).toBe(1_000);
  });

  it('the accounts of one host share HOST_RATE_MULTIPLE times the rate: ten accounts of one address are not served ten accounts\' worth', () => {
    // Attack round 10 (attack/request-cost.ts msg-own 10 1): paced by account alone, ten accounts of one address
    // were served 1,108 MSGs a second. A request takes its host's turn once its account's has come (the server
    // waits for the one, then the other), as `serve` does here.
    const p = new RequestPacer(100);
    const host = hostLevelsOf('10.0.0.1:4000');
    const serve = (account: string, now: number): number => {
      const wait = p.reserve(account, now);
      return wait + p.reserveHosts(host, now + wait);
    };
    expect(HOST_RATE_MULTIPLE).toBe(4);
    // Ten accounts each send their burst (200) at once: the host's burst (twice 4 × 100) goes at once, and the
    // other 1,200 at the host's 400 a second, the last 3 s later. By account alone all 2,000 went at once.
    const waits = Array.from({ length: 10 }, (_, a) => Array.from({ length: 200 }, () => serve(`user u${a}`, 0))).flat();
    expect(waits.filter((w) => w === 0)).toHaveLength(800);
    expect(Math.max(...waits)).toBe(3_000);
    // 3 s later the host has just earned its debt back: one more request waits one turn (2.5 ms, in whole ms).
    expect(serve('user u0', 3_000)).toBe(3);
    // Another host's account is not slowed by that host's debt, and neither is a request not yet logged in.
    expect(p.reserve('user v', 0) + p.reserveHosts(hostLevelsOf('10.0.0.2:4000'), 0)).toBe(0);
    expect(p.reserve('host 10.0.0.1', 0)).toBe(0);
  });

  it('an IPv6 host\'s /56 and /48 share 4 and 16 times its host\'s rate: a /48\'s 65,536 /64s are not 65,536 hosts', () => {
    const p = new RequestPacer(10);
    let atOnce = 0;
    // 64 /64s of one /56 (and /48), one account each, each sending its burst of 20 at once.
    for (let h = 0; h < 64; h++) {
      const levels = hostLevelsOf(`[2001:db8:0:${h.toString(16)}::1]:4000`);
      for (let i = 0; i < 20; i++) if (p.reserve(`user u${h}`, 0) === 0 && p.reserveHosts(levels, 0) === 0) atOnce++;
    }
    // The /56's burst: twice 10 × 4 (host multiple) × 4 (the /56's), where each /64 alone would allow 80.
    expect(atOnce).toBe(2 * 10 * HOST_RATE_MULTIPLE * 4);
  });

  it('a large reply charges the host as it charges the account', () => {
    const p = new RequestPacer(100);
    const host = hostLevelsOf('10.0.0.1:4000');
    // Eleven accounts each read one 4 MiB reply (65 turns each: 715 of the host's 800); then a twelfth account's
    // requests: the host has 85 turns left, so 85 go at once, and the 100th waits for 15 turns at 400 a second.
    for (let a = 0; a < 11; a++) {
      expect(p.reserve(`user r${a}`, 0) + p.reserveHosts(host, 0)).toBe(0);
      p.replied(`user r${a}`, 4 * 1024 * 1024, 0, host);
    }
    const waits = Array.from({ length: 100 }, () => p.reserveHosts(host, 0));
    expect(waits.filter((w) => w === 0)).toHaveLength(85);
    expect(waits[99]).toBe(Math.ceil((15 * 1000) / 400));
  });

  it('a charge after the fact takes its turns from the account and its host: a write costs WRITE_TURNS', () => {
    const p = new RequestPacer(10);
    const host = hostLevelsOf('10.0.0.1:4000');
    // Writes of 4 turns each from a burst of 20: five go at once, the sixth's own turn is a debt of one (100 ms).
    const waits = Array.from({ length: 6 }, () => {
      const wait = p.reserve('user w', 0) + p.reserveHosts(host, 0);
      p.charge('user w', WRITE_TURNS - 1, 0, host);
      return wait;
    });
    expect(WRITE_TURNS).toBe(4);
    expect(waits).toEqual([0, 0, 0, 0, 0, 100]);
    // The host was charged the same 24 turns, of its 80.
    const hostWaits = Array.from({ length: 57 }, () => p.reserveHosts(host, 0));
    expect(hostWaits.filter((w) => w === 0)).toHaveLength(56);
    // No charge for nothing.
    p.charge('user z', 0, 0, host);
    expect(p.reserve('user z', 0)).toBe(0);
  });

  it("one account at its full pace, writing and reading 8 MiB replies, never delays a person of its host; 100 people behind one NAT never wait", () => {
    // Review s29: the host's share is four accounts' worth, so one greedy account (its own turns, its writes' and
    // its replies' charges, all of which its account pays too) takes at most a quarter of it.
    const p = new RequestPacer(100);
    const host = hostLevelsOf('[2001:db8:1:2::5]:4000');
    const serve = (account: string, now: number): number => {
      const wait = p.reserve(account, now);
      return wait + p.reserveHosts(host, now + wait);
    };
    let greedyFree = 0;
    const personWaits: number[] = [];
    for (let now = 0; now < 60_000; now++) {
      if (now >= greedyFree) {
        const done = now + serve('user greedy', now);
        p.charge('user greedy', WRITE_TURNS - 1, done, host);
        p.replied('user greedy', now % 3 === 0 ? 8 * 1024 * 1024 : 100, done, host);
        greedyFree = done + 1;
      }
      if (now % 2_000 === 0) personWaits.push(serve('user person', now));
    }
    expect(personWaits).toHaveLength(30);
    expect(Math.max(...personWaits)).toBe(0);
    // 100 people behind one IPv4 address, each a write every 3 s (a person types slower), staggered: none waits.
    const q = new RequestPacer(100);
    const nat = hostLevelsOf('192.0.2.7:5000');
    const waits: number[] = [];
    for (let now = 0; now < 30_000; now += 30) {
      const user = `user p${(now / 30) % 100}`;
      const wait = q.reserve(user, now);
      const all = wait + q.reserveHosts(nat, now + wait);
      q.charge(user, WRITE_TURNS - 1, now + all, nat);
      waits.push(all);
    }
    expect(Math.max(...waits)).toBe(0);
  });

  it('refuses a rate that is not a positive number', () => {
    expect(() => new RequestPacer(0)).toThrow(RangeError);
    expect(() => new RequestPacer(Number.NaN)).toThrow(RangeError);
  });
});
