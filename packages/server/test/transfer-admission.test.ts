import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { TransferAdmission } from '../src/transfer-admission.js';

describe('TransferAdmission', () => {
  it('counts an IPv6 /64 as one host, as rudp does: its 17th connection evicts the oldest silent one, whatever address of the /64 it comes from', () => {
    const admission = new TransferAdmission({ maxConnections: 512, maxPerHost: 16 });
    const sockets = Array.from({ length: 16 }, () => new net.Socket());
    sockets.forEach((s, i) => expect(admission.admit(s, `2001:db8:1:2::${(i + 1).toString(16)}`)).toBe(true));
    expect(admission.admit(new net.Socket(), '2001:db8:1:2:ffff::99')).toBe(true);
    expect(admission.evicted).toBe(1);
    expect(sockets[0]?.destroyed).toBe(true);
    // Another /64, and IPv4 (also as IPv4-mapped IPv6, how a dual-stack socket reports it), are other hosts.
    expect(admission.admit(new net.Socket(), '2001:db8:1:3::1')).toBe(true);
    expect(admission.admit(new net.Socket(), '::ffff:192.0.2.1')).toBe(true);
    expect(admission.evicted).toBe(1);
    for (let i = 0; i < 15; i++) admission.admit(new net.Socket(), '192.0.2.1');
    expect(admission.evicted).toBe(1);
    admission.admit(new net.Socket(), '192.0.2.1');
    expect(admission.evicted).toBe(2);
  });

  it('takes a silent connection before an older one whose token is being looked up, and that one again first once its lookup ends', () => {
    const admission = new TransferAdmission({ maxConnections: 512, maxPerHost: 2 });
    const [looking, silent, third, fourth] = Array.from({ length: 4 }, () => new net.Socket());
    if (looking === undefined || silent === undefined || third === undefined || fourth === undefined) throw new Error('sockets');
    admission.admit(looking, '192.0.2.1');
    admission.admit(silent, '192.0.2.1');
    admission.redeeming(looking, true);
    expect(admission.admit(third, '192.0.2.1')).toBe(true);
    // Before, the oldest without a token went: the one whose token was being looked up (spent for nothing).
    expect([looking.destroyed, silent.destroyed]).toEqual([false, true]);
    // Its lookup over (a token found invalid buys no standing): the oldest without a token, it goes next.
    admission.redeeming(looking, false);
    expect(admission.admit(fourth, '192.0.2.1')).toBe(true);
    expect([looking.destroyed, third.destroyed]).toEqual([true, false]);
    // With every tokenless one in a lookup, the oldest of them makes room.
    admission.redeeming(third, true);
    admission.redeeming(fourth, true);
    expect(admission.admit(new net.Socket(), '192.0.2.1')).toBe(true);
    expect([third.destroyed, fourth.destroyed]).toEqual([true, false]);
  });

  /** An address in /64 number `sub` of 2001:db8:`site`::/48 (/64s 0-ff are one /56, 100-1ff the next, ...). */
  const inSite = (site: number, sub: number, host = 1): string => `2001:db8:${site.toString(16)}:${sub.toString(16)}::${host.toString(16)}`;

  it('counts an IPv6 /56 as 4 hosts and a /48 as 16: past either, the oldest silent connection within it makes room, and with none the new one is refused', () => {
    const admission = new TransferAdmission({ maxConnections: 512, maxPerHost: 2 });
    // Four /64s of one /56, two connections each: the /56 holds 4 x 2.
    const in56 = [0, 1, 2, 3].flatMap((sub) => [1, 2].map((host) => ({ socket: new net.Socket(), address: inSite(1, sub, host) })));
    for (const c of in56) expect(admission.admit(c.socket, c.address)).toBe(true);
    expect(admission.evicted).toBe(0);
    // A fifth /64 of the /56, empty itself: the /56's oldest silent connection goes.
    const fifth = new net.Socket();
    expect(admission.admit(fifth, inSite(1, 0xff))).toBe(true);
    expect(admission.evicted).toBe(1);
    expect(in56[0]?.socket.destroyed).toBe(true);
    // All of the /56 hold tokens: nothing to evict, refused.
    for (const c of in56.slice(1)) admission.authenticated(c.socket);
    admission.authenticated(fifth);
    expect(admission.admit(new net.Socket(), inSite(1, 0x80))).toBe(false);
    expect(admission.evicted).toBe(1);

    // Three more /56s of the /48, full and authenticated: the /48 holds 16 x 2 = 32.
    for (const base of [0x100, 0x200, 0x300]) {
      for (let sub = 0; sub < 4; sub++) {
        for (const host of [1, 2]) {
          const s = new net.Socket();
          expect(admission.admit(s, inSite(1, base + sub, host))).toBe(true);
          admission.authenticated(s);
        }
      }
    }
    expect(admission.size).toBe(32);
    expect(admission.admit(new net.Socket(), inSite(1, 0x400))).toBe(false);
    // Another /48, and IPv4, are not counted with it.
    expect(admission.admit(new net.Socket(), inSite(2, 0))).toBe(true);
    expect(admission.admit(new net.Socket(), '192.0.2.1')).toBe(true);
    expect(admission.evicted).toBe(1);
  });

  it('evicts within a full /48 the oldest silent connection of any of its /56s', () => {
    const admission = new TransferAdmission({ maxConnections: 512, maxPerHost: 1 });
    const sockets = Array.from({ length: 16 }, () => new net.Socket());
    // One connection in each of 16 /56s of one /48: the /48 is full, no /56 or /64 is.
    sockets.forEach((s, i) => expect(admission.admit(s, inSite(1, i * 0x100))).toBe(true));
    sockets.slice(0, 5).forEach((s) => admission.authenticated(s));
    expect(admission.admit(new net.Socket(), inSite(1, 0xff00))).toBe(true);
    expect(admission.evicted).toBe(1);
    expect(sockets.map((s) => s.destroyed).indexOf(true)).toBe(5);
  });

  it('gives back the host, its /56 and its /48 when connections close', async () => {
    const admission = new TransferAdmission({ maxConnections: 512, maxPerHost: 1 });
    for (let round = 0; round < 2; round++) {
      const sockets = Array.from({ length: 16 }, () => new net.Socket());
      // Other /64s each round, in the same four /56s of the same /48.
      sockets.forEach((s, i) => {
        expect(admission.admit(s, inSite(1, (i >> 2) * 0x100 + (i & 3) + round * 0x10))).toBe(true);
        admission.authenticated(s);
      });
      expect(admission.admit(new net.Socket(), inSite(1, 0xff00))).toBe(false);
      const closed = sockets.map((s) => once(s, 'close'));
      sockets.forEach((s) => s.destroy());
      await Promise.all(closed);
      expect(admission.size).toBe(0);
      expect(admission.hostsTracked).toBe(0);
    }
    expect(admission.evicted).toBe(0);
  });
});
