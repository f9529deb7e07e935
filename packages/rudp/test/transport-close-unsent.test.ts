/**
 * A connection that ends says which of its reliable messages never left (`closed`'s `unsentFrom`): none of
 * their bytes was sent, so none can have reached the peer, and an application may send them again on
 * another connection without their arriving twice. Messages held behind a closed flow-control window or a
 * full congestion window are such; one that had a fragment out, or was sent whole and not acknowledged, may
 * have arrived and is not. The packets the client put on the wire (plaintext, so their frames can be read)
 * show which messages left.
 */
import { describe, expect, it } from 'vitest';
import type { EndpointEvent } from '../src/core/events.js';
import { parseFrames } from '../src/wire/frame.js';
import { CLIENT, SERVER, firstOf, makePair, type Pair } from './helpers/pair.js';
import { tapDataPackets } from './helpers/tap.js';

/** A plaintext pair, established, whose client's packets are read for the ids of the messages they carry. */
const tappedPair = (server: { readonly receiveWindow?: number } = {}): { readonly p: Pair; readonly onWire: Set<number> } => {
  const p = makePair({
    seed: 7,
    link: { delayMs: 20, jitterMs: 0 },
    client: { plaintext: true, idleTimeoutMs: 4_000 },
    server: { plaintext: true, idleTimeoutMs: 60_000, ...server },
  });
  const onWire = new Set<number>();
  tapDataPackets(p.client, (h) => {
    for (const f of parseFrames(h.payload) ?? []) if (f.type === 'fragment') onWire.add(f.messageId);
  });
  p.sim.runFor(500);
  if (p.conn.state !== 'established') throw new Error('not established');
  return { p, onWire };
};

/** The client's `closed` event (read now: the pair reads events only when a datagram or timer comes, and none may). */
const closedOf = (p: Pair): Extract<EndpointEvent, { type: 'closed' }> => {
  for (let e = p.client.pollEvent(); e; e = p.client.pollEvent()) p.clientEvents.push({ at: p.sim.now, event: e });
  const e = firstOf(p.clientEvents, 'closed')?.event;
  if (e?.type !== 'closed') throw new Error('the client did not close');
  return e;
};

describe('closed: which messages never left', () => {
  it('messages behind a closed flow-control window are unsent; the ones sent before, unacknowledged, are not', () => {
    // 4,352 bytes of credit each (4,096 and 256): three fit the server's 16 KiB window, the fourth does not.
    const { p, onWire } = tappedPair({ receiveWindow: 16 * 1024 });
    // Nothing comes back from now on: no ACK, and no MAX_DATA that would open the window.
    p.sim.setLink(SERVER, CLIENT, { delayMs: 20, jitterMs: 0, loss: 1 });
    const ids = Array.from({ length: 6 }, (_, i) => p.conn.send(new Uint8Array(4096).fill(i)));
    p.sim.wake(CLIENT);
    p.sim.runFor(1_000);
    expect([...onWire].sort()).toEqual([0, 1, 2]);
    p.conn.destroy(p.sim.now, 1, 'giving up');
    p.sim.wake(CLIENT);
    p.sim.runFor(100);
    const closed = closedOf(p);
    expect(closed.reason.kind).toBe('local');
    // Messages 0–2 went (resent, never acknowledged: they may have arrived); 3–5 never did.
    expect(closed.unsentFrom).toBe(3);
    expect(ids.filter((id) => id >= closed.unsentFrom)).toEqual([3, 4, 5]);
    expect(ids.filter((id) => id < closed.unsentFrom).every((id) => onWire.has(id))).toBe(true);
    expect(ids.filter((id) => id >= closed.unsentFrom).some((id) => onWire.has(id))).toBe(false);
  });

  it('messages behind a full congestion window are unsent at an idle timeout; one partly sent is not', () => {
    const { p, onWire } = tappedPair();
    p.sim.setLink(SERVER, CLIENT, { delayMs: 20, jitterMs: 0, loss: 1 });
    const small = p.conn.send(new Uint8Array(100).fill(1));
    // Far more than the congestion window lets leave before an ACK: only its first fragments go.
    const large = p.conn.send(new Uint8Array(512 * 1024).fill(2));
    const behind = [p.conn.send(new Uint8Array(100).fill(3)), p.conn.send(new Uint8Array(5000).fill(4))];
    p.sim.wake(CLIENT);
    p.sim.runFor(10_000);
    const closed = closedOf(p);
    expect(closed.reason.kind).toBe('timeout');
    // The large message left in part: fewer bytes went than it holds, yet some of it did.
    expect(onWire.has(large)).toBe(true);
    expect(p.conn.stats().bytesSent).toBeLessThan(512 * 1024);
    expect(onWire.has(small)).toBe(true);
    expect(behind.some((id) => onWire.has(id))).toBe(false);
    expect(closed.unsentFrom).toBe(behind[0]);
  });

  it('every message acknowledged or sent: unsentFrom is the next id', () => {
    const { p } = tappedPair();
    p.conn.send(new Uint8Array(100));
    p.conn.send(new Uint8Array(3000));
    p.sim.wake(CLIENT);
    p.sim.runFor(1_000);
    p.conn.destroy(p.sim.now, 1, 'done');
    p.sim.wake(CLIENT);
    p.sim.runFor(100);
    expect(closedOf(p).unsentFrom).toBe(2);
  });
});
