import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { CHATTY_AFTER_SAFE_MS, type LineWatch, RefusalGraces } from '../src/refusal-graces.js';

const sockets = (n: number): net.Socket[] => Array.from({ length: n }, () => new net.Socket());

describe('RefusalGraces', () => {
  it('a host with many refusals cannot take another host’s grace: graces beyond its share are taken back for a host below its share', () => {
    const graces = new RefusalGraces({ total: 64, perHost: 8 });
    // One host alone may use them all (a burst of its honest clients evicted at once).
    const flood = sockets(64);
    for (const s of flood) expect(graces.take(s, '192.0.2.1')).toBe(true);
    expect(graces.size).toBe(64);
    // Full, and this host over its share: its next is closed at once.
    expect(graces.take(new net.Socket(), '192.0.2.1')).toBe(false);
    // Another host gets its share, each grace taken from the flooding host's oldest.
    const other = sockets(8);
    for (const s of other) expect(graces.take(s, '198.51.100.7')).toBe(true);
    expect(flood.slice(0, 8).every((s) => s.destroyed)).toBe(true);
    expect(flood.slice(8).some((s) => s.destroyed)).toBe(false);
    expect([graces.heldBy('192.0.2.1'), graces.heldBy('198.51.100.7')]).toEqual([56, 8]);
    // At its share, not beyond it: its ninth waits like anyone's.
    expect(graces.take(new net.Socket(), '198.51.100.7')).toBe(false);
    // However many more the flooding host's refusals come, the other host keeps its graces.
    for (let i = 0; i < 100; i++) expect(graces.take(new net.Socket(), '192.0.2.1')).toBe(false);
    expect(other.some((s) => s.destroyed)).toBe(false);
    expect(graces.size).toBe(64);
  });

  it('counts an IPv6 /64 as one host (hostOf), and takes from the host holding the most', () => {
    const graces = new RefusalGraces({ total: 16, perHost: 2 });
    // 10 from one /64 (any address in it), 6 from another.
    for (let i = 0; i < 10; i++) expect(graces.take(new net.Socket(), `2001:db8:1:2::${(i + 1).toString(16)}`)).toBe(true);
    const second = sockets(6);
    for (const s of second) expect(graces.take(s, '2001:db8:1:3::1')).toBe(true);
    expect(graces.heldBy('2001:db8:1:2:ffff::1')).toBe(10);
    expect(graces.take(new net.Socket(), '192.0.2.9')).toBe(true);
    expect([graces.heldBy('2001:db8:1:2::1'), graces.heldBy('2001:db8:1:3::1')]).toEqual([9, 6]);
    expect(second.some((s) => s.destroyed)).toBe(false);
  });

  it('gives a grace back when its connection closes, and lets a host within its share keep all of its own', async () => {
    const graces = new RefusalGraces({ total: 4, perHost: 2 });
    const [a1, a2, b1, b2] = sockets(4) as [net.Socket, net.Socket, net.Socket, net.Socket];
    for (const s of [a1, a2]) expect(graces.take(s, '192.0.2.1')).toBe(true);
    for (const s of [b1, b2]) expect(graces.take(s, '192.0.2.2')).toBe(true);
    // Full, every host at its share: a third host is refused a grace rather than taking one within a share.
    expect(graces.take(new net.Socket(), '192.0.2.3')).toBe(false);
    expect([a1, a2, b1, b2].some((s) => s.destroyed)).toBe(false);
    const closed = once(b1, 'close');
    b1.destroy();
    await closed;
    expect(graces.size).toBe(3);
    expect(graces.take(new net.Socket(), '192.0.2.3')).toBe(true);
  });
  it('counts an IPv6 host’s /56 and /48 as admission does: 16 /64s of one /56 cannot keep another /56’s grace', () => {
    const graces = new RefusalGraces({ total: 64, perHost: 8 });
    // 16 /64s of 2001:db8:0:100::/56, 4 each: every /64 within its share of 8, the /56 (share 32) holding all 64.
    const flood = Array.from({ length: 16 }, (_, i) => sockets(4).map((s) => [s, `2001:db8:0:1${i.toString(16).padStart(2, '0')}::5`] as const)).flat();
    for (const [s, a] of flood) expect(graces.take(s, a)).toBe(true);
    expect(graces.size).toBe(64);
    // Another /56 (of another /48) takes graces back from the flooding /56's oldest: a /64 its share, its /56 its 32.
    const other = Array.from({ length: 4 }, (_, i) => sockets(8).map((s) => [s, `2001:db8:1:${i + 1}::5`] as const)).flat();
    for (const [s, a] of other) expect(graces.take(s, a)).toBe(true);
    expect(flood.slice(0, 32).every(([s]) => s.destroyed)).toBe(true);
    expect(flood.slice(32).some(([s]) => s.destroyed)).toBe(false);
    expect(graces.heldBy('2001:db8:1:1::9')).toBe(8);
    // Both /56s at their share: neither a fresh /64 of either nor another /64 of the flooding one takes a grace.
    expect(graces.take(new net.Socket(), '2001:db8:1:5::5')).toBe(false);
    for (let i = 0; i < 100; i++) expect(graces.take(new net.Socket(), `2001:db8:0:1${(16 + (i % 240)).toString(16)}::1`)).toBe(false);
    expect(other.some(([s]) => s.destroyed)).toBe(false);
    // No level is beyond its share now, so even a host below its shares everywhere gets no grace.
    expect(graces.take(new net.Socket(), '192.0.2.1')).toBe(false);
    expect(graces.size).toBe(64);
  });

  it('caps a /48 at half the total: its /56s, each within its share, still lend to another prefix', () => {
    const graces = new RefusalGraces({ total: 64, perHost: 8 });
    // 4 /56s of 2001:db8:2::/48, 16 graces each from 4 /64s: every /64 and /56 within its share, the /48 at 64.
    const flood = Array.from({ length: 16 }, (_, i) => sockets(4).map((s) => [s, `2001:db8:2:${((i >> 2) << 8) + (i & 3)}::7`] as const)).flat();
    for (const [s, a] of flood) expect(graces.take(s, a)).toBe(true);
    const ipv4 = sockets(8);
    for (const s of ipv4) expect(graces.take(s, '198.51.100.7')).toBe(true);
    expect(flood.slice(0, 8).every(([s]) => s.destroyed)).toBe(true);
    expect(graces.heldBy('198.51.100.7')).toBe(8);
    // A fresh /64 of that /48 is not below its /48's share (56 of 32): it takes nothing back.
    expect(graces.take(new net.Socket(), '2001:db8:2:ff00::1')).toBe(false);
    expect(ipv4.some((s) => s.destroyed)).toBe(false);
  });
});

describe('RefusalGraces: a grace whose line is safe', () => {
  /** A {@link LineWatch} told by the test: `tell(socket, safe)` as a read of the kernel's table would. */
  const toldWatch = (): { readonly watch: LineWatch; readonly tell: (socket: net.Socket, safe: boolean) => void } => {
    const listeners = new Map<net.Socket, (safe: boolean) => void>();
    return {
      watch: (socket, onRead) => {
        listeners.set(socket, onRead);
        return () => void listeners.delete(socket);
      },
      tell: (socket, safe) => listeners.get(socket)?.(safe),
    };
  };
  const hosts = Array.from({ length: 8 }, (_, i) => `198.51.100.${i + 1}`);

  it('is ended for a newcomer when 8 hosts, each within its share, hold all 64 (attack round 32)', () => {
    const { watch, tell } = toldWatch();
    const graces = new RefusalGraces({ total: 64, perHost: 8 }, undefined, watch);
    const held = hosts.map((h) => sockets(8).map((s) => (graces.take(s, h) ? s : undefined)));
    expect(graces.size).toBe(64);
    // No line known safe: as before, none beyond its share to take from, and a newcomer is closed at once.
    expect(graces.take(new net.Socket(), '203.0.113.9')).toBe(false);
    // Found safe, then not (its line in flight again cannot be; a read may find the peer's bytes unread).
    const [first, second, third] = held[2] ?? [];
    if (first === undefined || second === undefined || third === undefined) throw new Error('unreachable');
    tell(first, true);
    tell(first, false);
    expect(graces.take(new net.Socket(), '203.0.113.9')).toBe(false);
    // Safe, but its peer sent a byte since the read: maybe the first of more, which a close would answer with a reset.
    tell(second, true);
    Object.defineProperty(second, 'bytesRead', { value: 1 });
    expect(graces.take(new net.Socket(), '203.0.113.9')).toBe(false);
    expect(second.destroyed).toBe(false);
    tell(third, true);
    const newcomer = new net.Socket();
    expect(graces.take(newcomer, '203.0.113.9')).toBe(true);
    expect([third.destroyed, graces.size, graces.released, graces.heldBy('198.51.100.3'), graces.heldBy('203.0.113.9')]).toEqual([true, 64, 1, 7, 1]);
    // Ended once: told of again (a read under way), it is not counted twice nor ended for another.
    tell(third, true);
    expect(graces.take(new net.Socket(), '203.0.113.10')).toBe(false);
    expect(held.flat().filter((s) => s?.destroyed).length).toBe(1);
  });

  it("asks for the kernel's table only while the pool is at least half full and short of lines known safe", () => {
    const { watch, tell } = toldWatch();
    const graces = new RefusalGraces({ total: 64, perHost: 8 }, undefined, watch);
    const held = sockets(64);
    held.slice(0, 31).forEach((s, i) => graces.take(s, hosts[i % 8] ?? ''));
    expect(graces.wantsWatch).toBe(false);
    held.slice(31).forEach((s, i) => graces.take(s, hosts[i % 8] ?? ''));
    expect(graces.wantsWatch).toBe(true);
    for (const s of held.slice(0, 32)) tell(s, true);
    expect(graces.wantsWatch).toBe(false);
    // One drawn on: short again.
    expect(graces.take(new net.Socket(), '203.0.113.9')).toBe(true);
    expect(graces.wantsWatch).toBe(true);
    tell(held[32] as net.Socket, true);
    expect(graces.wantsWatch).toBe(false);
    // A peer that sent a byte since spoils its place in the stock: it cannot stop the reads.
    Object.defineProperty(held[2], 'bytesRead', { value: 1 });
    expect(graces.wantsWatch).toBe(true);
  });

  it('is ended for a newcomer when its peer goes on sending long after its line was found safe (attack round 33)', () => {
    const { watch, tell } = toldWatch();
    let now = 1_000;
    const graces = new RefusalGraces({ total: 64, perHost: 8 }, undefined, watch, () => now);
    const held = hosts.flatMap((h) => sockets(8).filter((s) => graces.take(s, h)));
    expect(graces.size).toBe(64);
    // Every line found safe, and every peer sends a byte after the read (one every 50 ms, between the reads).
    let sent = 0;
    const spoil = (): void => {
      sent++;
      for (const s of held) Object.defineProperty(s, 'bytesRead', { value: sent, configurable: true });
    };
    for (const s of held) tell(s, true);
    spoil();
    // Still sending just after: maybe an honest client's last bytes before it reads the line. Kept, and read again.
    now += CHATTY_AFTER_SAFE_MS - 1;
    expect(graces.take(new net.Socket(), '203.0.113.9')).toBe(false);
    expect(graces.wantsWatch).toBe(true);
    // Found safe again at the next read (the first finding's time kept), sent again since.
    for (const s of held) tell(s, true);
    spoil();
    now += 1;
    // Still sending that long after its kernel acknowledged the line: the oldest is ended for the newcomer.
    expect(graces.wantsWatch).toBe(false);
    const newcomer = new net.Socket();
    expect(graces.take(newcomer, '203.0.113.9')).toBe(true);
    expect([held.filter((s) => s.destroyed).length, held[0]?.destroyed, graces.released, graces.heldBy('203.0.113.9')]).toEqual([1, true, 1, 1]);
    // A peer silent since its read goes first, however young: the chatty one is ended only when none is.
    const quiet = held[40] as net.Socket;
    tell(quiet, true);
    expect(graces.take(new net.Socket(), '203.0.113.10')).toBe(true);
    expect([quiet.destroyed, held[1]?.destroyed]).toEqual([true, false]);
    // Found unsafe (the peer's bytes unread at a read): no longer counted, its time starts again when found safe.
    tell(held[1] as net.Socket, false);
    tell(held[1] as net.Socket, true);
    spoil();
    expect(graces.take(new net.Socket(), '203.0.113.11')).toBe(true);
    expect([held[1]?.destroyed, held[2]?.destroyed]).toEqual([false, true]);
  });

  it('is ended for a host beyond its share too, oldest found first, and the shares are kept otherwise', () => {
    const { watch, tell } = toldWatch();
    const graces = new RefusalGraces({ total: 16, perHost: 2 }, undefined, watch);
    // One host holds all 16 (14 on loan).
    const flood = sockets(16);
    for (const s of flood) graces.take(s, '192.0.2.1');
    tell(flood[5] as net.Socket, true);
    tell(flood[3] as net.Socket, true);
    // Its own next refusal ends the grace found safe first, not one whose line may still be in flight.
    expect(graces.take(new net.Socket(), '192.0.2.1')).toBe(true);
    expect(flood.map((s, i) => (s.destroyed ? i : -1)).filter((i) => i >= 0)).toEqual([5]);
    // Safe ones go first even for a host below its share, which could take one back.
    expect(graces.take(new net.Socket(), '198.51.100.7')).toBe(true);
    expect(flood.map((s, i) => (s.destroyed ? i : -1)).filter((i) => i >= 0)).toEqual([3, 5]);
    // None safe left: that host, still below its share, takes back the oldest on loan, as before.
    expect(graces.take(new net.Socket(), '198.51.100.7')).toBe(true);
    expect(flood.map((s, i) => (s.destroyed ? i : -1)).filter((i) => i >= 0)).toEqual([0, 3, 5]);
    // At its share now, and none safe: closed at once, as before.
    expect(graces.take(new net.Socket(), '198.51.100.7')).toBe(false);
    expect(graces.released).toBe(2);
  });
});
