import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LinkConfig } from '../src/testing/impairment.js';
import { type PacketHeader, PacketType, PacketWriter, expandPacketNumber, packetNumberLength, parseHeader } from '../src/wire/packet.js';
import { CLIENT, type Pair, makePair, messagesOf } from './helpers/pair.js';
import { tapDataPackets } from './helpers/tap.js';

describe('packet number truncation', () => {
  it('restores any packet number within 2^15 of the next expected one from its low 16 bits', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1, max: 2 ** 31 }), fc.integer({ min: -(2 ** 15) + 1, max: 2 ** 15 - 1 }), (largest, offset) => {
        const pn = largest + 1 + offset;
        fc.pre(pn >= 0);
        expect(expandPacketNumber(largest, pn % 2 ** 16, 2)).toBe(pn);
        expect(expandPacketNumber(largest, pn, 4)).toBe(pn);
      }),
      { numRuns: 2_000 },
    );
  });

  it('binds the packet number\'s high bits into the checksum of a two-byte-numbered packet', () => {
    const w = new PacketWriter(new Uint8Array(64), PacketType.Data, 9, 3 * 2 ** 16 + 5, 2);
    w.u8(1);
    const d = w.finish();
    expect(parseHeader(d)).toMatchObject({ pn: 5, pnBytes: 2, epoch: 3 });
    // The same bytes with a plain CRC trailer say epoch 0; a flipped bit says none.
    const plain = new PacketWriter(new Uint8Array(64), PacketType.Data, 9, 5, 2);
    plain.u8(1);
    expect(parseHeader(plain.finish())).toMatchObject({ epoch: 0 });
    d[5] = (d[5] as number) ^ 0x10;
    expect(parseHeader(d)).toBe('checksum');
  });

  it('writes two bytes while fewer than 2^14 packets are unacknowledged, four beyond', () => {
    expect(packetNumberLength(1, -1)).toBe(2);
    expect(packetNumberLength(70_000, 60_000)).toBe(2);
    expect(packetNumberLength(80_000, 60_000)).toBe(4);
    for (const [pn, bytes] of [
      [0x12345, 2],
      [0x12345, 4],
    ] as const) {
      const w = new PacketWriter(new Uint8Array(64), PacketType.Data, 9, pn, bytes);
      const h = parseHeader(w.finish());
      expect(h).toMatchObject({ pn: bytes === 2 ? 0x2345 : 0x12345, pnBytes: bytes, payload: new Uint8Array(0) });
    }
  });

  /** `count` 4 KiB messages (16 MiB: past 2^16 packets) over 256-byte packets; returns the pair once the server got them, checked whole and in order. */
  function transfer(link: LinkConfig, onData: (h: PacketHeader, datagram: Uint8Array, now: number, p: Pair) => void, count = 4_096): Pair {
    // Plaintext: the epoch mask is the CRC trailer's (a sealed packet restored to the wrong number fails its tag instead).
    // 256-byte packets throughout (no path MTU discovery): the point is to count past 2^16 of them.
    const p = makePair({ link: { ...link, bandwidthBps: 100_000_000, queueBytes: 256 * 1024 }, client: { mtu: 256, maxDatagramSize: 256, plaintext: true }, server: { mtu: 256, maxDatagramSize: 256, plaintext: true } });
    tapDataPackets(p.client, (h, d, now) => onData(h, d, now, p));
    p.sim.runFor(100);
    for (let i = 0; i < count; i++) p.conn.send(new Uint8Array(4 * 1024).fill(i & 0xff));
    p.sim.wake(CLIENT);
    p.sim.runFor(600_000);
    const got = messagesOf(p.serverEvents);
    expect(got).toHaveLength(count);
    expect(got.every((m, i) => m.length === 4 * 1024 && m[0] === (i & 0xff) && m[m.length - 1] === (i & 0xff))).toBe(true);
    return p;
  }

  it('a copy delayed by 50,000 packets fails its checksum rather than pass for a packet 2^16 newer', () => {
    // Restored from its low 16 bits it looks 15,536 packets ahead; taken for that packet, the real
    // one would later be dropped as a duplicate yet acknowledged, and its data lost (review finding).
    let dataSent = 0;
    let old: Uint8Array | undefined;
    // 12 MiB: some 53,500 packets, enough to carry on past the copy's arrival (16 MiB took a third longer).
    const p = transfer(
      { delayMs: 2 },
      (_h, d, now, q) => {
        dataSent++;
        if (dataSent === 1_000) old = d.slice();
        if (dataSent === 51_000 && old) q.server.handleDatagram(now, old.slice(), CLIENT);
      },
      3_072,
    );
    expect(dataSent).toBeGreaterThan(52_000);
    expect(p.server.stats().dropped.checksum).toBe(1);
  }, 60_000);

  it('a connection counts past 2^16 packets on two-byte numbers: 16 MiB in 256-byte packets at 5% loss with reordering arrives whole, once, in order', () => {
    const lengths = { 2: 0, 4: 0 };
    transfer({ delayMs: 2, loss: 0.05, reorder: 0.05, reorderDelayMs: 3 }, (h) => lengths[h.pnBytes]++);
    expect(lengths[2]).toBeGreaterThan(70_000);
    expect(lengths[4]).toBe(0);
  }, 60_000);
});
