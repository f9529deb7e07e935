/**
 * The OpenSSL addon (native/openssl-aead.c) as JavaScript can misuse it:
 * every argument it gets wrong is refused inside the addon (a wrong length
 * there would be a write past a buffer), a wiped key scrubs the contexts
 * that held it, a forgery's plaintext is not left behind, and a build that
 * fails RFC 8439's known answer is never loaded.
 */
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';
import { TAG_LEN, type AeadKey } from '../../src/crypto/crypto-provider.js';
import { PacketKey } from '../../src/crypto/packet-key.js';
import { nodeCryptoProvider } from '../../src/node/crypto-provider.js';
import { loadOpensslAead, OPENSSL_ADDON_FILE, OpensslAeadKey, passesKnownAnswer } from '../../src/node/openssl-aead.js';

const reference = (key: Uint8Array): AeadKey => nodeCryptoProvider.aeadKey(key);
const addon = loadOpensslAead();
const KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
const NONCE = Uint8Array.from({ length: 12 }, (_, i) => i);
const AD = Uint8Array.of(9, 9, 9);
const PLAINTEXT = Uint8Array.from({ length: 1000 }, (_, i) => (i * 13) & 0xff);

describe.skipIf(addon === undefined)('the OpenSSL packet cipher addon', () => {
  const lib = addon as NonNullable<typeof addon>;

  it('throws a RangeError, writing nothing, for every wrong argument to seal', () => {
    const out = new Uint8Array(PLAINTEXT.length + TAG_LEN).fill(0xaa);
    const wrong: readonly (readonly unknown[])[] = [
      [KEY, NONCE, AD, PLAINTEXT, out.subarray(1)], // output one byte short
      [KEY, NONCE, AD, PLAINTEXT, new Uint8Array(out.length + 1)], // one byte long
      [KEY, NONCE.subarray(1), AD, PLAINTEXT, out], // 11-byte nonce
      [KEY.subarray(1), NONCE, AD, PLAINTEXT, out], // 31-byte key
      [KEY, new Float64Array(12), AD, PLAINTEXT, out], // not bytes
      [KEY, NONCE, 'ad', PLAINTEXT, out],
      [KEY, NONCE, AD, new DataView(PLAINTEXT.buffer), out],
      [{}, NONCE, AD, PLAINTEXT, out],
      [42, NONCE, AD, PLAINTEXT, out],
      [KEY, NONCE, AD, PLAINTEXT], // an argument missing
    ];
    const seal = lib.seal as (...args: readonly unknown[]) => void;
    for (const args of wrong) expect(() => seal(...args)).toThrow(RangeError);
    expect(out.every((b) => b === 0xaa)).toBe(true);
    expect(() => new OpensslAeadKey(lib, KEY.subarray(1))).toThrow(RangeError);
  });

  it('answers false, never a throw, for every wrong argument to open', () => {
    const sealed = new Uint8Array(PLAINTEXT.length + TAG_LEN);
    lib.seal(KEY, NONCE, AD, PLAINTEXT, sealed);
    const out = new Uint8Array(PLAINTEXT.length);
    const open = lib.open as (...args: readonly unknown[]) => boolean;
    const wrong: readonly (readonly unknown[])[] = [
      [KEY, NONCE, AD, sealed, out.subarray(1)],
      [KEY, NONCE, AD, sealed.subarray(0, TAG_LEN - 1), new Uint8Array(0)], // shorter than a tag
      [KEY, NONCE.subarray(1), AD, sealed, out],
      [KEY.subarray(1), NONCE, AD, sealed, out],
      [KEY, NONCE, AD, Array.from(sealed), out],
      [null, NONCE, AD, sealed, out],
      [KEY, NONCE, AD, sealed],
    ];
    for (const args of wrong) expect(open(...args)).toBe(false);
    expect(open(KEY, NONCE, AD, sealed, out)).toBe(true);
    expect(out).toEqual(PLAINTEXT);
  });

  it('leaves no plaintext of a forgery: the output is cleared when the tag fails, in place too', () => {
    const datagram = new Uint8Array(5 + PLAINTEXT.length + TAG_LEN);
    lib.seal(KEY, NONCE, AD, PLAINTEXT, datagram.subarray(5));
    const last = datagram.length - 1;
    datagram[last] = (datagram[last] ?? 0) ^ 0x80; // the tag's last byte
    const body = datagram.subarray(5, 5 + PLAINTEXT.length);
    expect(lib.open(KEY, NONCE, AD, datagram.subarray(5), body)).toBe(false);
    expect(body.every((b) => b === 0)).toBe(true);
  });

  it('keys are independent from call to call, and a wiped packet key scrubs the contexts that held it', () => {
    const other = KEY.map((b) => b ^ 0x5a);
    const sealed = [KEY, other, KEY].map((key) => {
      const out = new Uint8Array(PLAINTEXT.length + TAG_LEN);
      lib.seal(key, NONCE, AD, PLAINTEXT, out);
      return out;
    });
    expect(sealed[0]).toEqual(sealed[2]);
    expect(sealed[0]).not.toEqual(sealed[1]);
    const reference0 = new Uint8Array(PLAINTEXT.length + TAG_LEN);
    reference(other).sealInto(NONCE, AD, PLAINTEXT, reference0);
    expect(sealed[1]).toEqual(reference0);

    const scrub = vi.fn(() => lib.scrub());
    const spied = { ...lib, scrub };
    const provider = { ...nodeCryptoProvider, aeadKey: (key: Uint8Array) => new OpensslAeadKey(spied, key) };
    const packetKey = new PacketKey(provider, KEY);
    const out = new Uint8Array(PLAINTEXT.length + TAG_LEN);
    packetKey.sealInto(AD, 1, PLAINTEXT, out);
    expect(scrub).not.toHaveBeenCalled();
    packetKey.wipe();
    expect(scrub).toHaveBeenCalledTimes(1);
    // The contexts work on after a scrub: the next call brings its own key.
    const after = new Uint8Array(PLAINTEXT.length + TAG_LEN);
    lib.seal(other, NONCE, AD, PLAINTEXT, after);
    expect(after).toEqual(reference0);
  });

  it('loads in a worker thread as well, with contexts of its own, and seals the same bytes there', async () => {
    const path = fileURLToPath(new URL(`../../dist/${OPENSSL_ADDON_FILE}`, import.meta.url));
    const worker = new Worker(
      `const { parentPort, workerData: d } = require('node:worker_threads');
       const addon = require(d.path);
       const out = new Uint8Array(d.plaintext.length + 16);
       addon.seal(d.key, d.nonce, d.ad, d.plaintext, out);
       parentPort.postMessage(out);`,
      { eval: true, workerData: { path, key: KEY, nonce: NONCE, ad: AD, plaintext: PLAINTEXT } },
    );
    const [fromWorker] = (await once(worker, 'message')) as [Uint8Array];
    await worker.terminate();
    const here = new Uint8Array(PLAINTEXT.length + TAG_LEN);
    lib.seal(KEY, NONCE, AD, PLAINTEXT, here);
    expect(fromWorker).toEqual(here);
  });

  it("is trusted only if it reproduces RFC 8439's vector and refuses a forgery (a mismatched build falls back)", () => {
    expect(passesKnownAnswer(lib)).toBe(true);
    const flipsOutput = { ...lib, seal: (...args: Parameters<typeof lib.seal>) => {
      lib.seal(...args);
      args[4][0] = (args[4][0] ?? 0) ^ 1;
    } };
    expect(passesKnownAnswer(flipsOutput)).toBe(false);
    expect(passesKnownAnswer({ ...lib, open: () => true })).toBe(false);
  });
});
