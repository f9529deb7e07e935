/**
 * The send path builds every packet of an endpoint with shared scratch
 * objects (core/send/packet-scratch.ts: the packet's plan, its sources, the record
 * handed to loss detection; core/send/packet-builder.ts: its chunks and
 * contents). Two connections of one endpoint, polled in turn packet after
 * packet, must each send their own messages and see their own packets
 * acknowledged.
 */
import { describe, expect, it } from 'vitest';
import { Endpoint } from '../src/core/endpoint.js';
import { nodeCryptoProvider } from '../src/node/crypto-provider.js';
import { deterministicCrypto } from '../src/testing/deterministic-crypto.js';
import { createRandom } from '../src/testing/prng.js';
import { drain } from './helpers/drain.js';

const CLIENT = '10.0.0.1:5000';
const SERVER = '10.0.0.2:4000';


describe('send scratch objects shared by the connections of one endpoint', () => {
  it('two connections sending at once: each sends its own messages and hears of its own acknowledgements', () => {
    const random = createRandom(11);
    const client = new Endpoint({ random, crypto: deterministicCrypto(nodeCryptoProvider, random) });
    const server = new Endpoint({ random, acceptIncoming: true, crypto: deterministicCrypto(nodeCryptoProvider, random) });
    const conns = [client.connect(0, SERVER), client.connect(0, SERVER)];
    const received = new Map<unknown, number[]>();
    const acked = new Map<unknown, number[]>();
    let now = 0;
    const round = (): void => {
      now += 10;
      for (const t of drain(client, now)) server.handleDatagram(now, t.data, CLIENT);
      for (let e = server.pollEvent(); e; e = server.pollEvent()) {
        if (e.type !== 'message') continue;
        const got = received.get(e.connection) ?? [];
        got.push(...e.data);
        received.set(e.connection, got);
      }
      for (const t of drain(server, now)) client.handleDatagram(now, t.data, SERVER);
      for (let e = client.pollEvent(); e; e = client.pollEvent()) {
        if (e.type !== 'acked') continue;
        const ids = acked.get(e.connection) ?? [];
        for (let k = 0; k < e.count; k++) ids.push(e.messageId + k);
        acked.set(e.connection, ids);
      }
    };
    for (let i = 0; i < 10 && conns.some((c) => c.state === 'handshake'); i++) round();
    expect(conns.map((c) => c.state)).toEqual(['established', 'established']);
    // Small messages (one packet each, both connections' packets interleaved) and a large one each.
    for (let k = 0; k < 20; k++) for (const [i, c] of conns.entries()) c.send(new Uint8Array([i * 100 + k]));
    for (const [i, c] of conns.entries()) c.send(new Uint8Array(5000).fill(i * 100 + 50));
    for (let i = 0; i < 20; i++) round();
    const streams = [...received.values()].map((bytes) => bytes[0]);
    expect(streams.sort()).toEqual([0, 100]);
    for (const bytes of received.values()) {
      const base = bytes[0] as number;
      expect(bytes).toEqual([...Array.from({ length: 20 }, (_, k) => base + k), ...new Array<number>(5000).fill(base + 50)]);
    }
    for (const c of conns) {
      expect(acked.get(c)).toEqual(Array.from({ length: 21 }, (_, id) => id));
      expect(c.stats().packetsLost).toBe(0);
    }
    expect(server.stats().droppedTotal + client.stats().droppedTotal).toBe(0);
  });
});
