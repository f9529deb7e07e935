/**
 * Hostile peers that take the receive budget's overcommit (the message their BLOCKED waits for,
 * granted whole past the budget) and do not use it: how long they keep other waiting messages out.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import { DEFAULT_MAX_RECEIVE_BUFFER_BYTES, RECEIVE_FLOOR } from '../src/core/receive/receive-pool.js';
import { PROTOCOL_VIOLATION } from '../src/core/connection/close.js';
import { SERVER, BYTE_PERIOD, byteAt, type Peer, herd, serverConnection, creditTo, holdBudgetIdle, runUntil } from './helpers/receive-budget-rig.js';
import { filledBytes } from './helpers/filled-bytes.js';

/**
 * As in transport-receive-budget-idle-holders.test.ts, 30 idle connections hold the default budget.
 * A hostile peer says BLOCKED for a 30 MiB message, takes the overcommit, sends the first `burst`
 * bytes of it as fast as the path takes them (0: none), and then one packet of new data every
 * `everyMs` (`Infinity`: the first only; its connection stays alive: ACKs, keep-alives, resends). An
 * honest newcomer then sends an 8 MiB message, which needs the overcommit. Runs until it arrives
 * (120 s at most) and checks that it is intact, that the hostile connection was closed for its pace
 * and the idle ones were not; returns how long the newcomer's message took.
 */
function trickleOvercommit(seed: number, everyMs: number, burst = 0): { readonly waited: number } {
  const h = herd(seed, {});
  const idle = holdBudgetIdle(h);
  const hostile = h.addPeer('10.0.3.1:5000');
  runUntil(h, () => hostile.conn.state === 'established', 2_000);
  const conn = (p: Peer): Connection => serverConnection(h, p);
  // The hostile sender's queue lets one packet of new data leave every `everyMs` (resends still go).
  const sq = hostile.conn.sendQueue;
  const fill = sq.fillNewData.bind(sq);
  const hasNew = sq.hasNewData.bind(sq);
  const hasReliable = sq.hasNewReliableData.bind(sq);
  let lastAt = Number.NEGATIVE_INFINITY;
  let sent = 0;
  const allowed = (): boolean => sent < burst || h.sim.now - lastAt >= everyMs || lastAt === Number.NEGATIVE_INFINITY;
  sq.hasNewData = () => allowed() && hasNew();
  sq.hasNewReliableData = () => allowed() && hasReliable();
  sq.fillNewData = (w, chunks, now, small) => {
    if (!allowed()) return 0;
    const before = chunks.length;
    const n = fill(w, chunks, now, small);
    for (const c of chunks.slice(before)) sent += c.message.chunkSize;
    if (chunks.length > before) lastAt = h.sim.now;
    return n;
  };
  hostile.conn.send(new Uint8Array(30 * 1024 * 1024));
  h.sim.wake(hostile.address);
  h.sim.runFor(3_000);
  // The server's share of the message (its first, id 0).
  const received = (): number => conn(hostile)?.reassembly.receivedOf(0) ?? 0;
  runUntil(h, () => received() >= burst, 60_000);
  expect(conn(hostile)?.flow.credit).toBe(30 * 1024 * 1024 + 256);
  expect(conn(hostile)?.flow.holdsOvercommit).toBe(false);
  expect(received()).toBeGreaterThanOrEqual(Math.max(burst, 1));
  expect(received()).toBeLessThan(burst + 8 * 1024);
  const late = h.addPeer('10.0.2.1:5000');
  runUntil(h, () => late.conn.state === 'established', 2_000);
  const m = filledBytes(8 * 1024 * 1024, (k) => byteAt(96, k), BYTE_PERIOD);
  late.conn.send(m);
  h.sim.wake(late.address);
  const start = h.sim.now;
  runUntil(
    h,
    () => {
      // The trickle's next packet is due: nothing else would have the hostile endpoint poll its connection.
      if (allowed()) hostile.endpoint.touch(hostile.conn);
      h.sim.wake(hostile.address);
      return (h.received.get(conn(late) as Connection)?.length ?? 0) === 1;
    },
    120_000,
  );
  expect(Buffer.compare(h.received.get(conn(late) as Connection)?.[0] ?? new Uint8Array(0), m)).toBe(0);
  expect(conn(hostile)?.closeReason?.code).toBe(PROTOCOL_VIOLATION);
  expect(conn(hostile)?.closeReason?.message).toMatch(/minimum pace/);
  expect(idle.every((p) => p.conn.state === 'established')).toBe(true);
  return { waited: h.sim.now - start };
}

/**
 * As in transport-receive-budget-idle-holders.test.ts, 30 idle connections hold the default budget.
 * Twelve hostile connections (at `address(i)`) each say BLOCKED for a 30 MiB message and never send
 * past their floor; then an honest newcomer sends an 8 MiB message (bytes of `pattern`). Runs until it
 * arrives intact (120 s at most); returns how long it took.
 */
function newcomerBehindHolders(seed: number, address: (i: number) => string, pattern: number): { readonly h: ReturnType<typeof herd>; readonly hostile: readonly Peer[]; readonly conn: (p: Peer) => Connection; readonly waited: number } {
  const h = herd(seed, {});
  holdBudgetIdle(h);
  const hostile = Array.from({ length: 12 }, (_, i) => h.addPeer(address(i)));
  runUntil(h, () => hostile.every((p) => p.conn.state === 'established'), 3_000);
  for (const p of hostile) {
    const allows = p.conn.flow.allows.bind(p.conn.flow);
    p.conn.flow.allows = (end: number): boolean => allows(end) && end <= RECEIVE_FLOOR;
    p.conn.send(new Uint8Array(30 * 1024 * 1024));
    h.sim.wake(p.address);
  }
  h.sim.runFor(500);
  const late = h.addPeer('10.0.2.1:5000');
  runUntil(h, () => late.conn.state === 'established', 2_000);
  const m = filledBytes(8 * 1024 * 1024, (k) => byteAt(pattern, k), BYTE_PERIOD);
  late.conn.send(m);
  h.sim.wake(late.address);
  const start = h.sim.now;
  const conn = (p: Peer): Connection => serverConnection(h, p);
  runUntil(h, () => (h.received.get(conn(late) as Connection)?.length ?? 0) === 1, 120_000);
  expect(Buffer.compare(h.received.get(conn(late) as Connection)?.[0] ?? new Uint8Array(0), m)).toBe(0);
  return { h, hostile, conn, waited: h.sim.now - start };
}

describe('an endpoint-wide receive budget (maxReceiveBufferBytes)', () => {
  it("a peer that takes the overcommit for a message it never sends is closed after 10 s, and the next waiting message goes: the stall is not total", () => {
    // As in transport-receive-budget-idle-holders.test.ts (`holdBudgetIdle`): 30 idle connections hold the default budget's 960 MiB. A hostile peer then says BLOCKED
    // for a 30 MiB message and never sends it: its answer takes 30 MiB of the 32 MiB overcommit, and an
    // honest newcomer's 8 MiB message, which does not fit what is left, waits. Credit announced cannot be
    // taken back; before, the newcomer waited for good. Now a peer that has not begun such a message
    // within OVERCOMMIT_START_MS (10 s) and four probe timeouts is closed, and its credit returns.
    const h = herd(21, {});
    const idle = holdBudgetIdle(h);
    const hostile = h.addPeer('10.0.3.1:5000');
    runUntil(h, () => hostile.conn.state === 'established', 2_000);
    const allows = hostile.conn.flow.allows.bind(hostile.conn.flow);
    hostile.conn.flow.allows = (end: number): boolean => allows(end) && end <= RECEIVE_FLOOR;
    hostile.conn.send(new Uint8Array(30 * 1024 * 1024));
    h.sim.wake(hostile.address);
    const conn = (p: Peer): Connection => serverConnection(h, p);
    runUntil(h, () => creditTo(h, hostile) > RECEIVE_FLOOR, 2_000);
    expect(creditTo(h, hostile)).toBe(30 * 1024 * 1024 + 256);
    expect(conn(hostile)?.flow.holdsOvercommit).toBe(true);

    const late = h.addPeer('10.0.2.1:5000');
    runUntil(h, () => late.conn.state === 'established', 2_000);
    const m = filledBytes(8 * 1024 * 1024, (k) => byteAt(50, k), BYTE_PERIOD);
    late.conn.send(m);
    h.sim.wake(late.address);
    const start = h.sim.now;
    h.sim.runFor(5_000);
    // Waiting, behind the hostile peer's unused overcommit.
    expect(h.received.get(conn(late) as Connection)).toBeUndefined();
    expect(conn(hostile)?.state).toBe('established');
    runUntil(h, () => (h.received.get(conn(late) as Connection)?.length ?? 0) === 1, 30_000);
    expect(Buffer.compare(h.received.get(conn(late) as Connection)?.[0] ?? new Uint8Array(0), m)).toBe(0);
    // 10 s and four probe timeouts after its answer left, then the 8 MiB at the link's pace.
    expect(h.sim.now - start).toBeLessThanOrEqual(20_000);
    expect(hostile.conn.state === 'draining' || hostile.conn.state === 'closed').toBe(true);
    // The idle connections, whose peers asked for nothing, are untouched.
    expect(idle.every((p) => p.conn.state === 'established')).toBe(true);
  });

  it("an address's connections that each take the overcommit in turn and never send delay a newcomer's message by one turn, not six: once one is closed for it, the address's others go behind other addresses' messages", () => {
    // As in transport-receive-budget-idle-holders.test.ts, 30 idle connections hold the default budget.
    // Twelve connections of one hostile address each say BLOCKED for a 30 MiB message they never send,
    // before an honest newcomer's 8 MiB one. The overcommit goes oldest first: the first holds it 10 s
    // and four probe timeouts from its acknowledgment and is closed. Before, the next of the address
    // took it then, and the next: the address's share of the budget let six of them reserve, and the
    // newcomer's message waited 65.1 s behind those six (each further address added as much). Now the
    // address goes behind every other party's waiting message once one of its connections is closed so.
    const { h, hostile, conn, waited } = newcomerBehindHolders(27, (i) => `10.0.3.1:${6000 + i}`, 95);
    const closed = hostile.filter((p) => conn(p)?.state !== 'established').length;
    expect(closed).toBe(1);
    expect(waited).toBeGreaterThan(5_000);
    expect(waited).toBeLessThanOrEqual(15_000);
    expect(h.server.receivePool.committed).toBeLessThanOrEqual(DEFAULT_MAX_RECEIVE_BUFFER_BYTES);
    // The address's other connections still take it in turn once nobody else waits.
    runUntil(h, () => hostile.filter((p) => conn(p)?.state !== 'established').length >= 2, 30_000);
    expect(hostile.filter((p) => conn(p)?.state !== 'established').length).toBe(2);
  });

  it("three addresses' connections that each take the overcommit in turn and never send delay a newcomer's message by one turn an address: 4 of each, some 32 s", () => {
    // As above, with four connections from each of three hostile addresses, the address's turns
    // interleaved. Each address's first closed penalizes it; the newcomer waits for one turn of each.
    const { hostile, conn, waited } = newcomerBehindHolders(27, (i) => `10.0.3.${1 + Math.floor(i / 4)}:${6000 + i}`, 97);
    const closed = hostile.filter((p) => conn(p)?.state !== 'established');
    expect(closed.map((p) => p.address.split(':')[0])).toEqual(['10.0.3.1', '10.0.3.2', '10.0.3.3']);
    expect(waited).toBeGreaterThan(2 * 10_000);
    expect(waited).toBeLessThanOrEqual(3 * 12_000);
  });

  it("a peer that takes the overcommit and sends one datagram of its message is closed once it falls behind the minimum pace while another's message waits: a newcomer's 8 MiB message arrives in some 33 s", () => {
    // Before, the message had begun, so no timer ran: the server held 4 KiB of it and had granted
    // 30 MiB past the budget that nothing returned, and the newcomer's message stayed at its 4 KiB
    // floor as long as the hostile peer kept its connection alive (60 s and more).
    const run = trickleOvercommit(28, Number.POSITIVE_INFINITY);
    expect(run.waited).toBeGreaterThan(25_000);
    expect(run.waited).toBeLessThanOrEqual(40_000);
  });

  it("a peer that takes the overcommit and trickles its message (a datagram every 2 s, some 600 B/s) is closed once it falls behind the minimum pace: a newcomer's 8 MiB message arrives", () => {
    // Before, as with one datagram: the newcomer's message waited as long as the trickle went on.
    const run = trickleOvercommit(29, 2_000);
    expect(run.waited).toBeGreaterThan(30_000);
    expect(run.waited).toBeLessThanOrEqual(60_000);
  });

  it("a peer that takes the overcommit, sends half its 30 MiB message at once and then nothing, is closed two graces after its last byte while another's message waits: a newcomer's 8 MiB message arrives in some 60 s", () => {
    // The pace was an average from the message's first byte alone, and a peer ahead of it banked the lead:
    // before, 15 MiB sent at once bought 15 MiB / 2 KiB/s = 2.1 h behind the pace, and the newcomer's
    // message waited as long (not within the run). Now no more than a grace's worth of lead is carried
    // past the last time the message made progress: the grace and that lead (some 2 × 30.5 s) after its
    // last byte, the peer is behind.
    const run = trickleOvercommit(30, Number.POSITIVE_INFINITY, 15 * 1024 * 1024);
    expect(run.waited).toBeGreaterThan(50_000);
    expect(run.waited).toBeLessThanOrEqual(75_000);
  });

  it('a peer that never acknowledges the overcommit answer (or anything sent after it) still gives it back: closed within the idle timeout and a few probe timeouts', () => {
    // The time to begin counts from the acknowledgment. A peer that acknowledges nothing sent with or
    // after the answer (here every datagram to it is lost from before its BLOCKED, while its own still
    // arrive) has the credit until the idle timeout (30 s) and a few probe timeouts at most: an idle
    // or unacknowledged timer, or the overcommit one, closes it, and the credit returns.
    const h = herd(25, { maxReceiveBufferBytes: 2.5 * 1024 * 1024 });
    const first = h.addPeer();
    const second = h.addPeer();
    runUntil(h, () => first.conn.state === 'established' && second.conn.state === 'established', 2_000);
    h.sim.setLink(SERVER, second.address, { delayMs: 20, jitterMs: 2, loss: 1 });
    second.conn.send(new Uint8Array(1.5 * 1024 * 1024));
    h.sim.wake(second.address);
    const conn = (): Connection => h.accepted.find((c) => c.localCid === second.conn.remoteCid) as Connection;
    runUntil(h, () => conn().flow.holdsOvercommit, 2_000);
    expect(conn().flow.holdsOvercommit).toBe(true);
    const charged = h.server.receivePool.committed;
    const start = h.sim.now;
    runUntil(h, () => conn().state !== 'established', 60_000);
    expect(conn().state).not.toBe('established');
    expect(conn().overcommitTimer?.ackedAt).toBe(Number.POSITIVE_INFINITY);
    expect(h.sim.now - start).toBeLessThanOrEqual(30_000 + 4 * 2_000);
    expect(h.server.receivePool.committed).toBeLessThan(charged - 1024 * 1024);
  });
});
