import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expectSameBytes } from '../../../../test-support/same-bytes.js';
import { fromHex, toHex, utf8 } from '../../src/crypto/bytes.js';
import { TAG_LEN, type CryptoProvider } from '../../src/crypto/crypto-provider.js';
import { defaultCryptoProvider, nodeCryptoProvider, packetCipherLibrary, packetCipherProviders } from '../../src/node/crypto-provider.js';
import { OPENSSL_ADDON_FILE } from '../../src/node/openssl-aead.js';

const h = (s: string): Uint8Array => fromHex(s) ?? new Uint8Array(0);

// RFC 8439 §2.8.2: the AEAD_CHACHA20_POLY1305 test vector.
const KEY = Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i);
const NONCE = h('070000004041424344454647');
const AD = h('50515253c0c1c2c3c4c5c6c7');
const PLAINTEXT = utf8("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
const CIPHERTEXT =
  'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116';
const TAG = '1ae10b594f09e26a7e902ecbd0600691';

const providers: readonly (readonly [string, CryptoProvider])[] = packetCipherProviders;

describe('packet AEAD providers', () => {
  // CI requires the addon (RUDP_REQUIRE_NATIVE=1); a machine without a C compiler builds none.
  const addonExpected = process.env.RUDP_REQUIRE_NATIVE === '1' || existsSync(new URL(`../../dist/${OPENSSL_ADDON_FILE}`, import.meta.url));

  it('every library loads here, and the default seals packets with the fastest: OpenSSL through the addon where it was built', () => {
    // If this fails, a fast path stopped loading (the addon's build or its known answer, packaging,
    // the CJS shim) and every packet costs 2× (libsodium) or 5× (node:crypto) more.
    const fallbacks = ['libsodium', 'node:crypto'];
    expect(packetCipherProviders.map(([library]) => library)).toEqual(addonExpected ? ['openssl', ...fallbacks] : fallbacks);
    expect(packetCipherLibrary).toBe(addonExpected ? 'openssl' : 'libsodium');
    expect(defaultCryptoProvider).toBe((packetCipherProviders[0] as readonly [string, CryptoProvider])[1]);
  });

  it.skipIf(!addonExpected || !existsSync(new URL('../../dist/index.js', import.meta.url)))(
    'where the addon serves, sodium-native is loaded at the first read of packetCipherProviders, not as rudpx loads (~25 ms of every start)',
    () => {
      // The built package in a process of its own: whether sodium-native's module is loaded, before and after the read.
      const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
      const code = `
        import { createRequire } from 'node:module';
        import { inspect } from 'node:util';
        const rudpx = await import(${JSON.stringify(dist)});
        const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes('sodium-native'));
        const atStart = loaded();
        // The first read an inspection (console.log), which formats a proxy's target: it shows the whole list.
        const shown = inspect(rudpx.packetCipherProviders).includes("'libsodium'");
        const libraries = rudpx.packetCipherProviders.map(([library]) => library).join(' ');
        console.log(rudpx.packetCipherLibrary, atStart, shown, loaded(), libraries);
      `;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('openssl false true true openssl libsodium node:crypto\n');
    },
  );

  for (const [name, crypto] of providers) {
    describe(name, () => {
      it('matches the RFC 8439 §2.8.2 vector, sealing into a slice of a larger buffer and touching nothing else', () => {
        const buffer = new Uint8Array(PLAINTEXT.length + TAG_LEN + 8).fill(0xee);
        const out = buffer.subarray(4, 4 + PLAINTEXT.length + TAG_LEN);
        crypto.aeadKey(KEY).sealInto(NONCE, AD, PLAINTEXT, out);
        expect(toHex(out)).toBe(CIPHERTEXT + TAG);
        expect([...buffer.subarray(0, 4), ...buffer.subarray(buffer.length - 4)]).toEqual(new Array(8).fill(0xee));
        expect(toHex(crypto.seal(KEY, NONCE, AD, PLAINTEXT))).toBe(CIPHERTEXT + TAG);
      });

      it('opens the vector, and refuses it with any bit of ciphertext, tag, nonce or associated data flipped', () => {
        const sealed = h(CIPHERTEXT + TAG);
        const key = crypto.aeadKey(KEY);
        const out = new Uint8Array(PLAINTEXT.length);
        expect(key.openInto(NONCE, AD, sealed, out)).toBe(true);
        expect(out).toEqual(PLAINTEXT);
        const flip = (bytes: Uint8Array, i: number): Uint8Array => {
          const copy = bytes.slice();
          copy[i] = (copy[i] ?? 0) ^ 0x01;
          return copy;
        };
        for (const i of [0, 57, PLAINTEXT.length - 1, PLAINTEXT.length, sealed.length - 1]) expect(key.openInto(NONCE, AD, flip(sealed, i), out)).toBe(false);
        expect(key.openInto(flip(NONCE, 11), AD, sealed, out)).toBe(false);
        expect(key.openInto(NONCE, flip(AD, 0), sealed, out)).toBe(false);
        expect(crypto.open(KEY, NONCE, AD, flip(sealed, 3))).toBeUndefined();
      });

      it('opens in place: the plaintext over the first bytes of the ciphertext (how the core opens a datagram)', () => {
        const sealed = h(CIPHERTEXT + TAG);
        expect(crypto.aeadKey(KEY).openInto(NONCE, AD, sealed, sealed.subarray(0, PLAINTEXT.length))).toBe(true);
        expect(sealed.subarray(0, PLAINTEXT.length)).toEqual(PLAINTEXT);
      });

      it('refuses malformed input as a value, never a throw: short ciphertext, wrong output size', () => {
        const key = crypto.aeadKey(KEY);
        expect(key.openInto(NONCE, AD, new Uint8Array(TAG_LEN - 1), new Uint8Array(0))).toBe(false);
        expect(key.openInto(NONCE, AD, h(CIPHERTEXT + TAG), new Uint8Array(3))).toBe(false);
        expect(crypto.open(KEY, NONCE, AD, new Uint8Array(5))).toBeUndefined();
        expect(() => crypto.aeadKey(new Uint8Array(31))).toThrow(RangeError);
      });
    });
  }

  it('every pair of libraries interoperates both ways, for every packet size up to a datagram', () => {
    const key = nodeCryptoProvider.randomBytes(32);
    for (let size = 0; size <= 1472; size += 37) {
      const nonce = nodeCryptoProvider.randomBytes(12);
      const ad = nodeCryptoProvider.randomBytes(size % 21);
      const plaintext = nodeCryptoProvider.randomBytes(size);
      for (const [, sealer] of providers) {
        const sealed = new Uint8Array(size + TAG_LEN);
        sealer.aeadKey(key).sealInto(nonce, ad, plaintext, sealed);
        for (const [, opener] of providers) {
          const opened = new Uint8Array(size);
          expect(opener.aeadKey(key).openInto(nonce, ad, sealed, opened)).toBe(true);
          expectSameBytes(opened, plaintext, `${size} bytes opened`);
        }
      }
    }
  });
});
