/**
 * X25519 of the Node adapter's provider (node:crypto, keys imported as JWK):
 * RFC 7748 §6.1's vector both ways, and malformed or low-order keys refused
 * as values.
 */
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/crypto/bytes.js';
import { nodeCryptoProvider as crypto } from '../../src/node/crypto-provider.js';

const h = (s: string): Uint8Array => fromHex(s) ?? new Uint8Array(0);
const ALICE = h('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
const ALICE_PUBLIC = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
const BOB = h('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
const BOB_PUBLIC = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
const SHARED = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';

describe('X25519 (node:crypto)', () => {
  it("derives RFC 7748 §6.1's public keys and shared secret, both ways", () => {
    const alice = crypto.keyPairFromPrivateKey(ALICE);
    const bob = crypto.keyPairFromPrivateKey(BOB);
    expect(toHex(alice?.publicKey ?? new Uint8Array(0))).toBe(ALICE_PUBLIC);
    expect(toHex(bob?.publicKey ?? new Uint8Array(0))).toBe(BOB_PUBLIC);
    expect(toHex(crypto.dh(ALICE, h(BOB_PUBLIC)) ?? new Uint8Array(0))).toBe(SHARED);
    expect(toHex(crypto.dh(BOB, h(ALICE_PUBLIC)) ?? new Uint8Array(0))).toBe(SHARED);
  });

  it('a generated pair round-trips: its private key gives back its public key, and two pairs agree', () => {
    const a = crypto.generateKeyPair();
    const b = crypto.generateKeyPair();
    expect(crypto.keyPairFromPrivateKey(a.privateKey)?.publicKey).toEqual(a.publicKey);
    expect(crypto.dh(a.privateKey, b.publicKey)).toEqual(crypto.dh(b.privateKey, a.publicKey));
  });

  it('refuses keys of the wrong length and low-order public keys (an all-zero secret) as undefined', () => {
    expect(crypto.keyPairFromPrivateKey(ALICE.subarray(1))).toBeUndefined();
    expect(crypto.dh(ALICE.subarray(1), h(BOB_PUBLIC))).toBeUndefined();
    expect(crypto.dh(ALICE, h(BOB_PUBLIC).subarray(1))).toBeUndefined();
    expect(crypto.dh(ALICE, new Uint8Array(32))).toBeUndefined();
    // The point of order 8 from RFC 7748's discussion of small-order inputs (libsodium's blocklist).
    expect(crypto.dh(ALICE, h('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'))).toBeUndefined();
  });
});
