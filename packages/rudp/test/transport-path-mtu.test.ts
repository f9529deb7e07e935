/**
 * Path MTU discovery (core/send/path-mtu.ts) in the seeded simulator: the
 * search finds what the link carries, a link that starts black-holing large
 * datagrams sends the connection back to the base size with every byte
 * delivered, lost probes are no congestion, and nothing is probed when
 * discovery is off or the application never fills a packet.
 */
import { describe, expect, it } from 'vitest';
import type { LinkConfig } from '../src/testing/impairment.js';
import { CLIENT, SERVER, makePair, type Pair, type PairOptions } from './helpers/pair.js';
import { RecordingController } from './unit/fixtures.js';

const BULK_LINK: LinkConfig = { delayMs: 35, jitterMs: 5, bandwidthBps: 10_000_000, queueBytes: 64 * 1024 };
const CHUNK = 16 * 1024;

/** Message `i` of a transfer: its index in the first bytes, then a pattern of it. */
function message(i: number, size: number): Uint8Array {
  const m = new Uint8Array(size);
  for (let k = 0; k < size; k++) m[k] = (i * 31 + k) & 0xff;
  return m;
}

/** Sends `count` 16 KiB messages from the client and runs until the server has them all, intact and in order. */
function transfer(p: Pair, count: number, during?: (now: number) => void, limitMs = 120_000): void {
  p.sim.runFor(1_000);
  const start = p.sim.now;
  for (let i = 0; i < count; i++) p.conn.send(message(i, CHUNK));
  p.sim.wake(CLIENT);
  let received = 0;
  p.onServerEvent = (e) => {
    if (e.type !== 'message') return;
    expect(Buffer.compare(e.data, message(received, CHUNK))).toBe(0);
    received++;
  };
  while (received < count && p.sim.now < start + limitMs) {
    p.sim.runFor(50);
    during?.(p.sim.now);
  }
  expect(received).toBe(count);
}

function pair(link: LinkConfig, client: PairOptions['client'] = {}): Pair {
  return makePair({ link, client });
}

describe('path MTU discovery', () => {
  it('finds the path MTU: a 1400-byte link settles the size within two search steps below 1400', () => {
    const p = pair({ ...BULK_LINK, mtu: 1400 });
    // 2 MiB: enough data to fill packets for the whole search (8 probes from the 1472 ceiling).
    transfer(p, 128);
    const s = p.conn.stats();
    // The search ends once the next probe would move less than a step (20 bytes) from the last, so
    // it lands up to two steps below the path's size (from the 1472 ceiling: 1472 ✗, 1335, 1403 ✗, 1368).
    expect(s.datagramSize).toBeGreaterThanOrEqual(1400 - 2 * 20);
    expect(s.datagramSize).toBeLessThanOrEqual(1400);
    expect(s.mtuProbesAcked).toBeGreaterThan(0);
    expect(s.mtuProbesLost).toBeGreaterThanOrEqual(3);
    // Nothing the connection sent beyond the probes was too large for the link.
    expect(p.sim.linkStats(CLIENT, SERVER).droppedMtu).toBe(s.mtuProbesLost);
  });

  it('uses 1472-byte datagrams (the IPv4 ceiling) on a link that carries them, and fewer packets than at 1200', () => {
    const big = pair(BULK_LINK);
    transfer(big, 64);
    const fixed = pair(BULK_LINK, { maxDatagramSize: 1200 });
    transfer(fixed, 64);
    expect(big.conn.stats().datagramSize).toBe(1472);
    expect(fixed.conn.stats().datagramSize).toBe(1200);
    expect(big.conn.stats().packetsSent).toBeLessThan(0.9 * fixed.conn.stats().packetsSent);
  });

  it('a message already leaving when the size changes is cut again: its unsent chunks fill the new size', () => {
    const send = (p: Pair): void => {
      p.sim.runFor(1_000);
      const big = message(7, 2 * 1024 * 1024);
      p.conn.send(big);
      p.sim.wake(CLIENT);
      let got: Uint8Array | undefined;
      p.onServerEvent = (e) => {
        if (e.type === 'message') got = e.data;
      };
      while (got === undefined && p.sim.now < 60_000) p.sim.runFor(50);
      expect(Buffer.compare(got ?? new Uint8Array(0), big)).toBe(0);
    };
    const big = pair(BULK_LINK);
    send(big);
    const fixed = pair(BULK_LINK, { maxDatagramSize: 1200 });
    send(fixed);
    expect(big.conn.stats().datagramSize).toBe(1472);
    expect(big.conn.stats().packetsSent).toBeLessThan(0.9 * fixed.conn.stats().packetsSent);
  });

  it('falls back to the base size when the path black-holes large datagrams mid-transfer, and delivers every byte', () => {
    const p = pair(BULK_LINK);
    let holed = false;
    transfer(p, 160, (now) => {
      // Once the size has grown and data flows in large datagrams, the path starts dropping them.
      if (!holed && p.conn.stats().datagramSize > 1200 && p.conn.stats().packetsSent > 400) {
        holed = true;
        p.sim.setLink(CLIENT, SERVER, { ...BULK_LINK, mtu: 1300 });
        void now;
      }
    });
    expect(holed).toBe(true);
    const s = p.conn.stats();
    expect(s.mtuBlackHoles).toBe(1);
    expect(s.datagramSize).toBe(1200);
  });

  it.each([2, 6])('seed %i: keeps 1,472-byte datagrams on a path that reorders (its late packets are no black hole)', (seed) => {
    // 5 ± 5 ms one way drawn per datagram, 10% held 25 ms: packets declared lost because later ones
    // were acknowledged. Counted one by one as they were declared, six in a row sent these seeds
    // back to 1,200 bytes for the rest of the connection (10 minutes).
    const p = makePair({ seed, link: { delayMs: 5, jitterMs: 5, jitterMode: 'independent', reorder: 0.1, reorderHoldMs: 25 } });
    transfer(p, 256);
    const s = p.conn.stats();
    expect(s.spuriousRetransmissions).toBeGreaterThan(0);
    expect(s.mtuBlackHoles).toBe(0);
    expect(s.datagramSize).toBe(1472);
  });

  it.each([1, 2])('seed %i: keeps the grown size under 2%% random loss of mid-size messages (each loss is disproved by a later one of its size)', (seed) => {
    // Found by review: with only full-size packets counted as proof, a stream of 1,300-byte
    // messages (one per packet, below the 1,472 in use) fell back to 1,200 bytes on every seed.
    const p = makePair({ seed, link: { delayMs: 20, jitterMs: 2, loss: 0.02 } });
    transfer(p, 64);
    expect(p.conn.stats().datagramSize).toBe(1472);
    let got = 0;
    p.onServerEvent = (e) => {
      if (e.type === 'message') got++;
    };
    for (let t = 0; t < 1500; t++) {
      p.conn.send(new Uint8Array(t % 2 === 1 ? 1300 : 200).fill(t & 0xff));
      p.sim.wake(CLIENT);
      p.sim.runFor(20);
    }
    p.sim.runFor(5_000);
    expect(got).toBe(1500);
    const s = p.conn.stats();
    expect(s.packetsLost).toBeGreaterThan(20);
    expect(s.mtuBlackHoles).toBe(0);
    expect(s.datagramSize).toBe(1472);
  });

  it('a lost probe is no congestion and resends nothing: probes the link drops never reach the controller', () => {
    // The link drops every datagram above 1300 bytes, and nothing else: every probe above it is lost.
    const cc = new RecordingController(256 * 1024, 1_000);
    const p = pair({ ...BULK_LINK, mtu: 1300, queueBytes: 1 << 20 }, { congestion: () => cc });
    transfer(p, 24);
    const s = p.conn.stats();
    expect(s.mtuProbesLost).toBeGreaterThanOrEqual(3);
    expect(cc.losses).toEqual([]);
    expect(s.packetsLost).toBe(0);
    expect(s.packetsRetransmitted).toBe(0);
  });

  it('probes nothing when discovery is off (maxDatagramSize at the base size)', () => {
    const p = pair({ ...BULK_LINK, mtu: 1200 }, { maxDatagramSize: 1200 });
    transfer(p, 16);
    const s = p.conn.stats();
    expect(s.mtuProbesSent).toBe(0);
    expect(s.datagramSize).toBe(1200);
    expect(p.sim.linkStats(CLIENT, SERVER).droppedMtu).toBe(0);
  });

  it('probes nothing for traffic that never fills a packet (chat keeps its wire behaviour)', () => {
    const p = pair({ delayMs: 35, jitterMs: 5 });
    p.sim.runFor(1_000);
    for (let i = 0; i < 100; i++) {
      p.sim.schedule(p.sim.now + i * 20, () => {
        p.conn.send(new Uint8Array(64).fill(i));
        p.sim.wake(CLIENT);
      });
    }
    p.sim.runFor(5_000);
    expect(p.conn.stats().mtuProbesSent).toBe(0);
  });
});
