/**
 * Every forum per-host limit counts an IPv6 /64 as one host, as rudp's
 * connection limit does (attack finding 3: from one /64, 100 accounts were
 * created where 10 are allowed, and 200 login failures counted where 20 are).
 */
import { describe, expect, it } from 'vitest';
import { hostKey } from 'rudpx/core';
import { createAccountCreationLimiter, createLoginRateLimiter, hostOf } from '../src/index.js';

/** The i-th address of one /64, with a port. */
const inOne64 = (i: number): string => `[2001:db8:1:2::${(i + 1).toString(16)}]:40000`;

describe('hostOf: the host key of forum limits', () => {
  it('is rudp hostKey: IPv4 by address, IPv6 by /64, mapped and NAT64 as IPv4, any port', () => {
    expect(hostOf('192.0.2.7:1')).toBe('192.0.2.7');
    expect(hostOf('192.0.2.7')).toBe('192.0.2.7');
    expect(hostOf(inOne64(0))).toBe('2001:db8:1:2::/64');
    expect(hostOf(inOne64(0))).toBe(hostOf(inOne64(999)));
    expect(hostOf('[2001:db8:1:3::1]:1')).not.toBe(hostOf(inOne64(0)));
    expect(hostOf('[::ffff:192.0.2.7]:9')).toBe('192.0.2.7');
    expect(hostOf('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(hostOf('[64:ff9b::c000:207]:9')).toBe('192.0.2.7');
    for (const a of ['10.0.0.1:5', '[2001:db8::5]:7', 'fe80::1%eth0', 'weird']) expect(hostOf(a)).toBe(hostKey(a));
  });

  it('account creation: 10 per host per window, also when each comes from another address of one /64', () => {
    const limiter = createAccountCreationLimiter();
    let created = 0;
    for (let i = 0; i < 100; i++) {
      const r = limiter.reserve(inOne64(i), 0);
      if (r.kind === 'reserved') {
        r.reservation.settle('success');
        created++;
      }
    }
    expect(created).toBe(10);
  });

  it('login throttling: 20 failures per host, also spread over the addresses of one /64', () => {
    const limiter = createLoginRateLimiter();
    let checked = 0;
    for (let i = 0; i < 200; i++) {
      const r = limiter.reserve(`user${i % 40}`, inOne64(i), 0);
      if (r.kind === 'reserved') {
        r.reservation.settle('failure');
        checked++;
      }
    }
    expect(checked).toBe(20);
    // Another /64 is another host.
    expect(limiter.blockedFor('fresh', '[2001:db8:1:3::1]:1', 0)).toBe(0);
  });
});
