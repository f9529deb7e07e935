import { describe, expect, it } from 'vitest';
import { createAccountCreationLimiter, createLoginRateLimiter, hostOf, throttledText } from '../src/index.js';

describe('login rate limiter (fake clock)', () => {
  it('throttles an account after 5 failures in a minute, until the oldest leaves the window', () => {
    const rl = createLoginRateLimiter();
    for (let i = 0; i < 5; i++) {
      expect(rl.blockedFor('ann', '10.0.0.1:5000', i * 1000)).toBe(0);
      rl.recordFailure('ann', '10.0.0.1:5000', i * 1000);
    }
    // Failures at 0..4 s: the first leaves the window at 60 s.
    expect(rl.blockedFor('ann', '10.0.0.9:1', 10_000)).toBe(50_000);
    expect(rl.blockedFor('ann', undefined, 59_999)).toBe(1);
    expect(rl.blockedFor('ann', undefined, 60_000)).toBe(0);
    expect(rl.blockedFor('bob', '10.0.0.2:5000', 10_000)).toBe(0);
  });

  it('a successful login clears the account count but not the host count', () => {
    const rl = createLoginRateLimiter({ maxFailuresPerAccount: 3, maxFailuresPerAddress: 4 });
    for (let i = 0; i < 3; i++) rl.recordFailure('ann', '10.0.0.1:1', i);
    expect(rl.blockedFor('ann', undefined, 10)).toBeGreaterThan(0);
    rl.recordSuccess('ann');
    expect(rl.blockedFor('ann', undefined, 10)).toBe(0);
    rl.recordFailure('bob', '10.0.0.1:2', 20);
    expect(rl.blockedFor('carl', '10.0.0.1:3', 30)).toBe(60_000 - 30);
  });

  it('throttles a host after 20 failures over many accounts, whatever its port', () => {
    const rl = createLoginRateLimiter();
    for (let i = 0; i < 20; i++) rl.recordFailure(`user${i}`, `192.0.2.7:${40000 + i}`, 1000 + i);
    expect(rl.blockedFor('fresh', '192.0.2.7:1', 2000)).toBe(1000 + 60_000 - 2000);
    expect(rl.blockedFor('fresh', '192.0.2.8:1', 2000)).toBe(0);
    expect(rl.blockedFor('fresh', '[::1]:1', 2000)).toBe(0);
  });

  it('keeps at most maxTracked accounts and hosts', () => {
    const rl = createLoginRateLimiter({ maxTracked: 100 });
    for (let i = 0; i < 10_000; i++) rl.recordFailure(`u${i}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:1`, i);
    expect(rl.tracked()).toBeLessThanOrEqual(400); // four windows: failures and checks, by account and by host
    // The newest are remembered.
    expect(rl.blockedFor('u9999', undefined, 10_000)).toBe(0);
    for (let k = 0; k < 4; k++) rl.recordFailure('u9999', undefined, 10_000 + k);
    expect(rl.blockedFor('u9999', undefined, 10_010)).toBeGreaterThan(0);
  });

  it('host of an address; message text rounds up to whole seconds', () => {
    expect(hostOf('127.0.0.1:4000')).toBe('127.0.0.1');
    expect(hostOf('[::1]:4000')).toBe('0:0:0:0::/64');
    expect(hostOf('weird')).toBe('weird');
    expect(throttledText(50_000)).toBe('Too many failed login attempts, try again in 50 seconds');
    expect(throttledText(1)).toBe('Too many failed login attempts, try again in 1 second');
    expect(throttledText(1500)).toBe('Too many failed login attempts, try again in 2 seconds');
  });
});

describe('attempts in flight count (reserve before the slow check)', () => {
  it('200 reservations at the same instant from one host: only the host limit get a slot', () => {
    const rl = createLoginRateLimiter({ maxFailuresPerAccount: 5, maxFailuresPerAddress: 20 });
    const granted = Array.from({ length: 200 }, (_, i) => rl.reserve(`user${i % 50}`, `127.0.0.1:${10000 + i}`, 1000)).filter((r) => r.kind === 'reserved');
    expect(granted).toHaveLength(20);
  });

  it('per account: 5 in flight block the sixth from any host, before any of them is settled', () => {
    const rl = createLoginRateLimiter({ maxFailuresPerAccount: 5, maxFailuresPerAddress: 1000 });
    const slots = Array.from({ length: 5 }, (_, i) => rl.reserve('ann', `10.0.0.${i}:1`, 0));
    expect(slots.every((s) => s.kind === 'reserved')).toBe(true);
    const sixth = rl.reserve('ann', '10.0.1.1:1', 0);
    expect(sixth.kind).toBe('throttled');
    expect(rl.blockedFor('bob', '10.0.1.1:1', 0)).toBe(0);
  });

  it('a cancelled slot is freed; a failure stays counted for the window; a success clears the account only', () => {
    const rl = createLoginRateLimiter({ maxFailuresPerAccount: 2, maxFailuresPerAddress: 3 });
    const a = rl.reserve('ann', '10.0.0.1:1', 0);
    const b = rl.reserve('ann', '10.0.0.1:2', 0);
    if (a.kind !== 'reserved' || b.kind !== 'reserved') throw new Error('expected slots');
    expect(rl.blockedFor('ann', undefined, 0)).toBe(60_000);
    a.reservation.settle('cancel');
    a.reservation.settle('failure'); // a second settle does nothing
    expect(rl.blockedFor('ann', undefined, 1)).toBe(0);
    b.reservation.settle('failure');
    const c = rl.reserve('ann', '10.0.0.1:3', 10);
    if (c.kind !== 'reserved') throw new Error('expected a slot');
    expect(rl.reserve('ann', '10.0.0.2:1', 10).kind).toBe('throttled');
    c.reservation.settle('success');
    expect(rl.blockedFor('ann', undefined, 20)).toBe(0);
    // The host still has b's failure and c's slot is gone: 1 of 3 used.
    expect(rl.blockedFor('zed', '10.0.0.1:9', 20)).toBe(0);
  });

  it('many accounts, interleaved reservations and settlements: never more than the host limit open or counted', () => {
    const rl = createLoginRateLimiter({ maxFailuresPerAccount: 5, maxFailuresPerAddress: 20 });
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const open: { settle: (o: 'failure' | 'success' | 'cancel') => void }[] = [];
    let checked = 0;
    for (let step = 0; step < 5000; step++) {
      const now = 1000 + step; // all within one window
      if (rnd() < 0.6) {
        const r = rl.reserve(`u${Math.floor(rnd() * 500)}`, `127.0.0.1:${step}`, now);
        if (r.kind === 'reserved') {
          checked++;
          open.push(r.reservation);
        }
      } else if (open.length > 0) {
        open.splice(Math.floor(rnd() * open.length), 1)[0]?.settle('failure');
      }
    }
    expect(checked).toBe(20);
  });
});

describe('account creation limiter', () => {
  it('counts creations per host, in flight included; a failed creation frees its slot', async () => {
    const { createAccountCreationLimiter } = await import('../src/index.js');
    const lim = createAccountCreationLimiter({ maxPerHost: 3, windowMs: 1000 });
    const slots = [1, 2, 3].map((p) => lim.reserve(`10.0.0.1:${p}`, 0));
    expect(slots.every((s) => s.kind === 'reserved')).toBe(true);
    expect(lim.reserve('10.0.0.1:9', 0)).toEqual({ kind: 'throttled', retryAfterMs: 1000 });
    expect(lim.reserve('10.0.0.2:9', 0).kind).toBe('reserved');
    const first = slots[0];
    if (first?.kind !== 'reserved') throw new Error('expected a slot');
    first.reservation.settle('cancel');
    expect(lim.reserve('10.0.0.1:9', 1).kind).toBe('reserved');
    for (const s of slots.slice(1)) if (s.kind === 'reserved') s.reservation.settle('success');
    expect(lim.reserve('10.0.0.1:10', 500).kind).toBe('throttled');
    expect(lim.reserve('10.0.0.1:10', 1001).kind).toBe('reserved');
  });
});

describe('login and account-creation limits across a step of the wall clock', () => {
  const HOUR = 3_600_000;

  it('an account locked by 5 failures just before the clock is set back an hour is free one window after the step, not an hour later', () => {
    const rl = createLoginRateLimiter();
    for (let i = 0; i < 5; i++) rl.recordFailure('ann', '10.0.0.1:5000', 10 * HOUR + i);
    expect(rl.blockedFor('ann', '10.0.0.2:1', 10 * HOUR + 10)).toBe(60_000 - 10);
    const stepped = 9 * HOUR + 10;
    // Refused for at most one window from the step (it was 3,660,000 ms before the fix)...
    expect(rl.blockedFor('ann', '10.0.0.2:1', stepped)).toBe(60_000);
    expect(rl.blockedFor('ann', '10.0.0.2:1', stepped + 59_999)).toBe(1);
    // ...and free after it.
    expect(rl.blockedFor('ann', '10.0.0.2:1', stepped + 60_000)).toBe(0);
  });

  it('a host throttled before the step, and a reservation in flight across it, wait one window from the step', () => {
    const rl = createLoginRateLimiter({ maxFailuresPerAccount: 100, maxFailuresPerAddress: 3 });
    for (let i = 0; i < 2; i++) rl.recordFailure(`u${i}`, '192.0.2.7:1', 5 * HOUR);
    const r = rl.reserve('u9', '192.0.2.7:2', 5 * HOUR);
    expect(r.kind).toBe('reserved');
    const stepped = 4 * HOUR;
    expect(rl.blockedFor('fresh', '192.0.2.7:3', stepped)).toBe(60_000);
    if (r.kind === 'reserved') r.reservation.settle('failure');
    expect(rl.blockedFor('fresh', '192.0.2.7:3', stepped + 60_000)).toBe(0);
  });

  it('an attempt in flight across the step, then counted as a failure, counts from the step, not from the next look after it', () => {
    // One failure an account: the attempt is the window's only event, so its date is the wait's (the test
    // above has counted events decide it). Settled, it was dated by its reservation, after the clock, and the
    // next look moved it to then: refused 60,000 ms more at 6 h + 60 s, and 3,660,000 before 97299ad.
    const rl = createLoginRateLimiter({ maxFailuresPerAccount: 1 });
    const r = rl.reserve('bo', '10.0.0.3:1', 7 * HOUR);
    expect(r.kind).toBe('reserved');
    expect(rl.blockedFor('bo', '10.0.0.4:1', 6 * HOUR)).toBe(60_000);
    if (r.kind === 'reserved') r.reservation.settle('failure');
    expect(rl.blockedFor('bo', '10.0.0.4:1', 6 * HOUR + 60_000)).toBe(0);
  });

  it('new accounts of a host, refused before the clock is set back, are allowed again one window after the step', () => {
    const limiter = createAccountCreationLimiter({ maxPerHost: 2, windowMs: 600_000 });
    for (let i = 0; i < 2; i++) {
      const r = limiter.reserve('192.0.2.9:1', 20 * HOUR);
      if (r.kind === 'reserved') r.reservation.settle('success');
    }
    expect(limiter.reserve('192.0.2.9:1', 20 * HOUR + 1).kind).toBe('throttled');
    const stepped = 19 * HOUR;
    const during = limiter.reserve('192.0.2.9:1', stepped);
    expect(during.kind === 'throttled' ? during.retryAfterMs : 0).toBe(600_000);
    expect(limiter.reserve('192.0.2.9:1', stepped + 600_000).kind).toBe('reserved');
  });
});
