/**
 * A connection that only receives sends only ACK-only packets, which the
 * peer never acknowledges, so it never learns which of its ranges the peer
 * already has (RFC 9000 §13.2.4). Every gap it saw then stayed in its ACKs
 * up to the 32-range cap: on a lossless one-way bulk the sender's skipped
 * packet numbers (one every 128–1,023, the optimistic-ACK defence) grew its
 * ACK datagrams from 33 to ~100 bytes. It now puts a PING in an ACK-only
 * packet once its frame carries a few ranges, and the peer's ACK of it lets
 * the old ranges go. Before, in the run below: 16 ranges in the receiver's
 * ACKs and 64.0 bytes a datagram over the last 5 s; after: at most 3 ranges
 * and 32.2 bytes, the sender's 12,140,544 bytes delivered as before.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import { RANGES_BEFORE_ACK_OF_ACK } from '../src/core/receive/ack-generation.js';
import { CLIENT, SERVER, makePair } from './helpers/pair.js';

/** The private field the test reads: how many ranges the last ACK frame carried. */
function lastWrittenRanges(conn: Connection): number {
  return (conn as unknown as { acks: { lastWrittenRanges: number } }).acks.lastWrittenRanges;
}

interface OneWayRun {
  /** The receiver's bytes per datagram over the last half of the run. */
  readonly receiverBytesPerDatagram: number;
  readonly receiverLastRanges: number;
  /** Ranges the receiver's ACKs carried, at most, sampled every 10 ms over the last half. */
  readonly receiverMaxRanges: number;
  readonly senderLosses: number;
  readonly delivered: number;
}

/** The server sends 16 KiB messages to the client for `runMs` over a lossless 10 Mbit/s, 25 ms path. */
function oneWayBulk(runMs: number): OneWayRun {
  const p = makePair({ seed: 5, link: { delayMs: 25 }, client: { receiveWindow: 2 ** 40 } });
  p.sim.setLink(SERVER, CLIENT, { delayMs: 25, bandwidthBps: 10_000_000, queueBytes: 256 * 1024 });
  p.sim.runFor(500);
  const server = p.serverConn() as Connection;
  expect(server.state).toBe('established');
  let delivered = 0;
  p.onClientEvent = (e) => {
    if (e.type === 'message') delivered += e.data.length;
  };
  const chunk = new Uint8Array(16 * 1024);
  // Keeps ~1 MiB queued: never app-limited, and the bottleneck's queue bounds what is in flight.
  const topUp = (): void => {
    while (server.bufferedAmount < 1024 * 1024) server.send(chunk);
    p.sim.wake(SERVER);
  };
  const start = p.sim.now;
  for (let t = 0; t < runMs; t += 10) p.sim.schedule(start + t, topUp);
  let maxRanges = 0;
  for (let t = runMs / 2; t < runMs; t += 10) p.sim.schedule(start + t, () => (maxRanges = Math.max(maxRanges, lastWrittenRanges(p.conn))));
  p.sim.runFor(runMs / 2);
  const half = p.conn.stats();
  p.sim.runFor(runMs / 2);
  const end = p.conn.stats();
  return {
    receiverBytesPerDatagram: (end.bytesSent - half.bytesSent) / (end.packetsSent - half.packetsSent),
    receiverLastRanges: lastWrittenRanges(p.conn),
    receiverMaxRanges: maxRanges,
    senderLosses: server.stats().packetsLost,
    delivered,
  };
}

describe('an ACK-only receiver lets go of old ranges', () => {
  it('lossless one-way bulk for 10 s: the receiver\'s ACKs stay a few ranges and its datagrams small, and the sender loses nothing', () => {
    const r = oneWayBulk(10_000);
    // The run is long enough for many skipped numbers (one per 128-1,023 packets of ~8,000).
    expect(r.delivered).toBeGreaterThan(10 * 1024 * 1024);
    expect(r.senderLosses).toBe(0);
    expect(r.receiverMaxRanges).toBeLessThanOrEqual(RANGES_BEFORE_ACK_OF_ACK + 1);
    expect(r.receiverLastRanges).toBeLessThanOrEqual(RANGES_BEFORE_ACK_OF_ACK + 1);
    // A one-range ACK datagram is 33 B (7 header, ~10 ACK frame, 16 tag); each extra range ~2 B.
    expect(r.receiverBytesPerDatagram).toBeLessThan(40);
  });
});
