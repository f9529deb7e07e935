/**
 * Sealing and opening DATA packets go through scratch buffers shared by
 * every endpoint (core/packet-sealing.ts): a small packet is sealed into
 * one and copied out, and a small received datagram is copied whole into
 * another before it is opened, both through views kept by size. Packets of
 * one size, one after another, must each open to their own bytes, and the
 * copy must never let a refused packet pass.
 */
import { describe, expect, it } from 'vitest';
import { DatagramScratch } from '../src/core/datagram-scratch.js';
import { openPayload, sealDatagram } from '../src/core/packet-sealing.js';
import type { AeadLimits } from '../src/crypto/aead-limits.js';
import { PacketProtection } from '../src/crypto/packet-protection.js';
import { nodeCryptoProvider as crypto } from '../src/node/crypto-provider.js';
import { HeaderScratch, PacketType, parseHeaderInto } from '../src/wire/packet.js';

const pair = (limits?: AeadLimits): { client: PacketProtection; server: PacketProtection } => {
  const c2s = crypto.randomBytes(32);
  const s2c = crypto.randomBytes(32);
  return {
    client: new PacketProtection(crypto, { sendSecret: c2s, receiveSecret: s2c, ...(limits ? { limits } : {}) }),
    server: new PacketProtection(crypto, { sendSecret: s2c, receiveSecret: c2s, ...(limits ? { limits } : {}) }),
  };
};

const scratch = new DatagramScratch(1472);

/** A protected DATA packet `pn` carrying `payload`, sealed as the core seals one. */
function seal(p: PacketProtection, pn: number, payload: Uint8Array): Uint8Array {
  const w = scratch.writer(9 + payload.length + 16, PacketType.Protected0, 0x01020304, pn, 4);
  w.bytes(payload);
  return sealDatagram(p, w, pn, scratch);
}

function open(p: PacketProtection, datagram: Uint8Array, checkCopies = false): Uint8Array | string {
  const h = new HeaderScratch();
  const drop = parseHeaderInto(datagram, h);
  if (drop !== undefined) return drop;
  const r = openPayload(p, true, h, h.pn, checkCopies);
  return typeof r === 'string' ? r : r.slice();
}

describe('packet sealing through shared scratch buffers', () => {
  for (const size of [20, 20 + 400, 1200]) {
    it(`${size}-byte payloads: one size back to back, each sealed datagram keeps its bytes and opens to its own payload`, () => {
      const { client, server } = pair();
      const payloads = [1, 2, 3, 4].map((i) => new Uint8Array(size).fill(i));
      const datagrams = payloads.map((m, i) => seal(client, i + 1, m));
      const copies = datagrams.map((d) => d.slice());
      expect(new Set(datagrams.map((d) => d.length)).size).toBe(1);
      datagrams.forEach((d, i) => expect(d).toEqual(copies[i]));
      // A forgery of the same size right after a genuine packet: the copy of the one before must not stand in for it.
      const forged = (copies[3] as Uint8Array).slice();
      forged[20] = (forged[20] ?? 0) ^ 1;
      expect(open(server, datagrams[0] as Uint8Array)).toEqual(payloads[0]);
      expect(open(server, forged)).toBe('auth');
      expect(open(server, datagrams[1] as Uint8Array)).toEqual(payloads[1]);
      expect(open(server, datagrams[2] as Uint8Array)).toEqual(payloads[2]);
      expect(open(server, (copies[0] as Uint8Array).slice())).toBe('replay');
      expect(open(server, datagrams[3] as Uint8Array)).toEqual(payloads[3]);
    });
  }

  it('checking copies (a server moved to an unvalidated port): an authentic duplicate is a copy, a forged one a forgery that counts to the integrity limit and then closes', () => {
    const { client, server } = pair({ updateAfterPackets: 1000, confidentialityLimit: 1000, integrityLimit: 2 });
    const payload = new Uint8Array(40).fill(9);
    const datagram = seal(client, 5, payload);
    const copy = datagram.slice();
    const forged = datagram.slice();
    forged[20] = (forged[20] ?? 0) ^ 1;
    expect(open(server, datagram.slice(), true)).toEqual(payload);
    expect(open(server, copy.slice(), false)).toBe('replay');
    expect(open(server, copy.slice(), true)).toBe('copy');
    expect(open(server, forged.slice(), true)).toBe('auth');
    expect(open(server, forged.slice(), true)).toBe('integrity-limit');
  });
});
