/**
 * Connections that sit on credit (idle, their grants grown by reading or raised) hold the receive
 * budget, since credit announced is never taken back: a newcomer's message a BLOCKED waits for may go
 * past the budget by the overcommit (the largest window), granted whole, oldest first.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import { DEFAULT_MAX_RECEIVE_BUFFER_BYTES, RECEIVE_FLOOR } from '../src/core/receive/receive-pool.js';
import { INITIAL_GRANT } from '../src/core/credit.js';
import { BYTE_PERIOD, byteAt, type Peer, herd, serverConnection, creditTo, holdBudgetIdle, runUntil } from './helpers/receive-budget-rig.js';
import { filledBytes } from './helpers/filled-bytes.js';

describe('an endpoint-wide receive budget (maxReceiveBufferBytes)', () => {
  it('under a budget, idle connections leave a newcomer its whole window: 60 idle default connections and a 128 MiB budget, the 61st is sent a 32 MiB message', () => {
    // Before, each idle connection granted its whole 32 MiB window: the first three spent the budget,
    // and the 61st got the 4 KiB floor (its peer could send no message over 3,840 bytes).
    const h = herd(7, { maxReceiveBufferBytes: 128 * 1024 * 1024 });
    const idle = Array.from({ length: 60 }, () => h.addPeer());
    runUntil(h, () => idle.every((p) => p.conn.state === 'established'), 3_000);
    expect(h.server.stats().receiveBuffer.granted).toBe(60 * INITIAL_GRANT);
    const late = h.addPeer();
    runUntil(h, () => late.conn.state === 'established', 2_000);
    expect(creditTo(h, late)).toBe(INITIAL_GRANT);
    expect(late.conn.maxMessageSize()).toBe(32 * 1024 * 1024 - 256);
    const big = filledBytes(32 * 1024 * 1024 - 256, (k) => byteAt(61, k), BYTE_PERIOD);
    late.conn.send(big);
    h.sim.wake(late.address);
    const conn = (): Connection | undefined => h.accepted.find((c) => c.localCid === late.conn.remoteCid);
    runUntil(h, () => (h.received.get(conn() as Connection)?.length ?? 0) === 1, 30_000);
    expect(Buffer.compare(h.received.get(conn() as Connection)?.[0] as Uint8Array, big)).toBe(0);
    expect(h.server.stats().receiveBuffer.waiting).toBe(0);
  });

  it("idle connections that hold the whole default budget in raised grants no longer stall a newcomer's large message: 30 connections of 6 addresses at 32 MiB, two newcomers' 8 MiB messages arrive", () => {
    // Every default (a 1 GiB budget, 32 MiB windows). 30 connections from 6 addresses (5 each: a raise is
    // not counted in an address's share of first grants) are granted their whole window, as a grant
    // grown by reading is, and their peers go idle: they hold 960 MiB, all the budget grants. Before,
    // a newcomer then started at its 4 KiB floor and its message waited for good (the BLOCKED it sent
    // was answered with the floor: not one more byte came back while nobody read). Now a message a
    // BLOCKED waits for may take up to the largest window past the budget, oldest first.
    const h = herd(20, {});
    const idle = holdBudgetIdle(h);
    const budget = DEFAULT_MAX_RECEIVE_BUFFER_BYTES;
    const spent = budget - budget / 16;
    expect(h.server.stats().receiveBuffer.granted).toBeGreaterThan(spent - 64 * 1024);
    const held = (): number[] => idle.map((p) => creditTo(h, p));
    expect(held().filter((c) => c === 32 * 1024 * 1024).length).toBeGreaterThanOrEqual(29);

    const late = [h.addPeer('10.0.2.1:5000'), h.addPeer('10.0.2.2:5000')];
    runUntil(h, () => late.every((p) => p.conn.state === 'established'), 2_000);
    for (const p of late) expect(creditTo(h, p)).toBe(RECEIVE_FLOOR);
    const sent = late.map((p, i) => {
      const m = filledBytes(8 * 1024 * 1024, (k) => byteAt(40 + i, k), BYTE_PERIOD);
      p.conn.send(m);
      h.sim.wake(p.address);
      return m;
    });
    const conn = (p: Peer): Connection => serverConnection(h, p);
    let most = 0;
    const start = h.sim.now;
    runUntil(
      h,
      () => {
        most = Math.max(most, h.server.receivePool.committed);
        return late.every((p) => (h.received.get(conn(p) as Connection)?.length ?? 0) === 1);
      },
      30_000,
    );
    for (const [i, p] of late.entries()) expect(Buffer.compare(h.received.get(conn(p) as Connection)?.[0] ?? new Uint8Array(0), sent[i] as Uint8Array), `newcomer ${i}`).toBe(0);
    // A round trip for each BLOCKED, the second message after the first was read, each at the link's pace.
    expect(h.sim.now - start).toBeLessThanOrEqual(10_000);
    // Past the budget less its sixteenth by one window at most (and the floors): within the budget.
    expect(most).toBeLessThanOrEqual(spent + 32 * 1024 * 1024 + 2 * RECEIVE_FLOOR);
    expect(most).toBeLessThanOrEqual(budget);
    // The idle connections' credit is untouched: their peers may still send what they were granted.
    expect(held().filter((c) => c === 32 * 1024 * 1024).length).toBeGreaterThanOrEqual(29);
  });

  it("connections whose grants grew by reading and then went idle no longer stall a newcomer's large message: 4 addresses at 4 MiB under a 16 MiB budget", () => {
    // A 16 MiB budget (15 MiB beyond its sixteenth) and 4 MiB windows. Four peers of four addresses
    // each send 12 MiB of 64 KiB messages that the server reads at once: their grants grow by rate to
    // the window, and then they go idle holding it (credit announced is never taken back). Before, a
    // newcomer from a fifth address had its floor and its 3 MiB message waited for good.
    const h = herd(22, { receiveWindow: 4 * 1024 * 1024, maxReceiveBufferBytes: 16 * 1024 * 1024 });
    const fast = Array.from({ length: 4 }, (_, i) => h.addPeer(`10.0.8.${i + 1}:5000`));
    runUntil(h, () => fast.every((p) => p.conn.state === 'established') && h.accepted.length === 4, 3_000);
    for (const p of fast) {
      for (let k = 0; k < 192; k++) p.conn.send(new Uint8Array(64 * 1024).fill(k & 0xff));
      h.sim.wake(p.address);
    }
    const conn = (p: Peer): Connection => serverConnection(h, p);
    runUntil(h, () => fast.every((p) => (h.received.get(conn(p) as Connection)?.length ?? 0) === 192), 30_000);
    h.sim.runFor(1_000);
    expect(fast.map((p) => conn(p)?.flow.grant)).toEqual(fast.map(() => 4 * 1024 * 1024));
    // They hold the budget: what is left is less than the newcomer's message needs.
    expect(h.server.stats().receiveBuffer.granted).toBeGreaterThan(15 * 1024 * 1024 - 3 * 1024 * 1024);

    const late = h.addPeer('10.0.2.9:5000');
    runUntil(h, () => late.conn.state === 'established', 2_000);
    const m = filledBytes(3 * 1024 * 1024, (k) => byteAt(60, k), BYTE_PERIOD);
    late.conn.send(m);
    h.sim.wake(late.address);
    const start = h.sim.now;
    runUntil(h, () => (h.received.get(conn(late) as Connection)?.length ?? 0) === 1, 20_000);
    expect(Buffer.compare(h.received.get(conn(late) as Connection)?.[0] ?? new Uint8Array(0), m)).toBe(0);
    expect(h.sim.now - start).toBeLessThanOrEqual(5_000);
    expect(h.server.stats().receiveBuffer.granted).toBeLessThanOrEqual(15 * 1024 * 1024 + 4 * 1024 * 1024 + 5 * RECEIVE_FLOOR);
  });

  it('a BLOCKED the budget has no room for is answered in full at once, past the budget within the overcommit, not in part', () => {
    // A 2.5 MiB budget (2,400 KiB beyond its reserve): two default connections take their 1 MiB
    // first grants, leaving 352 KiB. The second's peer then needs 1.5 MiB for one message. Until the
    // follow-up of attack round 13 its BLOCKED was answered with 1 MiB and half of what was left, and
    // the rest waited for the first connection to read or end; a part is credit the peer cannot use
    // (it sends nothing until its message fits), and parts held so by several waiting peers added up
    // to the whole budget with none of them whole. Now it takes the overcommit (the largest window,
    // here 2,400 KiB) at once: its message arrives though the first connection never reads or ends.
    const h = herd(9, { maxReceiveBufferBytes: 2.5 * 1024 * 1024 });
    const first = h.addPeer();
    const second = h.addPeer();
    runUntil(h, () => first.conn.state === 'established' && second.conn.state === 'established', 2_000);
    expect(creditTo(h, first)).toBe(INITIAL_GRANT);
    expect(creditTo(h, second)).toBe(INITIAL_GRANT);
    const big = filledBytes(1.5 * 1024 * 1024, (k) => byteAt(2, k), BYTE_PERIOD);
    second.conn.send(big);
    h.sim.wake(second.address);
    runUntil(h, () => creditTo(h, second) > INITIAL_GRANT, 2_000);
    expect(creditTo(h, second)).toBe(1.5 * 1024 * 1024 + 256);
    const conn = (): Connection => h.accepted.find((c) => c.localCid === second.conn.remoteCid) as Connection;
    runUntil(h, () => (h.received.get(conn())?.length ?? 0) === 1, 10_000);
    expect(Buffer.compare(h.received.get(conn())?.[0] as Uint8Array, big)).toBe(0);
    // Past the budget less its sixteenth by the overcommit at most.
    expect(h.server.stats().receiveBuffer.granted).toBeLessThanOrEqual(2400 * 1024 + h.server.receivePool.overcommit);
    expect(h.server.receivePool.overcommit).toBe(2400 * 1024);
  });

  it("connections opened while idle ones hold the budget do not shrink the overcommit: a newcomer's message as large as the window, then another's 8 MiB, both arrive", () => {
    // As above, 30 idle connections hold the default budget's 960 MiB. Newcomers then open, each
    // charged its 4 KiB floor past the line (the reserve is for them). Before, those floors counted
    // against the overcommit: with three or more, a message as large as the window (32 MiB less 256
    // bytes, what `maxMessageSize` allows) never fit it, its connection stayed the one allowed to take
    // it, and an 8 MiB message that did fit waited behind it: neither arrived, for good, and no timer
    // closed anyone (the claimant had taken nothing). A hostile peer gets there by opening a few idle
    // connections and sending one BLOCKED. Now the overcommit comes on top of such floors.
    const h = herd(23, {});
    holdBudgetIdle(h);
    const late: Peer[] = [];
    for (let i = 0; late.length < 4 || h.server.receivePool.room > -4 * RECEIVE_FLOOR; i++) {
      late.push(h.addPeer(`10.0.4.${i + 1}:5000`));
      runUntil(h, () => late.every((p) => p.conn.state === 'established'), 2_000);
    }
    for (const p of late) expect(creditTo(h, p)).toBe(RECEIVE_FLOOR);
    const [near, other] = late as [Peer, Peer];
    const whole = filledBytes(near.conn.maxMessageSize(), (k) => byteAt(70, k), BYTE_PERIOD);
    expect(whole.length).toBe(32 * 1024 * 1024 - 256);
    near.conn.send(whole);
    h.sim.wake(near.address);
    h.sim.runFor(500);
    const m = filledBytes(8 * 1024 * 1024, (k) => byteAt(71, k), BYTE_PERIOD);
    other.conn.send(m);
    h.sim.wake(other.address);
    const conn = (p: Peer): Connection => serverConnection(h, p);
    let most = 0;
    runUntil(
      h,
      () => {
        most = Math.max(most, h.server.receivePool.committed);
        return [near, other].every((p) => (h.received.get(conn(p) as Connection)?.length ?? 0) === 1);
      },
      20_000,
    );
    expect(Buffer.compare(h.received.get(conn(other) as Connection)?.[0] ?? new Uint8Array(0), m)).toBe(0);
    expect(Buffer.compare(h.received.get(conn(near) as Connection)?.[0] ?? new Uint8Array(0), whole)).toBe(0);
    // Past the budget less its sixteenth by one window and the newcomers' floors at most.
    const budget = DEFAULT_MAX_RECEIVE_BUFFER_BYTES;
    expect(most).toBeLessThanOrEqual(budget - budget / 16 + 32 * 1024 * 1024 + (late.length + 1) * RECEIVE_FLOOR);
    expect([near, other].every((p) => p.conn.state === 'established')).toBe(true);
  });
});
