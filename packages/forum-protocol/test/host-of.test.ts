/**
 * Every forum per-host limit counts an IPv6 /64 as one host, as rudp's
 * connection limit does (attack finding 3: from one /64, 100 accounts were
 * created where 10 are allowed, and 200 login failures counted where 20 are);
 * login throttling and account creation also count its /56 (4 hosts) and
 * its /48 (16 hosts), so one customer's delegation is not 256 or 65,536 hosts.
 */
import { describe, expect, it } from 'vitest';
import { hostKey, hostLevels } from 'rudpx/core';
import { createAccountCreationLimiter, createLoginRateLimiter, hostLevelsOf, hostOf } from '../src/index.js';

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

  /** An address in /64 number `sub` of 2001:db8:`site`::/48 (/64s 0-ff are one /56, 100-1ff the next, ...). */
  const inSite = (site: number, sub: number): string => `[2001:db8:${site.toString(16)}:${sub.toString(16)}::1]:40000`;

  it('hostLevelsOf is rudp hostLevels: a global IPv6 address also counts against its /56 and /48', () => {
    expect(hostLevelsOf(inSite(1, 0x102))).toEqual([
      { key: '2001:db8:1:102::/64', multiple: 1 },
      { key: '2001:db8:1:100::/56', multiple: 4 },
      { key: '2001:db8:1::/48', multiple: 16 },
    ]);
    for (const a of ['10.0.0.1:5', '[2001:db8::5]:7', '[fe80::1%eth0]:1', '[::ffff:10.0.0.1]:1', 'weird']) expect(hostLevelsOf(a)).toEqual(hostLevels(a));
  });

  /** Creates accounts from each of `addresses` in turn until refused there; the number created. */
  const createFrom = (limiter: ReturnType<typeof createAccountCreationLimiter>, addresses: readonly string[]): number => {
    let created = 0;
    for (const a of addresses) {
      for (let r = limiter.reserve(a, 0); r.kind === 'reserved'; r = limiter.reserve(a, 0)) {
        r.reservation.settle('success');
        created++;
      }
    }
    return created;
  };

  it('account creation: 10 per /64, 40 per /56, 160 per /48, however many /64s they are spread over', () => {
    const limiter = createAccountCreationLimiter();
    const subs = (base: number): string[] => Array.from({ length: 256 }, (_, i) => inSite(1, base + i));
    expect(createFrom(limiter, subs(0))).toBe(40);
    expect(createFrom(limiter, [0x100, 0x200, 0x300, 0x400, 0x500].flatMap(subs))).toBe(120);
    expect(createFrom(limiter, subs(0x4000))).toBe(0);
    // Another /48, and IPv4, have their own.
    expect(createFrom(limiter, [inSite(2, 0)])).toBe(10);
    expect(createFrom(limiter, ['192.0.2.1:1'])).toBe(10);
  });

  it('login throttling: 20 failures per /64, 80 per /56, 320 per /48', () => {
    const limiter = createLoginRateLimiter();
    const failFrom = (addresses: readonly string[]): number => {
      let failed = 0;
      for (const [i, a] of addresses.entries()) {
        // Another account each time: the host's limits bind, not the account's.
        for (let r = limiter.reserve(`u${i}-${failed}`, a, 0); r.kind === 'reserved'; r = limiter.reserve(`u${i}-${failed}`, a, 0)) {
          r.reservation.settle('failure');
          failed++;
        }
      }
      return failed;
    };
    expect(failFrom(Array.from({ length: 16 }, (_, i) => inSite(1, i)))).toBe(80);
    expect(failFrom(Array.from({ length: 64 }, (_, i) => inSite(1, 0x100 * (1 + (i >> 2)) + (i & 3))))).toBe(240);
    expect(limiter.blockedFor('fresh', inSite(1, 0xff00), 0)).toBeGreaterThan(0);
    expect(limiter.blockedFor('fresh', inSite(2, 0), 0)).toBe(0);
  });
});
