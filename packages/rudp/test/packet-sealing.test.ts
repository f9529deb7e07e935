/**
 * Sealing and opening DATA packets go through scratch buffers shared by
 * every endpoint (core/packet-sealing.ts): a small packet is sealed into
 * one and copied out, and a small received datagram is copied whole into
 * another before it is opened, both through views kept by size. Packets of
 * one size, one after another, must each open to their own bytes, and the
 * copy must never let a refused packet pass. A provider with a
 * whole-datagram path (OpenSSL's `packetAead`) seals and opens in one call
 * instead: the same bytes as the per-call path, either opening the other's.
 */
import { describe, expect, it } from 'vitest';
import { DatagramScratch } from '../src/core/datagram-scratch.js';
import { dataPacketType, openPayload, sealDatagram } from '../src/core/packet-sealing.js';
import type { AeadLimits } from '../src/crypto/aead-limits.js';
import { PacketProtection } from '../src/crypto/packet-protection.js';
import type { CryptoProvider } from '../src/crypto/crypto-provider.js';
import { nodeCryptoProvider as crypto, packetCipherProviders } from '../src/node/crypto-provider.js';
import { HeaderScratch, PacketType, parseHeaderInto } from '../src/wire/packet.js';

/** A client and server pair on `provider`. */
const pair = (provider: CryptoProvider, limits?: AeadLimits): { client: PacketProtection; server: PacketProtection } => {
  const c2s = crypto.randomBytes(32);
  const s2c = crypto.randomBytes(32);
  return {
    client: new PacketProtection(provider, { sendSecret: c2s, receiveSecret: s2c, ...(limits ? { limits } : {}) }),
    server: new PacketProtection(provider, { sendSecret: s2c, receiveSecret: c2s, ...(limits ? { limits } : {}) }),
  };
};

const scratch = new DatagramScratch(1472);

/** A protected DATA packet `pn` carrying `payload`, sealed as the core seals one (of key phase 0 unless `type` says otherwise). */
function seal(p: PacketProtection, pn: number, payload: Uint8Array, type: PacketType = PacketType.Protected0): Uint8Array {
  const w = scratch.writer(9 + payload.length + 16, type, 0x01020304, pn, 4);
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

describe.each(packetCipherProviders)('packet sealing through shared scratch buffers: %s', (_, provider) => {
  for (const size of [20, 20 + 400, 1200]) {
    it(`${size}-byte payloads: one size back to back, each sealed datagram keeps its bytes and opens to its own payload`, () => {
      const { client, server } = pair(provider);
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
    const { client, server } = pair(provider, { updateAfterPackets: 1000, confidentialityLimit: 1000, integrityLimit: 2 });
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

describe.each(packetCipherProviders)('copies of packets already opened (checkCopies): %s', (_, provider) => {
  it('a copy of a key phase whose keys were discarded is a replay, as a fresh packet of it is, not a forgery (no tag check)', () => {
    const { client, server } = pair(provider, { updateAfterPackets: 1000, confidentialityLimit: 1000, integrityLimit: 1000 });
    const payload = new Uint8Array(40).fill(7);
    const old = seal(client, 1, payload, dataPacketType(client)).slice();
    expect(open(server, old.slice(), true)).toEqual(payload);
    expect(open(client, seal(server, 1, payload, dataPacketType(server)).slice())).toEqual(payload);
    client.acknowledged(1);
    expect(client.initiateKeyUpdate()).toBe(true);
    expect(open(server, seal(client, 2, payload, dataPacketType(client)).slice(), true)).toEqual(payload);
    expect(server.keyPhase()).toBe(1);
    expect(open(server, old.slice(), true)).toBe('copy');
    // Three probe timeouts later (core/connection/old-keys.ts) the previous keys go: a copy late past that is too old.
    server.discardPreviousKeys();
    expect(open(server, old.slice(), true)).toBe('replay');
    expect(server.counters().authFailures).toBe(0);
  });

  it('an authentic copy is a copy and a forged one a forgery, small and large, and neither opens again', () => {
    for (const size of [20, 1200]) {
      const { client, server } = pair(provider);
      const payload = new Uint8Array(size).fill(size & 0xff);
      const datagram = seal(client, 3, payload).slice();
      expect(open(server, datagram.slice(), true)).toEqual(payload);
      expect(open(server, datagram.slice(), true)).toBe('copy');
      const forged = datagram.slice();
      forged[forged.length - 1] = (forged[forged.length - 1] ?? 0) ^ 1;
      const failures = server.counters().authFailures;
      expect(open(server, forged, true)).toBe('auth');
      expect(server.counters().authFailures).toBe(failures + 1);
      expect(open(server, datagram.slice())).toBe('replay');
    }
  });
});

const opensslProvider = packetCipherProviders.find(([, p]) => p.packetAead !== undefined)?.[1];

describe.skipIf(opensslProvider === undefined)('whole-datagram sealing (OpenSSL) against the per-call path', () => {
  const whole = opensslProvider as CryptoProvider;
  const perCall: CryptoProvider = { ...whole, packetAead: undefined };

  it('seals every size to the same bytes, and each side opens the other\'s; a flipped bit anywhere is refused', () => {
    // One pair of secrets, a client and a server on each path.
    const c2s = crypto.randomBytes(32);
    const s2c = crypto.randomBytes(32);
    const make = (p: CryptoProvider, send: Uint8Array, receive: Uint8Array): PacketProtection => new PacketProtection(p, { sendSecret: send, receiveSecret: receive });
    const wholeClient = make(whole, c2s, s2c);
    const perCallClient = make(perCall, c2s, s2c);
    const wholeServer = make(whole, s2c, c2s);
    const perCallServer = make(perCall, s2c, c2s);
    expect([wholeClient.wholePackets, perCallClient.wholePackets]).toEqual([true, false]);
    let pn = 1;
    for (const size of [0, 1, 20, 100, 470, 471, 500, 1000, 1200, 1400]) {
      const payload = crypto.randomBytes(size);
      pn += 1 + size;
      const sealedWhole = seal(wholeClient, pn, payload).slice();
      const sealedPerCall = seal(perCallClient, pn, payload).slice();
      expect(Buffer.from(sealedWhole).equals(sealedPerCall), `size ${size}`).toBe(true);
      expect(open(perCallServer, sealedWhole.slice()), `size ${size}`).toEqual(payload);
      expect(open(wholeServer, sealedPerCall.slice()), `size ${size}`).toEqual(payload);
      for (const i of [0, 4, 8, 9, Math.floor(sealedWhole.length / 2), sealedWhole.length - 17, sealedWhole.length - 1]) {
        const forged = sealedWhole.slice();
        forged[i] = (forged[i] ?? 0) ^ 0x10;
        // A header byte may make the packet unparsable, of another type or number: a reason to drop it, whichever.
        expect(typeof open(wholeServer, forged), `size ${size}, byte ${i}`).toBe('string');
      }
    }
    // The forgeries moved nothing: the next genuine packet opens.
    expect(open(wholeServer, seal(wholeClient, pn + 1, Uint8Array.of(1, 2, 3)).slice())).toEqual(Uint8Array.of(1, 2, 3));
  });
});

describe.skipIf(opensslProvider === undefined)('a copy of the OpenSSL provider with its own aeadKey', () => {
  it('seals through that aeadKey: the spread does not carry packetAead along', () => {
    const whole = opensslProvider as CryptoProvider;
    let keys = 0;
    let sealed = 0;
    // A caller's own cipher (here counting, over OpenSSL's): the transport must use it, not the whole-datagram path it would shadow.
    const mine: CryptoProvider = {
      ...whole,
      aeadKey: (key) => {
        keys++;
        const inner = whole.aeadKey(key);
        return {
          sealInto: (nonce, ad, plaintext, out) => {
            sealed++;
            inner.sealInto(nonce, ad, plaintext, out);
          },
          openInto: (nonce, ad, ciphertext, out) => inner.openInto(nonce, ad, ciphertext, out),
        };
      },
    };
    expect(mine.packetAead).toBeUndefined();
    const { client, server } = pair(mine);
    expect(client.wholePackets).toBe(false);
    expect(keys).toBeGreaterThan(0);
    const payload = crypto.randomBytes(100);
    expect(open(server, seal(client, 1, payload).slice())).toEqual(payload);
    expect(sealed).toBe(1);
    // The provider itself keeps its fast path.
    expect(pair(whole).client.wholePackets).toBe(true);
  });
});
