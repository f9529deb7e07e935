import { describe, expect, it } from 'vitest';
import { hostKey } from '../../src/core/host-key.js';

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
  });
});
