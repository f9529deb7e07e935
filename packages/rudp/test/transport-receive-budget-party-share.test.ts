/**
 * One address's share of the endpoint's receive budget (`ReceivePool.partyShare`): its connections'
 * first grants and the credit reserved for messages their BLOCKED frames wait for count in it, so one
 * address's greedy connections leave other addresses' newcomers their first grants, and its own honest
 * large messages take turns in it.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import { RECEIVE_FLOOR } from '../src/core/receive/receive-pool.js';
import { INITIAL_GRANT } from '../src/core/credit.js';
import { BYTE_PERIOD, byteAt, type Peer, herd, heldBytes, floodUnread, serverConnection, creditTo, runUntil } from './helpers/receive-budget-rig.js';
import { filledBytes } from './helpers/filled-bytes.js';

describe('an endpoint-wide receive budget (maxReceiveBufferBytes)', () => {
  it("one address's greedy connections take no more than its share of the budget in first grants: a newcomer from another address gets its whole first grant", () => {
    // 24 connections from one address (its ports 5000…5023) that the server application never reads, each
    // queueing 2 MiB, against a 16 MiB budget: their first grants stop at the party's share (a quarter of
    // the budget less its reserve, 3.75 MiB), and the rest start at their 4 KiB floors. Before, they took
    // the budget's 15 MiB, and a newcomer from another address started at its floor: its 200 messages
    // of 1,000 to 2,990 bytes took 7.4 s (4 KiB a round trip).
    const budget = 16 * 1024 * 1024;
    const share = (budget - budget / 16) / 4;
    const h = herd(14, { maxReceiveBufferBytes: budget });
    floodUnread(h, (i) => `10.0.9.9:${5000 + i}`);
    expect(heldBytes(h)).toBeLessThanOrEqual(share + 24 * RECEIVE_FLOOR);
    // (Bytes held: each 16 KiB message takes 256 bytes more of credit.)
    expect(heldBytes(h)).toBeGreaterThan(share * 0.95);

    const late = h.addPeer('10.0.2.1:5000');
    runUntil(h, () => late.conn.state === 'established', 2_000);
    expect(creditTo(h, late)).toBe(INITIAL_GRANT);
    const sent = Array.from({ length: 200 }, (_, k) => new Uint8Array(1_000 + 10 * k).fill(k));
    for (const m of sent) late.conn.send(m);
    h.sim.wake(late.address);
    const conn = (): Connection | undefined => h.accepted.find((c) => c.localCid === late.conn.remoteCid);
    const start = h.sim.now;
    runUntil(h, () => (h.received.get(conn() as Connection)?.length ?? 0) === sent.length, 30_000);
    expect(h.received.get(conn() as Connection)?.map((m) => [m.length, m[0]])).toEqual(sent.map((m) => [m.length, m[0]]));
    // A round trip or two (40 ms each), where the floor took 7.4 s.
    expect(h.sim.now - start).toBeLessThanOrEqual(500);
  });

  it("a connection that starts at its floor because its address's share is spent earns its grant by reading: a 1 MiB run of messages arrives", () => {
    const budget = 16 * 1024 * 1024;
    const h = herd(15, { maxReceiveBufferBytes: budget });
    // Four idle connections of one address take its share (3.75 MiB) in first grants; the fifth starts at the floor.
    const idle = Array.from({ length: 4 }, (_, i) => h.addPeer(`10.0.9.9:${5000 + i}`));
    runUntil(h, () => idle.every((p) => p.conn.state === 'established'), 2_000);
    const fifth = h.addPeer('10.0.9.9:5004');
    runUntil(h, () => fifth.conn.state === 'established', 2_000);
    expect(creditTo(h, fifth)).toBe(RECEIVE_FLOOR);
    const sent = Array.from({ length: 256 }, (_, k) => new Uint8Array(3_000 + k).fill(k));
    for (const m of sent) fifth.conn.send(m);
    h.sim.wake(fifth.address);
    const conn = (): Connection => h.accepted.find((c) => c.localCid === fifth.conn.remoteCid) as Connection;
    runUntil(h, () => (h.received.get(conn())?.length ?? 0) === sent.length, 30_000);
    expect(h.received.get(conn())?.map((m) => m.length)).toEqual(sent.map((m) => m.length));
    // It read, so its grant grew by rate past the floor.
    expect(conn().flow.grant).toBeGreaterThan(64 * 1024);
  });

  it("credit reserved for messages BLOCKED frames ask for counts in the address's share: 30 connections of one address asking for 32 MiB messages they never send leave a newcomer its first grant", () => {
    // Every default (a 1 GiB budget, 32 MiB windows). Before, the 30 reservations (the limit each
    // BLOCKED was answered with) counted nowhere: they held 960 MiB, the newcomer from another address
    // got its 4 KiB floor, and its 4 MiB message had not arrived after 60 s (it never would).
    const h = herd(16, {});
    const greedy = Array.from({ length: 30 }, (_, i) => h.addPeer(`10.0.9.9:${5000 + i}`));
    runUntil(h, () => greedy.every((p) => p.conn.state === 'established') && h.accepted.length === 30, 3_000);
    for (const p of greedy) {
      // The peer says BLOCKED for a window-sized message, and never starts it.
      const allows = p.conn.flow.allows.bind(p.conn.flow);
      p.conn.flow.allows = (end: number): boolean => allows(end) && end <= INITIAL_GRANT;
      p.conn.send(new Uint8Array(p.conn.maxMessageSize()));
      h.sim.wake(p.address);
    }
    h.sim.runFor(2_000);
    const share = h.server.receivePool.partyShare;
    // Its share (240 MiB) and the floors of its connections: each reservation takes some 31 MiB of it.
    expect(h.server.stats().receiveBuffer.granted).toBeLessThanOrEqual(share + 30 * RECEIVE_FLOOR);
    expect(h.server.stats().receiveBuffer.granted).toBeGreaterThan(share - 32 * 1024 * 1024);

    const late = h.addPeer('10.0.2.1:5000');
    runUntil(h, () => late.conn.state === 'established', 2_000);
    expect(creditTo(h, late)).toBe(INITIAL_GRANT);
    const big = filledBytes(4 * 1024 * 1024, (k) => byteAt(5, k), BYTE_PERIOD);
    late.conn.send(big);
    for (let k = 0; k < 100; k++) late.conn.send(new Uint8Array(2_000).fill(k));
    h.sim.wake(late.address);
    const conn = (): Connection => h.accepted.find((c) => c.localCid === late.conn.remoteCid) as Connection;
    const start = h.sim.now;
    runUntil(h, () => (h.received.get(conn())?.length ?? 0) === 101, 30_000);
    expect(h.received.get(conn())?.length).toBe(101);
    expect(Buffer.compare(h.received.get(conn())?.[0] as Uint8Array, big)).toBe(0);
    // A round trip for the BLOCKED, and the 4 MiB at the link's pace.
    expect(h.sim.now - start).toBeLessThanOrEqual(2_000);
  });

  it("a reservation answered again (its peer read a message meanwhile) keeps counting whole in the address's share: 30 connections that BLOCKED past the window, then sent a small message, leave a newcomer its first grant", () => {
    // Every default (a 1 GiB budget, 32 MiB windows). Each peer says BLOCKED for twice its window (the
    // server answers its window's worth), then sends 100-byte messages; their read answers the BLOCKED
    // again, for the credit the read freed. Before, that second answer replaced the reservation's count
    // in the share with the increment (some 100 bytes): the 30 connections held 960 MiB again (495 MiB
    // after one round of small messages), and the newcomer had its 4 KiB floor.
    const h = herd(19, {});
    const greedy = Array.from({ length: 30 }, (_, i) => h.addPeer(`10.0.9.9:${5000 + i}`));
    runUntil(h, () => greedy.every((p) => p.conn.state === 'established') && h.accepted.length === 30, 3_000);
    let small = false;
    for (const p of greedy) {
      const allows = p.conn.flow.allows.bind(p.conn.flow);
      p.conn.flow.allows = (end: number): boolean => (small ? allows(end) && end <= INITIAL_GRANT : allows(64 * 1024 * 1024) && false);
      p.conn.send(new Uint8Array(100));
      h.sim.wake(p.address);
    }
    h.sim.runFor(1_000);
    small = true;
    // A send wakes the connection: both messages leave; and once more, for the connections answered since.
    for (let round = 0; round < 4; round++) {
      for (const p of greedy) p.conn.send(new Uint8Array(100));
      for (const p of greedy) h.sim.wake(p.address);
      h.sim.runFor(1_000);
    }
    expect(h.received.size).toBe(30);
    const share = h.server.receivePool.partyShare;
    expect(h.server.stats().receiveBuffer.granted).toBeLessThanOrEqual(share + 30 * RECEIVE_FLOOR + 30 * 1024);

    const late = h.addPeer('10.0.2.1:5000');
    runUntil(h, () => late.conn.state === 'established', 2_000);
    expect(creditTo(h, late)).toBe(INITIAL_GRANT);
  });

  it("an address's honest large messages take turns in its share, never waiting for good: 6 connections of one address each send a 3 MiB message at once", () => {
    // A 32 MiB budget (its share 7.5 MiB) and 4 MiB windows: the 6 reservations (some 2 MiB each,
    // beyond the first grants) do not fit the share together; each waits until the ones before begin.
    const h = herd(17, { receiveWindow: 4 * 1024 * 1024, maxReceiveBufferBytes: 32 * 1024 * 1024 });
    const peers = Array.from({ length: 6 }, (_, i) => h.addPeer(`10.0.9.9:${5000 + i}`));
    runUntil(h, () => peers.every((p) => p.conn.state === 'established') && h.accepted.length === 6, 3_000);
    const sent = peers.map((p, i) => {
      const m = filledBytes(3 * 1024 * 1024, (k) => byteAt(i, k), BYTE_PERIOD);
      p.conn.send(m);
      h.sim.wake(p.address);
      return m;
    });
    const conn = (p: Peer): Connection => serverConnection(h, p);
    runUntil(h, () => peers.every((p) => (h.received.get(conn(p))?.length ?? 0) === 1), 30_000);
    for (const [i, p] of peers.entries()) expect(Buffer.compare(h.received.get(conn(p))?.[0] as Uint8Array, sent[i] as Uint8Array), `peer ${i}`).toBe(0);
    for (const p of peers) p.conn.close(h.sim.now);
    for (const p of peers) h.sim.wake(p.address);
    runUntil(h, () => h.server.connectionCount === 0, 5_000);
    expect(h.server.stats().receiveBuffer).toEqual({ budget: 32 * 1024 * 1024, granted: 0, waiting: 0 });
  });

  it("a BLOCKED waiting for room in its address's share is answered as soon as the reservation before it begins, even if nothing is read then", () => {
    // A 16 MiB budget (its share 3.75 MiB), 4 MiB windows: two connections of one address each send a
    // 3 MiB message. The first one's reservation (2 MiB past its first grant) fills the share; the
    // second waits. The first's application then stops reading (its message arrives, unread).
    // Before, the second was asked again only when some connection read or ended: here, never.
    const h = herd(18, { receiveWindow: 4 * 1024 * 1024, maxReceiveBufferBytes: 16 * 1024 * 1024 });
    const [a, b] = [h.addPeer('10.0.9.9:5000'), h.addPeer('10.0.9.9:5001')] as [Peer, Peer];
    runUntil(h, () => a.conn.state === 'established' && b.conn.state === 'established' && h.accepted.length === 2, 3_000);
    const conn = (p: Peer): Connection => serverConnection(h, p);
    const sent = [a, b].map((p, i) => {
      const m = filledBytes(3 * 1024 * 1024, (k) => byteAt(i, k), BYTE_PERIOD);
      p.conn.send(m);
      h.sim.wake(p.address);
      return m;
    });
    // The first answered stops being read the moment it is answered.
    while (conn(a).flow.limit <= INITIAL_GRANT && conn(b).flow.limit <= INITIAL_GRANT) h.sim.step();
    const [first, second] = conn(a).flow.limit > INITIAL_GRANT ? [a, b] : [b, a];
    conn(first).pause();
    // The second's BLOCKED (a few ms of jitter behind) finds the share full.
    while (!conn(second).flow.shareWaiting && conn(second).flow.limit <= INITIAL_GRANT) h.sim.step();
    expect(conn(second).flow.shareWaiting).toBe(true);
    runUntil(h, () => (h.received.get(conn(second))?.length ?? 0) === 1, 5_000);
    expect(h.received.get(conn(first))).toBeUndefined();
    expect(Buffer.compare(h.received.get(conn(second))?.[0] as Uint8Array, sent[second === a ? 0 : 1] as Uint8Array)).toBe(0);
  });
});
