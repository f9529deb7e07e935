import { describe, expect, it } from 'vitest';
import { HandshakeRate } from '../../src/core/handshake-rate.js';
import { hostLevels } from '../../src/core/host-key.js';

describe('HandshakeRate', () => {
  it('holds at most its cap of buckets however many hosts charge it, dropping the least recently charged', () => {
    const rate = new HandshakeRate(1, 2, 100);
    // 10,000 IPv4 hosts and 10,000 IPv6 /48s (three buckets each) within one refill time: none full again.
    for (let i = 0; i < 10_000; i++) {
      expect(rate.take(i / 1000, hostLevels(`10.${i >> 16}.${(i >> 8) & 0xff}.${i & 0xff}:1`))).toBeUndefined();
      expect(rate.take(i / 1000, hostLevels(`[2001:${i.toString(16)}::1]:1`))).toBeUndefined();
      expect(rate.size).toBeLessThanOrEqual(100);
    }
    expect(rate.size).toBe(100);
  });

  it('keeps a host it keeps refusing at the back: a flood of newcomers under the cap does not reset it', () => {
    const rate = new HandshakeRate(1, 2, 100);
    const attacker = hostLevels('192.0.2.1:1');
    expect(rate.take(0, attacker)).toBeUndefined();
    expect(rate.take(0, attacker)).toBeUndefined();
    for (let i = 0; i < 5_000; i++) {
      // The attacker tries between every newcomer; still refused: its bucket stays the most recent.
      expect(rate.take(0, attacker)).toEqual(attacker[0]);
      rate.take(0, hostLevels(`10.0.${i >> 8}.${i & 0xff}:1`));
    }
    expect(rate.size).toBe(100);
  });

  it('forgets buckets that are full again, a few per charge', () => {
    const rate = new HandshakeRate(10, 1);
    for (let i = 0; i < 20; i++) rate.take(0, hostLevels(`10.0.0.${i}:1`));
    expect(rate.size).toBe(20);
    // 100 ms refill a bucket of 1 at 10 a second: the next 5 charges forget the 20.
    for (let i = 0; i < 5; i++) rate.take(200, hostLevels(`10.0.1.${i}:1`));
    expect(rate.size).toBe(5);
  });

  it('refuses at the first empty level and charges no level then', () => {
    const rate = new HandshakeRate(1, 1);
    const a = hostLevels('[2001:db8:0:1::1]:1');
    const b = hostLevels('[2001:db8:0:2::1]:1');
    expect(rate.take(0, a)).toBeUndefined();
    expect(rate.take(0, a)?.key).toBe('2001:db8:0:1::/64');
    // The refusal took nothing from the /56 (4) or /48 (16): three more /64s of the /56 pass.
    expect(rate.take(0, b)).toBeUndefined();
    expect(rate.take(0, hostLevels('[2001:db8:0:3::1]:1'))).toBeUndefined();
    expect(rate.take(0, hostLevels('[2001:db8:0:4::1]:1'))).toBeUndefined();
    expect(rate.take(0, hostLevels('[2001:db8:0:5::1]:1'))?.key).toBe('2001:db8:0:0::/56');
    // A second later each level gained its rate: the /64 one, the /56 four.
    expect(rate.take(1000, a)).toBeUndefined();
  });

  it('a clock set back neither refills nor drains a bucket: the rate holds after the clock goes on', () => {
    const rate = new HandshakeRate(1, 2);
    const host = hostLevels('192.0.2.1:1');
    expect(rate.take(100_000, host)).toBeUndefined();
    // Set back an hour: before, the bucket went 3,600 tokens into debt and the host was refused for an hour.
    expect(rate.take(100_000 - 3_600_000, host)).toBeUndefined();
    expect(rate.take(100_000 - 3_600_000, host)).toEqual(host[0]);
    // A second later by the new clock: one token earned, one handshake.
    expect(rate.take(100_000 - 3_599_000, host)).toBeUndefined();
  });
});
