/**
 * A peer that never begins its overcommitted message and delays every datagram it sends (its ACKs
 * included) swells the round-trip estimate, and with it the four probe timeouts both overcommit start
 * bounds add (connection/timeouts.ts `overcommitRoundTrips`): at a 28 s delay it held the overcommit
 * 142 s. Those round trips count for at most the idle timeout: closed within two idle timeouts.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import { PROTOCOL_VIOLATION } from '../src/core/connection/close.js';
import { RECEIVE_FLOOR } from '../src/core/receive/receive-pool.js';
import { SERVER, herd, runUntil, serverConnection } from './helpers/receive-budget-rig.js';

describe('an endpoint-wide receive budget (maxReceiveBufferBytes)', () => {
  it('a peer that takes the overcommit, never begins its message and delays its datagrams 28 s is closed within two idle timeouts (60 s), not the idle timeout and four probe timeouts of its own making (142 s)', () => {
    const h = herd(24, { maxReceiveBufferBytes: 2.5 * 1024 * 1024 });
    const first = h.addPeer();
    const second = h.addPeer();
    runUntil(h, () => first.conn.state === 'established' && second.conn.state === 'established', 2_000);
    // The hostile peer sends nothing past its floor, whatever it is granted.
    const allows = second.conn.flow.allows.bind(second.conn.flow);
    second.conn.flow.allows = (end: number): boolean => allows(end) && end <= RECEIVE_FLOOR;
    // Under the unacknowledged timer's idle timeout: the server keeps hearing it, only late.
    h.sim.setLink(second.address, SERVER, { delayMs: 28_000, jitterMs: 2 });
    second.conn.send(new Uint8Array(1.5 * 1024 * 1024));
    h.sim.wake(second.address);
    const conn = (): Connection => serverConnection(h, second);
    runUntil(h, () => conn()?.overcommitTimer !== undefined, 60_000);
    expect(conn().flow.holdsOvercommit).toBe(true);
    const since = conn().overcommitTimer?.since as number;
    runUntil(h, () => conn().state !== 'established', 600_000);
    const c = conn();
    expect(c.closeReason?.code).toBe(PROTOCOL_VIOLATION);
    expect(c.closeReason?.message).toMatch(/did not begin the message/);
    const pto = c.rtt.pto(c.config.maxAckDelayMs);
    const held = h.sim.now - since;
    // The round-trip estimate is the delay: four probe timeouts of it would be 112 s and more.
    expect(pto).toBeGreaterThan(28_000);
    expect(held).toBeLessThanOrEqual(2 * c.config.idleTimeoutMs + 100);
  });
});
