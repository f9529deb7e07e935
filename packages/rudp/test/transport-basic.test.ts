import { describe, expect, it } from 'vitest';
import { CLIENT, SERVER, ackedOf, firstOf, makePair, messagesOf } from './helpers/pair.js';

const enc = new TextEncoder();

describe('handshake and delivery on a clean link', () => {
  it('connects in about two round trips (INITIAL, RETRY, INITIAL+cookie, ACCEPT)', () => {
    const p = makePair({ link: { delayMs: 35 } });
    p.sim.runFor(1000);
    const connected = firstOf(p.clientEvents, 'connected');
    expect(connected?.at).toBeCloseTo(140, 5);
    expect(firstOf(p.serverEvents, 'incoming')?.at).toBeCloseTo(105, 5);
    // One RETRY (sent with its copy) for each of the INITIAL's two copies.
    expect(p.server.stats().retriesSent).toBe(2);
  });

  it('delivers messages in order, whole, and acknowledges each', () => {
    const p = makePair();
    const sent = [enc.encode('hello'), new Uint8Array(0), new Uint8Array(5000).fill(7), enc.encode('bye')];
    const ids = sent.map((m) => p.conn.send(m));
    p.sim.wake(CLIENT);
    p.sim.runFor(2000);
    expect(messagesOf(p.serverEvents)).toEqual(sent);
    const acked = ackedOf(p.clientEvents).map((a) => a.id);
    expect(acked.sort((a, b) => a - b)).toEqual(ids);
  });

  it('reports the messages one acknowledgement completes as one acked event per run of ids', () => {
    const p = makePair();
    p.sim.runFor(200);
    // Ten small messages leave in one packet (of 1,200 bytes before path MTU discovery), so one ACK completes them all.
    const ids = Array.from({ length: 10 }, (_, i) => p.conn.send(new Uint8Array(64).fill(i)));
    p.sim.wake(CLIENT);
    p.sim.runFor(2000);
    const runs = p.clientEvents.flatMap((r) => (r.event.type === 'acked' ? [[r.event.messageId, r.event.count]] : []));
    expect(runs).toEqual([[ids[0], 10]]);
    expect(ackedOf(p.clientEvents).map((a) => a.id)).toEqual(ids);
  });

  it('echoes both ways', () => {
    const p = makePair();
    p.onServerEvent = (e) => {
      if (e.type === 'message') e.connection.send(e.data);
    };
    for (let i = 0; i < 100; i++) p.conn.send(enc.encode(`m${i}`));
    p.sim.wake(CLIENT);
    p.sim.runFor(3000);
    expect(messagesOf(p.clientEvents).map((m) => new TextDecoder().decode(m))).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
  });

  it('closes gracefully: queued data first, then both sides see closed', () => {
    const p = makePair();
    p.conn.send(new Uint8Array(20_000).fill(1));
    p.conn.close(0);
    p.sim.wake(CLIENT);
    p.sim.runFor(5000);
    expect(messagesOf(p.serverEvents)).toHaveLength(1);
    const cc = firstOf(p.clientEvents, 'closed');
    const sc = firstOf(p.serverEvents, 'closed');
    expect(cc?.event.type === 'closed' && cc.event.reason.kind).toBe('local');
    expect(sc?.event.type === 'closed' && sc.event.reason.kind).toBe('peer');
    expect(p.client.connectionCount).toBe(0);
    expect(p.server.connectionCount).toBe(0);
    void SERVER;
  });
});
