/**
 * Honest peers that take the receive budget's overcommit on bad paths (outages, slow lossy links) are
 * not mistaken for ones that hold it unused: they are not closed, and their messages arrive.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import { SERVER, byteAt, herd, runUntil } from './helpers/receive-budget-rig.js';

describe('an endpoint-wide receive budget (maxReceiveBufferBytes)', () => {
  it('an honest peer whose path is down for 15 s right after its overcommit answer leaves is not closed: its time to begin counts from the answer acknowledged', () => {
    // As in transport-receive-budget-idle-holders.test.ts (a BLOCKED answered in full): a 2.5 MiB budget, two default connections, the second's 1.5 MiB message takes the
    // overcommit. Its path then goes down for 15 s in both directions as the answer leaves (a train
    // tunnel, a handover: the 30 s idle timeout rides it out). Before, the time to begin its message
    // counted from the answer leaving: at 10 s and four probe timeouts the honest peer was closed,
    // code 3 "protocol violation", though nothing had reached it. Now it counts from the peer's
    // acknowledgment of a packet sent with or after the answer.
    const h = herd(24, { maxReceiveBufferBytes: 2.5 * 1024 * 1024 });
    const first = h.addPeer();
    const second = h.addPeer();
    runUntil(h, () => first.conn.state === 'established' && second.conn.state === 'established', 2_000);
    const big = Uint8Array.from({ length: 1.5 * 1024 * 1024 }, (_, k) => byteAt(3, k));
    second.conn.send(big);
    h.sim.wake(second.address);
    const conn = (): Connection => h.accepted.find((c) => c.localCid === second.conn.remoteCid) as Connection;
    const end = h.sim.now + 2_000;
    while (!conn().flow.holdsOvercommit && h.sim.now < end) h.sim.step();
    expect(conn().flow.holdsOvercommit).toBe(true);
    h.sim.setLinks(SERVER, second.address, { delayMs: 20, jitterMs: 2, loss: 1 });
    h.sim.runFor(15_000);
    h.sim.setLinks(SERVER, second.address, { delayMs: 20, jitterMs: 2 });
    runUntil(h, () => (h.received.get(conn())?.length ?? 0) === 1 || conn().state !== 'established', 10_000);
    expect(conn().closeReason?.code).toBeUndefined();
    expect(conn().state).toBe('established');
    expect(Buffer.compare(h.received.get(conn())?.[0] ?? new Uint8Array(0), big)).toBe(0);
  });

  it('an honest peer on a slow lossy path (1 Mbit/s, 10% loss, a 1 MiB queue) takes the overcommit while earlier messages are still resent, and is not closed', () => {
    // The worst honest case the session 33 review found short of an outage: the BLOCKED for the large
    // message leaves once the earlier messages' chunks have all left once, so the answer comes while
    // their losses are still being resent, at 1 Mbit/s behind a bloated queue. The message begins a
    // round trip or so after the answer's acknowledgment (at most 0.7 s in the review's runs, 256 kbit/s
    // and 30% burst loss included), far inside the 10 s and four probe timeouts.
    const h = herd(26, { maxReceiveBufferBytes: 2.5 * 1024 * 1024 });
    const first = h.addPeer();
    const second = h.addPeer();
    h.sim.setLinks(SERVER, second.address, { delayMs: 100, bandwidthBps: 1_000_000, queueBytes: 1024 * 1024, loss: 0.1 });
    runUntil(h, () => first.conn.state === 'established' && second.conn.state === 'established', 5_000);
    const sent = Array.from({ length: 9 }, (_, i) => Uint8Array.from({ length: 100_000 }, (_, k) => byteAt(80 + i, k)));
    sent.push(Uint8Array.from({ length: 1.5 * 1024 * 1024 }, (_, k) => byteAt(90, k)));
    for (const m of sent) second.conn.send(m);
    h.sim.wake(second.address);
    const conn = (): Connection => h.accepted.find((c) => c.localCid === second.conn.remoteCid) as Connection;
    let took = false;
    runUntil(
      h,
      () => {
        took ||= conn().flow.holdsOvercommit;
        return (h.received.get(conn())?.length ?? 0) === sent.length || conn().state !== 'established';
      },
      60_000,
    );
    expect(took).toBe(true);
    expect(conn().closeReason).toBeUndefined();
    const got = h.received.get(conn()) ?? [];
    expect(got.length).toBe(sent.length);
    for (const [i, m] of sent.entries()) expect(Buffer.compare(got[i] as Uint8Array, m), `message ${i}`).toBe(0);
  });
});
