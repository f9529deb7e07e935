/**
 * Outgoing packets are all written into one scratch buffer per endpoint
 * (core/datagram-scratch.ts), whose views are kept and reused. A datagram
 * handed out must still be its own bytes after later packets reuse the
 * buffer: here every datagram is held back until the sender has built more,
 * and only then delivered.
 */
import { describe, expect, it } from 'vitest';
import { DatagramScratch } from '../src/core/datagram-scratch.js';
import { Endpoint } from '../src/core/endpoint.js';
import { nodeCryptoProvider } from '../src/node/crypto-provider.js';
import { PacketType, PacketWriter, type PnLength } from '../src/wire/packet.js';
import { createRandom } from '../src/testing/prng.js';
import { deterministicCrypto } from '../src/testing/deterministic-crypto.js';
import { drain } from './helpers/drain.js';

const CLIENT = '10.0.0.1:5000';
const SERVER = '10.0.0.2:4000';


function pair(plaintext: boolean): { client: Endpoint; server: Endpoint } {
  const random = createRandom(7);
  const crypto = (): { crypto: ReturnType<typeof deterministicCrypto> } | { plaintext: true } => (plaintext ? { plaintext: true } : { crypto: deterministicCrypto(nodeCryptoProvider, random) });
  return { client: new Endpoint({ random, ...crypto() }), server: new Endpoint({ random, acceptIncoming: true, ...crypto() }) };
}

/** Runs `conn`'s handshake with every datagram delivered at once, 10 ms a round; the time after it. */
function handshake(client: Endpoint, server: Endpoint, conn: { readonly state: string }, start: number): number {
  let now = start;
  for (let round = 0; round < 10 && conn.state === 'handshake'; round++) {
    now += 10;
    for (const t of drain(client, now)) server.handleDatagram(now, t.data, CLIENT);
    for (const t of drain(server, now)) client.handleDatagram(now, t.data, SERVER);
    for (let e = server.pollEvent(); e; e = server.pollEvent());
    for (let e = client.pollEvent(); e; e = client.pollEvent());
  }
  return now;
}

describe('datagram scratch', () => {
  it('hands out the same view for the same length, over the start of the buffer', () => {
    const s = new DatagramScratch(1472);
    expect(s.view(1472)).toBe(s.full);
    const v = s.view(1200);
    expect(s.view(1200)).toBe(v);
    expect(v.length).toBe(1200);
    expect(s.view(9)).not.toBe(v);
    v[3] = 42;
    expect(s.view(9)[3]).toBe(42);
    // Past the few views it keeps, every length still gets a view of the right length.
    for (let n = 1300; n < 1400; n++) expect(s.view(n).length).toBe(n);
    expect(s.view(1200)).toBe(v);
  });

  it('range: a kept view only for exactly the range asked for, of this scratch, however ranges share a slot', () => {
    const s = new DatagramScratch(1472);
    const other = new DatagramScratch(1472);
    for (const x of [s, other]) x.full.forEach((_, i) => void (x.full[i] = i & 0xff));
    const expectRange = (x: DatagramScratch, v: Uint8Array, start: number, end: number): void => {
      expect([v.byteOffset, v.length, v.buffer]).toEqual([start, end - start, x.full.buffer]);
      expect(v.buffer).toBe(x.full.buffer);
    };
    const a = s.range(9, 100);
    expectRange(s, a, 9, 100);
    expect(s.range(9, 100)).toBe(a);
    // The same range of another endpoint's scratch: its own buffer.
    expectRange(other, other.range(9, 100), 9, 100);
    expectRange(s, s.range(9, 100), 9, 100);
    // The same end from another start; another end in the same slot, with another length and with the same.
    expectRange(s, s.range(7, 100), 7, 100);
    expectRange(s, s.range(9, 108), 9, 108);
    expectRange(s, s.range(9, 100), 9, 100);
    expectRange(s, s.range(17, 108), 17, 108);
    expect(s.range(17, 108)).toEqual(s.full.subarray(17, 108));
  });

  it('its one packet writer starts every packet as a new writer would, whatever the packet before', () => {
    const s = new DatagramScratch(1472);
    type Packet = readonly [length: number, type: PacketType, dcid: number, pn: number, pnBytes: PnLength, payload: number];
    // Plain packets with a masked two-byte number (epochs 1 and 0), a protected one, then the first again.
    const packets: readonly Packet[] = [
      [1200, PacketType.Data, 0x01020304, 70_000, 2, 0xaa],
      [1200, PacketType.Data, 0x01020304, 5, 2, 0xaa],
      [600, PacketType.Protected0, 0x0a0b0c0d, 5, 4, 0xbb],
      [1200, PacketType.Data, 0x01020304, 70_000, 2, 0xaa],
    ];
    const finished = packets.map(([length, type, dcid, pn, pnBytes, payload]) => {
      const fresh = new PacketWriter(new Uint8Array(length), type, dcid, pn, pnBytes);
      const w = s.writer(length, type, dcid, pn, pnBytes);
      expect(w).toBe(s.writer(length, type, dcid, pn, pnBytes));
      expect([w.pos, w.headerLength, w.room(), w.buf.length]).toEqual([fresh.pos, fresh.headerLength, fresh.room(), length]);
      for (const x of [w, fresh]) {
        x.u8(payload);
        x.varint(pn);
      }
      const out = w.finish().slice();
      expect(out).toEqual(fresh.finish());
      return out;
    });
    // The last packet is byte for byte the first: nothing of the packets between leaked in.
    expect(finished[3]).toEqual(finished[0]);
  });

  for (const plaintext of [false, true]) {
    it(`${plaintext ? 'plaintext' : 'encrypted'}: datagrams built back to back keep their own bytes until delivered`, () => {
      const { client, server } = pair(plaintext);
      let now = 0;
      const conn = client.connect(now, SERVER);
      now = handshake(client, server, conn, now);
      expect(conn.state).toBe('established');
      // Three messages of a packet each, with distinct contents; every datagram is held back.
      const sent = [1000, 900, 800].map((n, i) => new Uint8Array(n).fill(i + 1));
      for (const m of sent) conn.send(m);
      now += 1;
      const held = drain(client, now);
      expect(held.length).toBeGreaterThanOrEqual(3);
      const copies = held.map((t) => t.data.slice());
      // More packets from the same scratch buffer (ACK-eliciting data and a probe-free close).
      conn.send(new Uint8Array(1000).fill(9));
      held.push(...drain(client, now + 1));
      held.slice(0, copies.length).forEach((t, i) => expect(t.data).toEqual(copies[i]));
      for (const t of held) server.handleDatagram(now + 10, t.data, CLIENT);
      const got: Uint8Array[] = [];
      for (let e = server.pollEvent(); e; e = server.pollEvent()) if (e.type === 'message') got.push(e.data.slice());
      expect(got).toEqual([...sent, new Uint8Array(1000).fill(9)]);
      expect(server.stats().droppedTotal).toBe(0);
    });
  }

  it('encrypted: datagrams of one size, sealed one after another through the shared sealing buffer, keep their own bytes', () => {
    // Idle traffic: one small message per packet, every packet the same size, so every packet is sealed
    // into the same view of core/packet-sealing.ts's shared buffer before it is copied out.
    const { client, server } = pair(false);
    let now = 0;
    const conn = client.connect(now, SERVER);
    now = handshake(client, server, conn, now);
    expect(conn.state).toBe('established');
    const sent = [1, 2, 3, 4].map((i) => new Uint8Array(16).fill(i));
    const held: Uint8Array[] = [];
    const copies: Uint8Array[] = [];
    const got: Uint8Array[] = [];
    for (const m of sent) {
      conn.send(m);
      now += 10;
      const out = drain(client, now);
      expect(out).toHaveLength(1);
      // The server gets a copy and acknowledges it; the datagram handed out is held back.
      for (const t of out) {
        held.push(t.data);
        copies.push(t.data.slice());
        server.handleDatagram(now, t.data.slice(), CLIENT);
      }
      for (let e = server.pollEvent(); e; e = server.pollEvent()) if (e.type === 'message') got.push(e.data.slice());
      now += 10;
      for (const t of drain(server, now)) client.handleDatagram(now, t.data, SERVER);
      for (let e = client.pollEvent(); e; e = client.pollEvent());
    }
    // Most are the same size (one may carry an ACK or a copy as well).
    expect(held.filter((d) => d.length === held[0]?.length).length).toBeGreaterThanOrEqual(3);
    held.forEach((d, i) => expect(d).toEqual(copies[i]));
    expect(got).toEqual(sent);
    expect(server.stats().droppedTotal).toBe(0);
  });
});
