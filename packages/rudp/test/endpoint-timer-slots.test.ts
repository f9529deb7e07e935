/**
 * One server endpoint, many clients, connections coming and going: every
 * connection's timers live in a slot of the endpoint's deadline heap, and a
 * slot freed by a closed connection is reused by a later one without
 * either seeing the other's deadlines (a vanished peer still times out, a
 * live one is never closed early).
 */
import { describe, expect, it } from 'vitest';
import { Endpoint } from '../src/core/endpoint.js';
import type { Connection } from '../src/core/connection.js';
import { SimNetwork } from '../src/testing/sim-network.js';
import { deterministicCrypto } from '../src/testing/deterministic-crypto.js';
import { nodeCryptoProvider } from '../src/node/crypto-provider.js';

const SERVER = '10.0.0.2:4000';

describe('endpoint timer slots', () => {
  it('reuses the slots of closed connections, and each connection keeps its own deadlines', () => {
    const sim = new SimNetwork({ seed: 5, defaultLink: { delayMs: 10 } });
    const server = new Endpoint({ random: sim.random('server'), acceptIncoming: true, crypto: deterministicCrypto(nodeCryptoProvider, sim.random('sc')) });
    const serverClosed: string[] = [];
    let serverMessages = 0;
    sim.addNode(SERVER, server, {
      onActivity: () => {
        for (let e = server.pollEvent(); e; e = server.pollEvent()) {
          if (e.type === 'message') serverMessages++;
          if (e.type === 'closed') serverClosed.push(`${e.connection.remote} ${e.reason.kind}`);
        }
      },
    });
    const clients: { ep: Endpoint; conn: Connection; addr: string }[] = [];
    const open = (i: number): void => {
      const addr = `10.0.1.${i}:5000`;
      const ep = new Endpoint({ random: sim.random(`c${i}`), crypto: deterministicCrypto(nodeCryptoProvider, sim.random(`cc${i}`)) });
      sim.addNode(addr, ep, { onActivity: () => { for (let e = ep.pollEvent(); e; e = ep.pollEvent()); } });
      clients.push({ ep, conn: ep.connect(sim.now, SERVER), addr });
      sim.wake(addr);
    };
    for (let i = 0; i < 20; i++) open(i);
    sim.runFor(1_000);
    expect(server.connectionCount).toBe(20);
    const slotsHandedOut = (): number => (server as unknown as { slotCount: number }).slotCount;
    expect(slotsHandedOut()).toBe(20);
    // Ten clients vanish (their peer hears nothing more); the other ten keep sending now and then.
    for (const c of clients.slice(0, 10)) sim.setLinks(c.addr, SERVER, { loss: 1 });
    const live = clients.slice(10);
    const send = (): void => {
      for (const c of live) {
        c.conn.send(new Uint8Array(16));
        sim.wake(c.addr);
      }
    };
    for (let t = 5_000; t <= 60_000; t += 5_000) sim.schedule(t, send);
    sim.runUntil(45_000);
    // The vanished ten timed out on the server within the idle timeout (30 s), the live ten did not.
    expect(serverClosed).toHaveLength(10);
    expect(serverClosed.every((r) => r.endsWith('timeout'))).toBe(true);
    expect(server.connectionCount).toBe(10);
    // Ten newcomers take the freed slots: the heap's slot table does not grow.
    for (let i = 20; i < 30; i++) open(i);
    sim.runUntil(47_000);
    expect(server.connectionCount).toBe(20);
    expect(slotsHandedOut()).toBe(20);
    // The newcomers inherit no deadline of the connections that held their slots: nothing closes early.
    sim.runUntil(70_000);
    expect(serverClosed).toHaveLength(10);
    // …and their own timers run: once the newcomers vanish too, the server closes them within the idle timeout.
    for (const c of clients.slice(20)) sim.setLinks(c.addr, SERVER, { loss: 1 });
    sim.runUntil(70_000 + 30_000 + 1_000);
    expect(serverClosed).toHaveLength(20);
    expect(server.connectionCount).toBe(10);
    expect(serverMessages).toBe(10 * 12);
  });
});
