/**
 * The overcommit answer's MAX_DATA lost while the peer's other packets get through: the peer's time to
 * begin its message counts from its acknowledgment of a packet that carried the answer, not of any later
 * one, so an honest peer the credit reaches late is not closed; one it never reaches is still closed,
 * the idle timeout and four probe timeouts after the answer first left.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import { PROTOCOL_VIOLATION } from '../src/core/connection/close.js';
import { type Herd, type Peer, BYTE_PERIOD, byteAt, herd, runUntil, serverConnection } from './helpers/receive-budget-rig.js';
import { filledBytes } from './helpers/filled-bytes.js';

/**
 * Drops the server's datagrams to `peer` whose packet carried MAX_DATA, from the overcommit answer's
 * packet on, while `dropping()` says so; every other datagram passes. Returns when the answer first left
 * (`undefined`: not yet).
 */
function dropAnswers(h: Herd, peer: Peer, dropping: (now: number) => boolean): () => number | undefined {
  const poll = h.server.pollTransmit.bind(h.server);
  h.server.pollTransmit = (now: number) => {
    for (let t = poll(now); t !== undefined; t = poll(now)) {
      const c = h.accepted.find((a) => a.localCid === peer.conn.remoteCid);
      if (t.to !== peer.address || c === undefined || !dropping(now) || !carriedAnswer(c)) return t;
    }
    return undefined;
  };
  return () => {
    const c = h.accepted.find((a) => a.localCid === peer.conn.remoteCid);
    return c?.overcommitTimer?.since;
  };
}

/** Whether `c`'s packet just sent carried MAX_DATA at or after its overcommit answer's packet. */
function carriedAnswer(c: Connection): boolean {
  const answer = c.overcommitTimer;
  if (answer === undefined) return false;
  for (const p of c.recovery.packets()) if (p.pn === c.nextPn - 1) return p.pn >= answer.pn && p.carriedMaxData;
  return false;
}

/** A 2.5 MiB budget and two default connections: the second's 1.5 MiB message takes the overcommit (as in transport-receive-budget-overcommit-honest.test.ts). */
function rig(seed: number): { h: Herd; second: Peer; big: Uint8Array } {
  const h = herd(seed, { maxReceiveBufferBytes: 2.5 * 1024 * 1024 });
  const first = h.addPeer();
  const second = h.addPeer();
  runUntil(h, () => first.conn.state === 'established' && second.conn.state === 'established', 2_000);
  return { h, second, big: filledBytes(1.5 * 1024 * 1024, (k) => byteAt(4, k), BYTE_PERIOD) };
}

describe('an endpoint-wide receive budget (maxReceiveBufferBytes)', () => {
  it("an honest peer whose overcommit answer is lost for 20 s while its other packets arrive is not closed: its time to begin counts from a MAX_DATA's acknowledgment", () => {
    // As at 128 kbit/s with 30 % burst loss (test/measure/overcommit-pace.ts 30 30000 slow, seed 29): the
    // answer's MAX_DATA was lost twice while the server's PINGs got through, and reached the peer 18.3 s
    // after a PING's acknowledgment. Before, that acknowledgment started the 10 s and four probe
    // timeouts (some 1 s here) the peer has to begin: this peer was closed, code 3, some 11 s after the
    // answer left, though it never had the credit. Now they start once a packet with the MAX_DATA is acknowledged.
    const { h, second, big } = rig(24);
    let answered: number | undefined;
    const answerLeft = dropAnswers(h, second, (now) => answered === undefined || now < answered + 20_000);
    second.conn.send(big);
    h.sim.wake(second.address);
    const conn = (): Connection => serverConnection(h, second);
    runUntil(h, () => (answered = answerLeft()) !== undefined, 2_000);
    expect(answered).toBeDefined();
    runUntil(h, () => (h.received.get(conn())?.length ?? 0) === 1 || conn().state !== 'established', 40_000);
    expect(conn().closeReason?.code).toBeUndefined();
    expect(conn().state).toBe('established');
    expect(Buffer.compare(h.received.get(conn())?.[0] ?? new Uint8Array(0), big)).toBe(0);
    // The peer acknowledged other packets all along: only the answer was held back.
    expect(conn().stat.packetsLost).toBeGreaterThan(10);
  });

  it("a peer that acknowledges every packet but the answer's MAX_DATA is still closed, the idle timeout and four probe timeouts after the answer left", () => {
    // Nothing tells it from the honest one above, whose answer was lost: the bound is the one a peer
    // that acknowledges nothing has (`overcommitGrace`), some 31 s by default.
    const { h, second, big } = rig(24);
    const answerLeft = dropAnswers(h, second, () => true);
    second.conn.send(big);
    h.sim.wake(second.address);
    const conn = (): Connection => serverConnection(h, second);
    runUntil(h, () => answerLeft() !== undefined, 2_000);
    const answered = answerLeft() as number;
    runUntil(h, () => conn().state !== 'established', 60_000);
    const closedAt = h.sim.now;
    expect(conn().closeReason?.code).toBe(PROTOCOL_VIOLATION);
    expect(conn().closeReason?.message).toMatch(/did not begin the message/);
    const grace = conn().config.idleTimeoutMs + 4 * conn().rtt.pto(conn().config.maxAckDelayMs);
    expect(closedAt - answered).toBeGreaterThanOrEqual(conn().config.idleTimeoutMs);
    expect(closedAt - answered).toBeLessThanOrEqual(grace + 100);
    expect(h.received.get(conn()) ?? []).toEqual([]);
  });
});
