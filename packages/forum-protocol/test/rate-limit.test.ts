import { describe, expect, it } from 'vitest';
import { createLoginRateLimiter, hostOf, throttledText } from '../src/index.js';

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
    expect(rl.tracked()).toBeLessThanOrEqual(200);
    // The newest are remembered.
    expect(rl.blockedFor('u9999', undefined, 10_000)).toBe(0);
    for (let k = 0; k < 4; k++) rl.recordFailure('u9999', undefined, 10_000 + k);
    expect(rl.blockedFor('u9999', undefined, 10_010)).toBeGreaterThan(0);
  });

  it('host of an address; message text rounds up to whole seconds', () => {
    expect(hostOf('127.0.0.1:4000')).toBe('127.0.0.1');
    expect(hostOf('[::1]:4000')).toBe('::1');
    expect(hostOf('weird')).toBe('weird');
    expect(throttledText(50_000)).toBe('Too many failed login attempts, try again in 50 seconds');
    expect(throttledText(1)).toBe('Too many failed login attempts, try again in 1 second');
    expect(throttledText(1500)).toBe('Too many failed login attempts, try again in 2 seconds');
  });
});
