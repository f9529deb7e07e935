/**
 * Hostile peers that take the receive budget's overcommit and dodge what times it (the start timer
 * and the minimum pace, connection/timeouts.ts) by what they begin first: each must still give it back.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import { PROTOCOL_VIOLATION } from '../src/core/connection/close.js';
import { type Herd, type Peer, BYTE_PERIOD, byteAt, herd, holdBudgetIdle, runUntil, serverConnection } from './helpers/receive-budget-rig.js';
import { filledBytes } from './helpers/filled-bytes.js';

/** An honest newcomer sends a message of `size` (8 MiB), which needs the overcommit; runs until it arrives (120 s at most). Returns how long it took (`Infinity`: it never came). */
function newcomerWaits(h: Herd, tick: () => void = () => undefined, size = 8 * 1024 * 1024): number {
  const late = h.addPeer('10.0.2.1:5000');
  runUntil(h, () => late.conn.state === 'established', 2_000);
  const m = filledBytes(size, (k) => byteAt(77, k), BYTE_PERIOD);
  late.conn.send(m);
  h.sim.wake(late.address);
  const start = h.sim.now;
  const got = (): Uint8Array | undefined => h.received.get(serverConnection(h, late))?.[0];
  runUntil(
    h,
    () => {
      tick();
      return got() !== undefined;
    },
    120_000,
  );
  if (got() === undefined) return Number.POSITIVE_INFINITY;
  expect(Buffer.compare(got() as Uint8Array, m)).toBe(0);
  return h.sim.now - start;
}

/** Lets `p`'s new data leave only while `open()` (resends still go). */
function gateNewData(p: Peer, open: () => boolean): void {
  const sq = p.conn.sendQueue;
  const fill = sq.fillNewData.bind(sq);
  const hasNew = sq.hasNewData.bind(sq);
  const hasReliable = sq.hasNewReliableData.bind(sq);
  sq.hasNewData = () => open() && hasNew();
  sq.hasNewReliableData = () => open() && hasReliable();
  sq.fillNewData = (w, chunks, now, small) => (open() ? fill(w, chunks, now, small) : 0);
}

describe('an endpoint-wide receive budget (maxReceiveBufferBytes)', () => {
  it('a peer whose grant is its whole window (raised at login) that takes the overcommit and begins a one-byte message instead of its own is still closed, and a newcomer waiting for the overcommit gets it', () => {
    // The reservation of a BLOCKED's message is what it asks past the grant alone: with a grant of
    // 32 MiB (the server raised the window at login) a BLOCKED for 31 MiB reserves nothing, so any
    // message that began ended the answer's time to begin; a one-byte one is whole at once, so no pace
    // held it either. Before, the peer kept 31 MiB past the budget for as long as it kept the
    // connection alive, and the newcomer's message waited for good. Now only a message as large as
    // what the answer added past the limit before it begins the answer.
    const h = herd(31, {});
    const idle = holdBudgetIdle(h);
    const hostile = h.addPeer('10.0.3.1:5000');
    runUntil(h, () => hostile.conn.state === 'established', 2_000);
    const conn = (): Connection => serverConnection(h, hostile);
    conn().raiseReceiveWindow(32 * 1024 * 1024);
    h.sim.runFor(500);
    // The hostile client says BLOCKED for 31 MiB once, then sends only a one-byte message.
    const allows = hostile.conn.flow.allows.bind(hostile.conn.flow);
    let asked = false;
    hostile.conn.flow.allows = (end: number): boolean => {
      if (asked) return allows(end);
      asked = true;
      allows(31 * 1024 * 1024);
      return false;
    };
    hostile.conn.send(new Uint8Array(1));
    h.sim.wake(hostile.address);
    h.sim.runFor(2_000);
    expect(conn().flow.credit).toBeGreaterThanOrEqual(31 * 1024 * 1024 - 1024);
    expect(conn().reassembly.partialBytes).toBe(0);
    const waited = newcomerWaits(h);
    // 10 s and four probe timeouts from the answer acknowledged (9.0 s after the newcomer asked), then the 8 MiB.
    expect(waited).toBeLessThanOrEqual(20_000);
    expect(conn().closeReason?.code).toBe(PROTOCOL_VIOLATION);
    expect(idle.every((p) => p.conn.state === 'established')).toBe(true);
  });

  it('a peer that begins a second message from the overcommit while the first, paced, is still partial, then completes the first, is still held to the pace for the second', () => {
    // One message at a time is paced (the first begun, until whole). A peer granted a 1 MiB message
    // and then a 30 MiB one from the overcommit that keeps a piece of the first back until the second
    // has begun (a resend it holds, as reordering or a loss does) and then completes the first had
    // the second paced by nothing: before, it held 30 MiB past the budget with one packet of the
    // message sent, and the newcomer's message waited for good.
    const h = herd(32, {});
    holdBudgetIdle(h);
    const hostile = h.addPeer('10.0.3.1:5000');
    runUntil(h, () => hostile.conn.state === 'established', 2_000);
    const conn = (): Connection => serverConnection(h, hostile);
    // Its resends wait while `holdResends`; one datagram in the middle of the first message is lost.
    let holdResends = true;
    const rq = hostile.conn.retransmits;
    const ready = rq.pruneAndCheckReady.bind(rq);
    const hasReady = rq.hasReady.bind(rq);
    const fillResends = rq.fill.bind(rq);
    const probe = rq.queueProbe.bind(rq);
    rq.pruneAndCheckReady = (now) => !holdResends && ready(now);
    rq.hasReady = (now) => !holdResends && hasReady(now);
    rq.fill = (now, w, chunks, follows) => !holdResends && fillResends(now, w, chunks, follows);
    rq.queueProbe = (now, inFlight) => !holdResends && probe(now, inFlight);
    // New data stops once the second message has begun to leave (a packet of it).
    const firstEnd = hostile.conn.sendQueue.startedStreamEnd + 64 * 1024 + 256;
    gateNewData(hostile, () => hostile.conn.sendQueue.startedStreamEnd <= firstEnd);
    const secondBegun = (): boolean => conn().flow.overcommits >= 2 && !conn().flow.holdsOvercommit;
    let datagrams = 0;
    const poll = hostile.endpoint.pollTransmit.bind(hostile.endpoint);
    hostile.endpoint.pollTransmit = (now: number) => {
      const t = poll(now);
      if (t !== undefined && conn().flow.overcommits === 1 && ++datagrams === 20) return poll(now);
      return t;
    };
    hostile.conn.send(new Uint8Array(64 * 1024));
    hostile.conn.send(new Uint8Array(30 * 1024 * 1024));
    h.sim.wake(hostile.address);
    runUntil(h, secondBegun, 10_000);
    expect(secondBegun()).toBe(true);
    // The first is partial (its lost piece held back) while the second began: now it is completed.
    expect(h.received.get(conn())).toBeUndefined();
    holdResends = false;
    runUntil(
      h,
      () => {
        hostile.endpoint.touch(hostile.conn);
        h.sim.wake(hostile.address);
        return h.received.get(conn())?.length === 1;
      },
      10_000,
    );
    expect(h.received.get(conn())?.length).toBe(1);
    expect(conn().flow.credit).toBeGreaterThan(29 * 1024 * 1024);
    const waited = newcomerWaits(h, () => h.sim.wake(hostile.address));
    // On the pace from the first message's first byte: the grace, and the 32 s its 64 KiB are worth, less what is past a grace of lead (61.4 s).
    expect(waited).toBeLessThanOrEqual(75_000);
    expect(conn().closeReason?.message).toMatch(/minimum pace/);
  });

  it('a peer granted two messages from the overcommit before either began, that completes the first and begins the second, is still held to the pace for the second', () => {
    // The two answers' limits made one span, ended by the first message large enough that began: the
    // first was paced, and the second began with nothing to pace it. Before, a peer that said BLOCKED
    // for a 16 MiB message and then for a 15 MiB one, sent the first whole and one packet of the
    // second held 15 MiB past the budget for good, and a newcomer's 20 MiB message waited for good.
    const h = herd(33, {});
    holdBudgetIdle(h);
    const hostile = h.addPeer('10.0.3.1:5000');
    runUntil(h, () => hostile.conn.state === 'established', 2_000);
    const conn = (): Connection => serverConnection(h, hostile);
    const first = 16 * 1024 * 1024;
    const second = 15 * 1024 * 1024;
    const firstEnd = hostile.conn.sendQueue.startedStreamEnd + first + 256;
    // New data leaves only once both answers came, and stops once the second message has begun to.
    let phase: 'asking' | 'sending' | 'holding' = 'asking';
    gateNewData(hostile, () => phase === 'sending' && hostile.conn.sendQueue.startedStreamEnd <= firstEnd);
    hostile.conn.send(new Uint8Array(first));
    hostile.conn.send(new Uint8Array(second));
    // BLOCKED for the first message's end (the gate keeps it from leaving), answered; then for the second's.
    hostile.conn.flow.allows(firstEnd);
    h.sim.wake(hostile.address);
    runUntil(h, () => conn().flow.overcommits === 1, 2_000);
    expect(conn().flow.overcommits).toBe(1);
    hostile.conn.flow.allows(firstEnd + second + 256);
    hostile.endpoint.touch(hostile.conn);
    h.sim.wake(hostile.address);
    runUntil(h, () => conn().flow.overcommits === 2, 2_000);
    expect(conn().flow.overcommits).toBe(2);
    // The first leaves, and a packet of the second; the rest of the second never does.
    phase = 'sending';
    hostile.endpoint.touch(hostile.conn);
    h.sim.wake(hostile.address);
    runUntil(h, () => h.received.get(conn())?.length === 1 && conn().reassembly.partialBytes > 0, 20_000);
    expect(h.received.get(conn())?.length).toBe(1);
    expect(conn().reassembly.receivedOf(1)).toBeLessThan(64 * 1024);
    expect(conn().flow.credit).toBeGreaterThan(14 * 1024 * 1024);
    // The newcomer's 20 MiB message does not fit what the 15 MiB held leaves of the 32 MiB overcommit.
    const waited = newcomerWaits(h, () => h.sim.wake(hostile.address), 20 * 1024 * 1024);
    // The grace from the second message's first byte, then behind the pace (31.2 s).
    expect(waited).toBeLessThanOrEqual(45_000);
    expect(conn().closeReason?.message).toMatch(/minimum pace/);
  });

  it('a peer answered from the overcommit for 30 MiB and then for 3 KiB more, that sends only a 3 KiB message, is still closed for not beginning the rest', () => {
    // Ended by a message as large as what the last answer added (the reservation left by a second
    // BLOCKED), the 30 MiB of the first answer were timed by nothing once the 3 KiB message began.
    const h = herd(34, {});
    holdBudgetIdle(h);
    const hostile = h.addPeer('10.0.3.1:5000');
    runUntil(h, () => hostile.conn.state === 'established', 2_000);
    const conn = (): Connection => serverConnection(h, hostile);
    let answered = false;
    gateNewData(hostile, () => answered);
    hostile.conn.send(new Uint8Array(3 * 1024));
    const start = hostile.conn.sendQueue.startedStreamEnd;
    hostile.conn.flow.allows(start + 30 * 1024 * 1024);
    h.sim.wake(hostile.address);
    runUntil(h, () => conn().flow.overcommits === 1, 2_000);
    hostile.conn.flow.allows(start + 30 * 1024 * 1024 + 3 * 1024 + 256);
    hostile.endpoint.touch(hostile.conn);
    h.sim.wake(hostile.address);
    runUntil(h, () => conn().flow.overcommits === 2, 2_000);
    expect(conn().flow.overcommits).toBe(2);
    answered = true;
    hostile.endpoint.touch(hostile.conn);
    h.sim.wake(hostile.address);
    runUntil(h, () => h.received.get(conn())?.length === 1, 2_000);
    expect(h.received.get(conn())?.length).toBe(1);
    expect(conn().flow.credit).toBeGreaterThan(29 * 1024 * 1024);
    const waited = newcomerWaits(h);
    // 10 s and four probe timeouts from the answer acknowledged, then the 8 MiB.
    expect(waited).toBeLessThanOrEqual(20_000);
    expect(conn().closeReason?.message).toMatch(/did not begin/);
  });
});
