/**
 * The OpenSSL addon (native/openssl-aead.c) as JavaScript can misuse it:
 * every argument it gets wrong is refused inside the addon (a wrong length
 * there would be a write past a buffer), a disposed key works no more, a
 * forgery's plaintext is not left behind, and a build that disagrees with
 * the reference cipher is never loaded.
 */
import { describe, expect, it } from 'vitest';
import { TAG_LEN, type AeadKey } from '../../src/crypto/crypto-provider.js';
import { PacketKey } from '../../src/crypto/packet-key.js';
import { nodeCryptoProvider, packetCipherProviders } from '../../src/node/crypto-provider.js';
import { loadOpensslAead, OpensslAeadKey } from '../../src/node/openssl-aead.js';

const reference = (key: Uint8Array): AeadKey => nodeCryptoProvider.aeadKey(key);
const addon = loadOpensslAead(reference);
const KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
const NONCE = Uint8Array.from({ length: 12 }, (_, i) => i);
const AD = Uint8Array.of(9, 9, 9);
const PLAINTEXT = Uint8Array.from({ length: 1000 }, (_, i) => (i * 13) & 0xff);

describe.skipIf(addon === undefined)('the OpenSSL packet cipher addon', () => {
  const lib = addon as NonNullable<typeof addon>;

  it('throws a RangeError, writing nothing, for every wrong argument to seal', () => {
    const key = lib.createKey(KEY);
    const out = new Uint8Array(PLAINTEXT.length + TAG_LEN).fill(0xaa);
    const wrong: readonly (readonly unknown[])[] = [
      [key, NONCE, AD, PLAINTEXT, out.subarray(1)], // output one byte short
      [key, NONCE, AD, PLAINTEXT, new Uint8Array(out.length + 1)], // one byte long
      [key, NONCE.subarray(1), AD, PLAINTEXT, out], // 11-byte nonce
      [key, new Float64Array(12), AD, PLAINTEXT, out], // not bytes
      [key, NONCE, 'ad', PLAINTEXT, out],
      [key, NONCE, AD, new DataView(PLAINTEXT.buffer), out],
      [{}, NONCE, AD, PLAINTEXT, out], // not a key
      [42, NONCE, AD, PLAINTEXT, out],
      [key, NONCE, AD, PLAINTEXT], // an argument missing
    ];
    const seal = lib.seal as (...args: readonly unknown[]) => void;
    for (const args of wrong) expect(() => seal(...args)).toThrow(RangeError);
    expect(out.every((b) => b === 0xaa)).toBe(true);
    expect(() => lib.createKey(KEY.subarray(1))).toThrow(RangeError);
  });

  it('answers false, never a throw, for every wrong argument to open', () => {
    const key = lib.createKey(KEY);
    const sealed = new Uint8Array(PLAINTEXT.length + TAG_LEN);
    lib.seal(key, NONCE, AD, PLAINTEXT, sealed);
    const out = new Uint8Array(PLAINTEXT.length);
    const open = lib.open as (...args: readonly unknown[]) => boolean;
    const wrong: readonly (readonly unknown[])[] = [
      [key, NONCE, AD, sealed, out.subarray(1)],
      [key, NONCE, AD, sealed.subarray(0, TAG_LEN - 1), new Uint8Array(0)], // shorter than a tag
      [key, NONCE.subarray(1), AD, sealed, out],
      [key, NONCE, AD, Array.from(sealed), out],
      [null, NONCE, AD, sealed, out],
      [key, NONCE, AD, sealed],
    ];
    for (const args of wrong) expect(open(...args)).toBe(false);
    expect(open(key, NONCE, AD, sealed, out)).toBe(true);
    expect(out).toEqual(PLAINTEXT);
  });

  it('leaves no plaintext of a forgery: the output is cleared when the tag fails, in place too', () => {
    const key = lib.createKey(KEY);
    const datagram = new Uint8Array(5 + PLAINTEXT.length + TAG_LEN);
    lib.seal(key, NONCE, AD, PLAINTEXT, datagram.subarray(5));
    const last = datagram.length - 1;
    datagram[last] = (datagram[last] ?? 0) ^ 0x80; // the tag's last byte
    const body = datagram.subarray(5, 5 + PLAINTEXT.length);
    expect(lib.open(key, NONCE, AD, datagram.subarray(5), body)).toBe(false);
    expect(body.every((b) => b === 0)).toBe(true);
  });

  it('seals and opens nothing once disposed, and a packet key disposes its cipher when wiped', () => {
    const key = new OpensslAeadKey(lib, KEY);
    const sealed = new Uint8Array(PLAINTEXT.length + TAG_LEN);
    key.sealInto(NONCE, AD, PLAINTEXT, sealed);
    key.dispose();
    expect(() => key.sealInto(NONCE, AD, PLAINTEXT, sealed)).toThrow(RangeError);
    expect(key.openInto(NONCE, AD, sealed, new Uint8Array(PLAINTEXT.length))).toBe(false);

    const openssl = (packetCipherProviders[0] as (typeof packetCipherProviders)[number])[1];
    const packetKey = new PacketKey(openssl, KEY);
    packetKey.sealInto(AD, 1, PLAINTEXT, sealed);
    expect(packetKey.openInto(AD, 1, sealed, new Uint8Array(PLAINTEXT.length))).toBe(true);
    packetKey.wipe();
    expect(() => packetKey.sealInto(AD, 2, PLAINTEXT, sealed)).toThrow(RangeError);
    expect(packetKey.openInto(AD, 1, sealed, new Uint8Array(PLAINTEXT.length))).toBe(false);
  });

  it('is not loaded when it disagrees with the reference cipher (a mismatched build falls back)', () => {
    const lying = (key: Uint8Array): AeadKey => {
      const honest = reference(key);
      return {
        sealInto(nonce, ad, plaintext, out) {
          honest.sealInto(nonce, ad, plaintext, out);
          out[0] = (out[0] ?? 0) ^ 1;
        },
        openInto: (nonce, ad, ciphertext, out) => honest.openInto(nonce, ad, ciphertext, out),
      };
    };
    expect(loadOpensslAead(lying)).toBeUndefined();
    expect(loadOpensslAead(reference)).toBeDefined();
  });
});
