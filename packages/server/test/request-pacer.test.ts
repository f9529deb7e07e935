import { describe, expect, it } from 'vitest';
import { REPLY_BYTES_PER_TURN, RequestPacer } from '../src/request-pacer.js';

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

  it('refuses a rate that is not a positive number', () => {
    expect(() => new RequestPacer(0)).toThrow(RangeError);
    expect(() => new RequestPacer(Number.NaN)).toThrow(RangeError);
  });
});
