import { describe, expect, it } from 'vitest';
import { hostKey, hostLevels } from '../../src/core/host-key.js';
import { HostTally } from '../../src/core/host-tally.js';

describe('hostKey', () => {
  it('counts an IPv4 address by itself, whatever the port', () => {
    expect(hostKey('203.0.113.7:5000')).toBe('203.0.113.7');
    expect(hostKey('203.0.113.7:6000')).toBe('203.0.113.7');
  });

  it('counts an IPv6 address by its /64, however it is written', () => {
    const key = '2001:db8:0:1::/64';
    for (const a of ['[2001:db8:0:1::1]:1', '[2001:0DB8:0000:0001:ffff:ffff:ffff:ffff]:2', '[2001:db8::1:0:0:0:5]:3', '[2001:db8:0:1::1%eth0]:4']) {
      expect(hostKey(a)).toBe(key);
    }
    expect(hostKey('[2001:db8:0:2::1]:1')).toBe('2001:db8:0:2::/64');
    expect(hostKey('[::1]:1')).toBe('0:0:0:0::/64');
    // Link-local: the same prefix on every link, told apart by the zone.
    expect(hostKey('[fe80::1%eth0]:1')).toBe('fe80:0:0:0::/64%eth0');
    expect(hostKey('[fe80::2%eth1]:1')).toBe('fe80:0:0:0::/64%eth1');
  });

  it('counts an IPv4-mapped IPv6 address as the IPv4 address', () => {
    expect(hostKey('[::ffff:203.0.113.7]:5000')).toBe('203.0.113.7');
    expect(hostKey('[::ffff:cb00:7107]:5000')).toBe('203.0.113.7');
    // Behind a NAT64 gateway every IPv4 client arrives under 64:ff9b::/96: each still counts as itself.
    expect(hostKey('[64:ff9b::203.0.113.7]:5000')).toBe('203.0.113.7');
    expect(hostKey('[64:ff9b::198.51.100.1]:5000')).toBe('198.51.100.1');
  });

  it('falls back to the host as written for what is not an IP address', () => {
    expect(hostKey('c12:1')).toBe('c12');
    expect(hostKey('[1:2:3:4:5:6:7:8:9]:1')).toBe('1:2:3:4:5:6:7:8:9');
    expect(hostKey('[1::2::3]:1')).toBe('1::2::3');
    expect(hostKey('[::ffff:300.1.1.1]:1')).toBe('::ffff:300.1.1.1');
    expect(hostKey('garbage')).toBe('garbage');
    // Malformed IPv6: a `::` that stands for no group, too many or too long groups, stray colons, bad digits or dotted tails.
    for (const bad of ['1:2:3:4::5:6:7:8', '1:2:3:4:5:6:7', '12345::1', ':1::2', '1::2:', ':::', '1:::2', 'g::1', '::ffff:1.2.3', '::ffff:1.2.3.4.5', '::ffff:1.2.3.4:5', '::ffff:1.2.3.1234', '::ffff:1..2.3']) {
      expect(hostKey(`[${bad}]:1`)).toBe(bad);
    }
    expect(hostKey('[1:2:3:4:5:6:7:8]:1')).toBe('1:2:3:4::/64');
    expect(hostKey('[1:2:3:4:5:6::8]:1')).toBe('1:2:3:4::/64');
    expect(hostKey('[::2:3:4:5:6:7:8]:1')).toBe('0:2:3:4::/64');
    expect(hostKey('[a:b:c:d::]:1')).toBe('a:b:c:d::/64');
    expect(hostKey('[::ffff:010.0.0.1]:1')).toBe('10.0.0.1');
  });
});

/** `hostLevels` as `key×multiple` strings, for short expectations. */
const levels = (address: string): string[] => hostLevels(address).map((l) => `${l.key}×${l.multiple}`);

describe('hostLevels', () => {
  it('counts a global IPv6 address against its /64, its /56 (4 hosts) and its /48 (16 hosts), however it is written', () => {
    const expected = ['2001:db8:0:1ff::/64×1', '2001:db8:0:100::/56×4', '2001:db8:0::/48×16'];
    for (const a of ['[2001:db8:0:1ff::1]:1', '[2001:0DB8:0000:01FF:ffff:ffff:ffff:ffff]:2', '[2001:DB8::1FF:0:0:0:5]:3', '[2001:db8:0:1ff::1%eth0]:4', '2001:db8:0:1ff::9']) {
      expect(levels(a)).toEqual(expected);
    }
    expect(levels('[2001:db8::1]:1')).toEqual(['2001:db8:0:0::/64×1', '2001:db8:0:0::/56×4', '2001:db8:0::/48×16']);
    expect(levels('[::]:1')).toEqual(['0:0:0:0::/64×1', '0:0:0:0::/56×4', '0:0:0::/48×16']);
    expect(levels('[::1]:1')).toEqual(['0:0:0:0::/64×1', '0:0:0:0::/56×4', '0:0:0::/48×16']);
  });

  it('puts the /64s of one /56 under one /56 key and the /56s of one /48 under one /48 key, and no further', () => {
    const key = (a: string, i: number): string => (hostLevels(a)[i] as { key: string }).key;
    // 2001:db8:7:0 to 2001:db8:7:ff are one /56; 2001:db8:7:100 starts the next.
    expect(key('[2001:db8:7::1]:1', 1)).toBe(key('[2001:db8:7:ff::1]:1', 1));
    expect(key('[2001:db8:7:100::1]:1', 1)).not.toBe(key('[2001:db8:7:ff::1]:1', 1));
    expect(key('[2001:db8:7:100::1]:1', 2)).toBe(key('[2001:db8:7:ffff::1]:1', 2));
    expect(key('[2001:db8:8::1]:1', 2)).not.toBe(key('[2001:db8:7::1]:1', 2));
  });

  it('counts IPv4 (also mapped or NAT64), link-local (with its zone) and non-addresses as their host alone', () => {
    expect(levels('203.0.113.7:5000')).toEqual(['203.0.113.7×1']);
    expect(levels('[::ffff:203.0.113.7]:5000')).toEqual(['203.0.113.7×1']);
    expect(levels('[::FFFF:CB00:7107]:5000')).toEqual(['203.0.113.7×1']);
    expect(levels('[64:ff9b::203.0.113.7]:5000')).toEqual(['203.0.113.7×1']);
    expect(levels('[fe80::1%eth0]:1')).toEqual(['fe80:0:0:0::/64%eth0×1']);
    expect(levels('[FE80::2%eth1]:1')).toEqual(['fe80:0:0:0::/64%eth1×1']);
    expect(levels('[1::2::3]:1')).toEqual(['1::2::3×1']);
    expect(levels('c12:1')).toEqual(['c12×1']);
  });

  it('agrees with hostKey on the host itself', () => {
    for (const a of ['[2001:db8::1]:1', '10.0.0.1:1', '[fe80::1%eth0]:1', '[::ffff:10.0.0.1]:1', 'garbage']) expect(hostLevels(a)[0]?.key).toBe(hostKey(a));
  });
});

describe('HostTally', () => {
  it('admits up to the limit at every level and forgets every level on release', () => {
    const tally = new HostTally(1);
    const in56 = (i: number) => hostLevels(`[2001:db8:0:${i.toString(16)}::1]:1`);
    for (let i = 0; i < 4; i++) {
      expect(tally.full(in56(i))).toBeUndefined();
      tally.add(in56(i));
    }
    // The /64s 0 to 3 are each full, and so is their /56; /64 4 is free but its /56 is not.
    expect(tally.full(in56(0))?.key).toBe('2001:db8:0:0::/64');
    expect(tally.full(in56(4))?.key).toBe('2001:db8:0:0::/56');
    expect(tally.count('2001:db8:0::/48')).toBe(4);
    for (let i = 0; i < 4; i++) tally.remove(in56(i));
    expect(tally.size).toBe(0);
  });
});

describe('HostTally.fullForMove', () => {
  it('checks the new host without counting the moving connection twice where the two addresses share a prefix', () => {
    const t = new HostTally(1);
    // Four /64s of one /56, one connection each: the /56 is at its limit (4 x 1).
    const at = (n: number): string => `[2001:db8:0:10${n}::1]:5000`;
    for (let n = 0; n < 4; n++) t.add(hostLevels(at(n)));
    expect(t.full(hostLevels(at(4)))?.key).toBe('2001:db8:0:100::/56');
    // A connection moving from one of those /64s to a fifth in the same /56 takes no more of the /56.
    expect(t.fullForMove(hostLevels(at(0)), hostLevels(at(4)))).toBeUndefined();
    // Into a /64 that already has its one: full there.
    expect(t.fullForMove(hostLevels(at(0)), hostLevels(at(1)))?.key).toBe('2001:db8:0:101::/64');
    // From another /56 of the /48 into this /56: the /56 is full.
    expect(t.fullForMove(hostLevels('[2001:db8:0:200::1]:5000'), hostLevels(at(4)))?.key).toBe('2001:db8:0:100::/56');
    // IPv4: the host alone.
    t.add(hostLevels('192.0.2.1:5000'));
    expect(t.fullForMove(hostLevels('192.0.2.2:5000'), hostLevels('192.0.2.1:6000'))?.key).toBe('192.0.2.1');
    expect(t.fullForMove(hostLevels('192.0.2.1:5000'), hostLevels('192.0.2.3:6000'))).toBeUndefined();
  });
});
