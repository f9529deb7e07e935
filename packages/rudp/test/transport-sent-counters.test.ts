/**
 * A connection counts each datagram it hands over once, whatever carried it (DATA with new data, resends
 * or repairs, an ACK-only packet, a path MTU probe, a PING, the handshake, the CLOSE), and nothing it did
 * not hand over: on an endpoint with one connection, its `packetsSent` and `bytesSent` are the endpoint's
 * `datagramsSent` and `bytesSent`. Seeded simulator.
 */
import { describe, expect, it } from 'vitest';
import { CLIENT, SERVER, makePair } from './helpers/pair.js';

describe("a connection's sent counters", () => {
  it('match what its endpoint sent, through loss, resends, path MTU probes, a key update each way, the close and the drain', () => {
    const p = makePair({ seed: 3, link: { delayMs: 20, jitterMs: 5, loss: 0.05 }, client: { keyUpdateAfterPackets: 64 }, server: { keyUpdateAfterPackets: 64 } });
    p.sim.runFor(300);
    expect(p.conn.state).toBe('established');
    const served = p.serverConn();
    for (let i = 0; i < 300; i++) p.conn.send(new Uint8Array(1300).fill(i));
    for (let i = 0; i < 50; i++) served?.send(new Uint8Array(200).fill(i));
    p.sim.wake(CLIENT);
    p.sim.wake(SERVER);
    p.sim.runFor(20_000);
    p.conn.close(p.sim.now);
    p.sim.wake(CLIENT);
    p.sim.runFor(20_000);
    expect(p.conn.state).toBe('closed');
    const s = p.conn.stats();
    // Each kind of packet was sent, so each path that counts was taken.
    expect(s.packetsRetransmitted).toBeGreaterThan(0);
    expect(s.mtuProbesAcked + s.mtuProbesLost).toBeGreaterThan(0);
    expect(s.keyUpdates).toBeGreaterThanOrEqual(2);
    const e = p.client.stats();
    expect([s.packetsSent, s.bytesSent]).toEqual([e.datagramsSent, e.bytesSent]);
    const ss = served?.stats();
    expect(ss?.keyUpdates).toBeGreaterThanOrEqual(2);
  });
});
