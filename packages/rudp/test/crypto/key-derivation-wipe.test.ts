/**
 * Key derivation leaves no key bytes behind in the arrays it made and let
 * go (crypto/hkdf.ts, crypto/packet-key.ts): HKDF's HMAC blocks, Noise
 * HKDF's temporary key, the next phase's traffic secret once the new packet
 * key holds its copy; a packet key's AEAD key and IV are derived straight
 * into the buffer that keeps them. Seen through a provider that records
 * every array HMAC returned and every key it was given: after a derivation,
 * each one the code owned is zeros, and the keys derived still work.
 */
import { describe, expect, it } from 'vitest';
import { hkdfExpand, hkdfExpandLabel, noiseHkdf } from '../../src/crypto/hkdf.js';
import { PacketKey, nextPacketKey, nextTrafficSecret } from '../../src/crypto/packet-key.js';
import { PacketProtection } from '../../src/crypto/packet-protection.js';
import type { CryptoProvider } from '../../src/crypto/crypto-provider.js';
import { nodeCryptoProvider } from '../../src/node/crypto-provider.js';

/** `nodeCryptoProvider` with every HMAC output and every HMAC key it was given kept, from the last `clear()` on. */
function recording(): { readonly provider: CryptoProvider; readonly outputs: Uint8Array[]; readonly keys: Uint8Array[]; clear(): void } {
  const outputs: Uint8Array[] = [];
  const keys: Uint8Array[] = [];
  const provider: CryptoProvider = {
    ...nodeCryptoProvider,
    hmacSha256: (key, ...parts) => {
      keys.push(key);
      const out = nodeCryptoProvider.hmacSha256(key, ...parts);
      outputs.push(out);
      return out;
    },
  };
  return {
    provider,
    outputs,
    keys,
    clear: () => {
      outputs.length = 0;
      keys.length = 0;
    },
  };
}

const zeros = (a: Uint8Array): boolean => a.length > 0 && a.every((b) => b === 0);
/** An array of its own, not a view of a larger buffer (a packet key's secret is a view of its material). */
const standalone = (a: Uint8Array): boolean => a.byteOffset === 0 && a.byteLength === a.buffer.byteLength;

describe('key derivation wipes what it made and let go', () => {
  it('HKDF-Expand: every HMAC block is zeros after, longer outputs too, and the output is still RFC 5869\'s', () => {
    const r = recording();
    const prk = nodeCryptoProvider.randomBytes(32);
    const info = Uint8Array.of(1, 2, 3);
    const out = hkdfExpand(r.provider, prk, info, 80);
    expect(r.outputs).toHaveLength(3);
    expect(r.outputs.every(zeros)).toBe(true);
    expect(out).toEqual(hkdfExpand(nodeCryptoProvider, prk, info, 80));
    expect(zeros(out)).toBe(false);
  });

  it('a length out of range is refused with the message HKDF-Expand documents, checked before the output is allocated (not as a typed array of -1 bytes)', () => {
    const prk = nodeCryptoProvider.randomBytes(32);
    for (const length of [-1, 8161, 1.5]) expect(() => hkdfExpand(nodeCryptoProvider, prk, Uint8Array.of(1), length)).toThrow(`HKDF-Expand length must be 0…8160, not ${length}`);
    expect(() => hkdfExpandLabel(nodeCryptoProvider, prk, 'key', new Uint8Array(0), -1)).toThrow('HKDF-Expand length must be 0…8160, not -1');
  });

  it('Noise HKDF: its temporary key is zeros after; its outputs are the caller\'s', () => {
    const r = recording();
    const ck = nodeCryptoProvider.randomBytes(32);
    const ikm = nodeCryptoProvider.randomBytes(32);
    const [o1, o2, o3] = noiseHkdf(r.provider, ck, ikm, 3);
    const tempKey = r.outputs[0] as Uint8Array;
    expect(zeros(tempKey)).toBe(true);
    expect([o1, o2, o3].some(zeros)).toBe(false);
    expect([o1, o2, o3]).toEqual([...noiseHkdf(nodeCryptoProvider, ck, ikm, 3)]);
  });

  it('a packet key: the AEAD key and IV derived in place, no HMAC block left, the caller\'s secret untouched, and it seals as before', () => {
    const r = recording();
    const secret = nodeCryptoProvider.randomBytes(32);
    const kept = secret.slice();
    const key = new PacketKey(r.provider, secret);
    expect(r.outputs).toHaveLength(2);
    expect(r.outputs.every(zeros)).toBe(true);
    expect(secret).toEqual(kept);
    const header = Uint8Array.of(0x40, 1);
    const plaintext = Uint8Array.of(9, 8, 7);
    // The label derivation a reference key takes (hkdfExpandLabel, returned arrays) seals the same bytes.
    expect(key.seal(header, 5, plaintext)).toEqual(new PacketKey(nodeCryptoProvider, kept).seal(header, 5, plaintext));
    expect(hkdfExpandLabel(nodeCryptoProvider, kept, 'key', new Uint8Array(0), 32)).not.toEqual(new Uint8Array(32));
  });

  it('the next phase\'s packet key: the next traffic secret and every HMAC block are zeros once the key holds its copy', () => {
    const r = recording();
    const current = new PacketKey(nodeCryptoProvider, nodeCryptoProvider.randomBytes(32));
    const next = nextPacketKey(r.provider, current);
    // One block for the secret ("ku"), one each for the key and the IV, all keyed by the next secret but the first.
    expect(r.outputs).toHaveLength(3);
    expect(r.outputs.every(zeros)).toBe(true);
    const temporaries = r.keys.filter(standalone);
    expect(temporaries).toHaveLength(2);
    expect(temporaries.every(zeros)).toBe(true);
    // The current key's secret is still in use: untouched.
    expect(zeros(current.secret)).toBe(false);
    expect(next.secret).toEqual(nextTrafficSecret(nodeCryptoProvider, current.secret));
  });

  it('a key update in PacketProtection, starter and follower: nothing derived and let go keeps key bytes, and the new keys interoperate', () => {
    const r = recording();
    const limits = { updateAfterPackets: 1000, confidentialityLimit: 2000, integrityLimit: 1000 };
    const c2s = nodeCryptoProvider.randomBytes(32);
    const s2c = nodeCryptoProvider.randomBytes(32);
    const client = new PacketProtection(r.provider, { sendSecret: c2s, receiveSecret: s2c, limits });
    const server = new PacketProtection(r.provider, { sendSecret: s2c, receiveSecret: c2s, limits });
    const header = (p: PacketProtection): Uint8Array => Uint8Array.of(0x40 | p.keyPhase(), 0);
    const roundTrip = (from: PacketProtection, to: PacketProtection, pn: number): boolean => {
      const h = header(from);
      const sealed = from.seal(h, pn, Uint8Array.of(pn));
      return sealed.ok && to.open(h, from.keyPhase(), pn, sealed.packet).ok;
    };
    expect(roundTrip(client, server, 0)).toBe(true);
    expect(roundTrip(server, client, 0)).toBe(true);
    client.acknowledged(0);
    r.clear();
    expect(client.initiateKeyUpdate()).toBe(true);
    // The server follows on the first packet of the new phase (its next receive keys, then its send keys).
    expect(roundTrip(client, server, 1)).toBe(true);
    expect(server.keyPhase()).toBe(1);
    expect(roundTrip(server, client, 1)).toBe(true);
    expect(r.outputs.length).toBeGreaterThanOrEqual(9);
    expect(r.outputs.every(zeros)).toBe(true);
    const temporaries = r.keys.filter(standalone);
    expect(temporaries.length).toBeGreaterThanOrEqual(6);
    expect(temporaries.every(zeros)).toBe(true);
  });

  it("a follower whose next send key's derivation throws as it follows the peer's update: the retired receive key is still wiped", () => {
    let failOnKey: Uint8Array | undefined;
    const provider: CryptoProvider = {
      ...nodeCryptoProvider,
      hmacSha256: (key, ...parts) => {
        if (failOnKey !== undefined && key.length === failOnKey.length && key.every((b, i) => b === failOnKey?.[i])) throw new Error('derivation broke');
        return nodeCryptoProvider.hmacSha256(key, ...parts);
      },
    };
    const limits = { updateAfterPackets: 1000, confidentialityLimit: 2000, integrityLimit: 1000 };
    const c2s = nodeCryptoProvider.randomBytes(32);
    const s2c = nodeCryptoProvider.randomBytes(32);
    const client = new PacketProtection(nodeCryptoProvider, { sendSecret: c2s, receiveSecret: s2c, limits });
    const server = new PacketProtection(provider, { sendSecret: s2c, receiveSecret: c2s, limits });
    const header = (p: PacketProtection): Uint8Array => Uint8Array.of(0x40 | p.keyPhase(), 0);
    const roundTrip = (from: PacketProtection, to: PacketProtection, pn: number): boolean => {
      const h = header(from);
      const sealed = from.seal(h, pn, Uint8Array.of(pn));
      return sealed.ok && to.open(h, from.keyPhase(), pn, sealed.packet).ok;
    };
    expect(roundTrip(client, server, 0)).toBe(true);
    expect(roundTrip(server, client, 0)).toBe(true);
    client.acknowledged(0);
    // Phase 1: the server follows and holds phase 0's receive keys; 16 packets of the phase let it follow the next.
    expect(client.initiateKeyUpdate()).toBe(true);
    for (let pn = 1; pn <= 16; pn++) expect(roundTrip(client, server, pn)).toBe(true);
    expect(server.holdsPreviousKeys).toBe(true);
    expect(roundTrip(server, client, 1)).toBe(true);
    client.discardPreviousKeys();
    client.acknowledged(16);
    expect(client.initiateKeyUpdate()).toBe(true);
    // Phase 2: the server opens the packet with its next receive keys, then derives its next send key from its current one: that throws.
    const retired = server['recvPrevious'];
    expect(retired).toBeDefined();
    failOnKey = server['send'].secret.slice();
    const h = header(client);
    const sealed = client.seal(h, 17, Uint8Array.of(17));
    expect(sealed.ok).toBe(true);
    expect(() => sealed.ok && server.open(h, client.keyPhase(), 17, sealed.packet)).toThrow('derivation broke');
    expect(retired !== undefined && zeros(retired.secret)).toBe(true);
  });
});
