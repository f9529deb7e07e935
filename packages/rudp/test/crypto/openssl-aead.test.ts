/**
 * The OpenSSL addon (native/openssl-aead.c) as JavaScript can misuse it:
 * every argument it gets wrong is refused inside the addon (a wrong length
 * there would be a write past a buffer), a wiped key scrubs the contexts
 * that held it, a forgery's plaintext is not left behind, and a build that
 * fails RFC 8439's known answer is never loaded. Its two paths (OpenSSL's
 * ChaCha20 and Poly1305 called directly, and EVP) give the same bytes.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';
import { TAG_LEN, type AeadKey } from '../../src/crypto/crypto-provider.js';
import { PacketKey } from '../../src/crypto/packet-key.js';
import { nodeCryptoProvider } from '../../src/node/crypto-provider.js';
import { loadOpensslAead, OPENSSL_ADDON_FILE, OpensslAeadKey, passesKnownAnswer, trustedAddon, type OpensslAead } from '../../src/node/openssl-aead.js';

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
    for (const seal of [lib.seal, lib.evpSeal] as ((...args: readonly unknown[]) => void)[]) {
      for (const args of wrong) expect(() => seal(...args)).toThrow(RangeError);
    }
    expect(out.every((b) => b === 0xaa)).toBe(true);
    expect(() => new OpensslAeadKey(lib, KEY.subarray(1))).toThrow(RangeError);
  });

  it('answers false, never a throw, for every wrong argument to open', () => {
    const sealed = new Uint8Array(PLAINTEXT.length + TAG_LEN);
    lib.seal(KEY, NONCE, AD, PLAINTEXT, sealed);
    const out = new Uint8Array(PLAINTEXT.length);
    const wrong: readonly (readonly unknown[])[] = [
      [KEY, NONCE, AD, sealed, out.subarray(1)],
      [KEY, NONCE, AD, sealed.subarray(0, TAG_LEN - 1), new Uint8Array(0)], // shorter than a tag
      [KEY, NONCE.subarray(1), AD, sealed, out],
      [KEY.subarray(1), NONCE, AD, sealed, out],
      [KEY, NONCE, AD, Array.from(sealed), out],
      [null, NONCE, AD, sealed, out],
      [KEY, NONCE, AD, sealed],
    ];
    for (const open of [lib.open, lib.evpOpen] as ((...args: readonly unknown[]) => boolean)[]) {
      for (const args of wrong) expect(open(...args)).toBe(false);
      out.fill(0);
      expect(open(KEY, NONCE, AD, sealed, out)).toBe(true);
      expect(out).toEqual(PLAINTEXT);
    }
  });

  it('leaves no plaintext of a forgery: the output is cleared when the tag fails, in place too, on both paths', () => {
    for (const open of [lib.open, lib.evpOpen]) {
      const datagram = new Uint8Array(5 + PLAINTEXT.length + TAG_LEN);
      lib.seal(KEY, NONCE, AD, PLAINTEXT, datagram.subarray(5));
      const last = datagram.length - 1;
      datagram[last] = (datagram[last] ?? 0) ^ 0x80; // the tag's last byte
      const body = datagram.subarray(5, 5 + PLAINTEXT.length);
      expect(open(KEY, NONCE, AD, datagram.subarray(5), body)).toBe(false);
      expect(body.every((b) => b === 0)).toBe(true);
      const elsewhere = new Uint8Array(PLAINTEXT.length).fill(0xcc);
      expect(open(KEY, NONCE, AD, datagram.subarray(5), elsewhere)).toBe(false);
      expect(elsewhere.every((b) => b === 0)).toBe(true);
    }
  });

  it('calls OpenSSL\'s ChaCha20 and Poly1305 directly on ELF platforms, where the node binary exports them', () => {
    // If this fails, seal and open fell back to EVP: every packet costs some 0.2 µs more each way.
    expect(lib.path()).toBe(process.platform === 'darwin' || process.platform === 'win32' ? 'evp' : 'direct');
  });

  it('seals the same bytes on both paths, and each opens the other\'s, at every length and block boundary, in place too', () => {
    const key = nodeCryptoProvider.randomBytes(32);
    // Compared as Buffers: vitest's deep equality takes seconds over 64 KB.
    const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
    const sizes = [0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513, 1000, 1399, 1400, 1472, 4095, 16384, 65537];
    sizes.forEach((size, i) => {
      const nonce = nodeCryptoProvider.randomBytes(12);
      const ad = nodeCryptoProvider.randomBytes([0, 1, 7, 9, 15, 16, 17, 33][i % 8] as number);
      const plaintext = nodeCryptoProvider.randomBytes(size);
      const direct = new Uint8Array(size + TAG_LEN);
      const evp = new Uint8Array(size + TAG_LEN);
      lib.seal(key, nonce, ad, plaintext, direct);
      lib.evpSeal(key, nonce, ad, plaintext, evp);
      expect(same(direct, evp), `size ${size}`).toBe(true);
      const reference0 = new Uint8Array(size + TAG_LEN);
      reference(key).sealInto(nonce, ad, plaintext, reference0);
      expect(same(direct, reference0), `size ${size}`).toBe(true);
      for (const open of [lib.open, lib.evpOpen]) {
        const copy = direct.slice();
        expect(open(key, nonce, ad, copy, copy.subarray(0, size)), `size ${size}`).toBe(true);
        expect(same(copy.subarray(0, size), plaintext), `size ${size}`).toBe(true);
      }
      // In place on the sealing side too: the plaintext's own bytes become the ciphertext.
      const inPlace = new Uint8Array(size + TAG_LEN);
      inPlace.set(plaintext);
      lib.seal(key, nonce, ad, inPlace.subarray(0, size), inPlace);
      expect(same(inPlace, direct), `size ${size}`).toBe(true);
    });
  });

  it('refuses an output over the associated data or shifted over the input, on both paths (the direct path sealed other bytes than EVP)', () => {
    const size = 40;
    const plaintext = PLAINTEXT.subarray(0, size);
    for (const [seal, open] of [[lib.seal, lib.open], [lib.evpSeal, lib.evpOpen]] as const) {
      const buffer = new Uint8Array(size + TAG_LEN + 8).fill(0xaa);
      const out = buffer.subarray(0, size + TAG_LEN);
      // The associated data is the output's first 12 bytes: the direct path wrote the ciphertext over it before reading it.
      expect(() => seal(KEY, NONCE, buffer.subarray(0, 12), plaintext, out)).toThrow(RangeError);
      // The plaintext one byte into the output: neither in place nor apart.
      buffer.set(plaintext, 1);
      expect(() => seal(KEY, NONCE, AD, buffer.subarray(1, 1 + size), out)).toThrow(RangeError);
      expect(buffer.subarray(0, 1)).toEqual(Uint8Array.of(0xaa));
      // Opening into an output one byte past the ciphertext's start: refused, nothing decrypted.
      const sealed = new Uint8Array(size + TAG_LEN + 1);
      lib.evpSeal(KEY, NONCE, AD, plaintext, sealed.subarray(0, size + TAG_LEN));
      expect(open(KEY, NONCE, AD, sealed.subarray(0, size + TAG_LEN), sealed.subarray(1, 1 + size))).toBe(false);
      // In place and apart still work.
      const apart = new Uint8Array(size + TAG_LEN);
      seal(KEY, NONCE, AD, plaintext, apart);
      expect(open(KEY, NONCE, AD, apart, apart.subarray(0, size))).toBe(true);
      expect(apart.subarray(0, size)).toEqual(plaintext);
    }
  });

  it('sealPacket throws a RangeError, writing nothing, for every wrong argument; openPacket answers false', () => {
    const keyIv = new Uint8Array(44).fill(3);
    const source = new Uint8Array(100).fill(5);
    const datagram = new Uint8Array(90 + TAG_LEN).fill(0xaa);
    const wrong: readonly (readonly unknown[])[] = [
      [keyIv.subarray(1), 1, source, 9, 90, datagram], // 43-byte key and IV
      [new Uint8Array(45), 1, source, 9, 90, datagram],
      [keyIv, -1, source, 9, 90, datagram], // packet numbers: negative, fractional, past 2^53-1, not numbers
      [keyIv, 1.5, source, 9, 90, datagram],
      [keyIv, 2 ** 53, source, 9, 90, datagram],
      [keyIv, Number.NaN, source, 9, 90, datagram],
      [keyIv, '1', source, 9, 90, datagram],
      [keyIv, 1, source, 91, 90, datagram], // header past the end
      [keyIv, 1, source, -1, 90, datagram],
      [keyIv, 1, source, 9, 101, new Uint8Array(101 + TAG_LEN)], // end past the source
      [keyIv, 1, source, 9, 90, datagram.subarray(1)], // datagram one byte short, one long
      [keyIv, 1, source, 9, 90, new Uint8Array(datagram.length + 1)],
      [keyIv, 1, source, 9.5, 90, datagram],
      [keyIv, 1, source, 9, 90, new Float64Array(datagram.length)],
      [keyIv, 1, source, 9, 90], // an argument missing
    ];
    const sealPacket = lib.sealPacket as (...args: readonly unknown[]) => void;
    for (const args of wrong) expect(() => sealPacket(...args), String(args.slice(1, 5))).toThrow(RangeError);
    expect(datagram.every((b) => b === 0xaa)).toBe(true);
    // Source and datagram overlapping in one buffer: refused, whichever comes first.
    const shared = new Uint8Array(300);
    expect(() => lib.sealPacket(keyIv, 1, shared.subarray(0, 100), 9, 90, shared.subarray(50, 50 + 90 + TAG_LEN))).toThrow(RangeError);
    expect(() => lib.sealPacket(keyIv, 1, shared.subarray(100, 200), 9, 90, shared.subarray(0, 90 + TAG_LEN + 1).subarray(1))).toThrow(RangeError);
    expect(() => lib.sealPacket(keyIv, 1, shared.subarray(0, 100), 9, 90, shared.subarray(100, 100 + 90 + TAG_LEN))).not.toThrow();

    const sealed = new Uint8Array(90 + TAG_LEN);
    lib.sealPacket(keyIv, 1, source, 9, 90, sealed);
    const openPacket = lib.openPacket as (...args: readonly unknown[]) => boolean;
    const wrongOpen: readonly (readonly unknown[])[] = [
      [keyIv.subarray(1), 1, sealed, 9, sealed.length],
      [keyIv, -1, sealed, 9, sealed.length],
      [keyIv, 2 ** 53, sealed, 9, sealed.length],
      [keyIv, 1, sealed, 9, sealed.length + 1], // end past the datagram
      [keyIv, 1, sealed, 9, 9 + TAG_LEN - 1], // shorter than a tag
      [keyIv, 1, sealed, sealed.length, sealed.length - 1],
      [keyIv, 1, Array.from(sealed), 9, sealed.length],
      [keyIv, 1, sealed, 9],
    ];
    for (const args of wrongOpen) expect(openPacket(...args.map((a) => (a === sealed ? sealed.slice() : a)))).toBe(false);
    expect(lib.openPacket(keyIv, 1, sealed, 9, sealed.length)).toBe(true);
    expect(sealed.subarray(9, 90)).toEqual(source.subarray(9, 90));
  });

  it('sealPacket and openPacket are seal and open of the datagram with the nonce IV ⊕ packet number, on both paths, at every packet number', () => {
    const keyIv = nodeCryptoProvider.randomBytes(44);
    const [key, iv] = [keyIv.subarray(0, 32), keyIv.subarray(32)];
    const nonceOf = (pn: number): Uint8Array => {
      const n = iv.slice();
      const view = new DataView(n.buffer);
      view.setUint32(4, view.getUint32(4) ^ Math.floor(pn / 2 ** 32));
      view.setUint32(8, (view.getUint32(8) ^ pn) >>> 0);
      return n;
    };
    for (const pn of [0, 1, 255, 256, 2 ** 16 + 3, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, 2 ** 40 + 2 ** 33 + 77, 2 ** 53 - 1]) {
      for (const [headerLength, end] of [[7, 7], [9, 9 + 1], [9, 9 + 1400], [0, 64], [9, 9 + 16384]] as const) {
        const source = nodeCryptoProvider.randomBytes(end + 3);
        const datagram = new Uint8Array(end + TAG_LEN);
        lib.sealPacket(keyIv, pn, source, headerLength, end, datagram);
        const expected = new Uint8Array(end + TAG_LEN);
        expected.set(source.subarray(0, headerLength));
        lib.evpSeal(key, nonceOf(pn), source.subarray(0, headerLength), source.subarray(headerLength, end), expected.subarray(headerLength));
        expect(Buffer.from(datagram).equals(expected), `pn ${pn}, ${headerLength}/${end}`).toBe(true);
        const copy = datagram.slice();
        expect(lib.openPacket(keyIv, pn, copy, headerLength, copy.length)).toBe(true);
        expect(Buffer.from(copy.subarray(0, end)).equals(source.subarray(0, end))).toBe(true);
        // Another packet number, a flipped header or tag byte: refused, and the body cleared.
        for (const [forgedPn, at] of [[pn === 0 ? 1 : pn - 1, -1], [pn, 0], [pn, datagram.length - 1]] as const) {
          const forged = datagram.slice();
          if (at >= 0 && (at < headerLength || at >= end)) forged[at] = (forged[at] ?? 0) ^ 4;
          else if (at >= 0) continue;
          expect(lib.openPacket(keyIv, forgedPn, forged, headerLength, forged.length), `pn ${pn}, forged at ${at}`).toBe(false);
          expect(forged.subarray(headerLength, end).every((b) => b === 0)).toBe(true);
        }
      }
    }
  });

  it('refuses a packet with any bit of its ciphertext, tag, nonce or associated data flipped, on both paths', () => {
    const sealed = new Uint8Array(PLAINTEXT.length + TAG_LEN);
    lib.seal(KEY, NONCE, AD, PLAINTEXT, sealed);
    const flip = (bytes: Uint8Array, i: number, bit: number): Uint8Array => {
      const copy = bytes.slice();
      copy[i] = (copy[i] ?? 0) ^ (1 << bit);
      return copy;
    };
    const out = new Uint8Array(PLAINTEXT.length);
    for (const open of [lib.open, lib.evpOpen]) {
      for (let i = 0; i < sealed.length; i += 7) expect(open(KEY, NONCE, AD, flip(sealed, i, i % 8), out), `byte ${i}`).toBe(false);
      for (let i = PLAINTEXT.length; i < sealed.length; i++) expect(open(KEY, NONCE, AD, flip(sealed, i, 7), out), `tag byte ${i}`).toBe(false);
      for (let i = 0; i < NONCE.length; i++) expect(open(KEY, flip(NONCE, i, 0), AD, sealed, out)).toBe(false);
      for (let i = 0; i < AD.length; i++) expect(open(KEY, NONCE, flip(AD, i, 3), sealed, out)).toBe(false);
      expect(open(KEY, NONCE, AD.subarray(1), sealed, out)).toBe(false);
      expect(open(flip(KEY, 31, 7), NONCE, AD, sealed, out)).toBe(false);
      expect(open(KEY, NONCE, AD, sealed, out)).toBe(true);
    }
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
    // The EVP path is held to the vector as well: a runtime whose EVP is broken is not trusted either.
    expect(passesKnownAnswer({ ...lib, evpOpen: () => true })).toBe(false);
    expect(passesKnownAnswer({ ...lib, evpSeal: (...args: Parameters<typeof lib.seal>) => args[4].fill(0) })).toBe(false);
    // And so is the whole-datagram path: a nonce made wrongly inside it (another number, the high bits lost), or an open that accepts anything.
    expect(passesKnownAnswer({ ...lib, sealPacket: (keyIv, pn, ...rest) => lib.sealPacket(keyIv, pn + 1, ...rest) })).toBe(false);
    expect(passesKnownAnswer({ ...lib, sealPacket: (keyIv, pn, ...rest) => lib.sealPacket(keyIv, pn % 2 ** 32, ...rest) })).toBe(false);
    expect(passesKnownAnswer({ ...lib, openPacket: () => true })).toBe(false);
    // A path wrong only past the vector's 114 bytes (OpenSSL's wider ChaCha20 code, chosen by length and CPU): not trusted either.
    const wrongPast = (limit: number) => (...args: Parameters<typeof lib.seal>): void => {
      lib.seal(...args);
      if (args[3].length > limit) args[4][limit] = (args[4][limit] ?? 0) ^ 1;
    };
    expect(passesKnownAnswer({ ...lib, seal: wrongPast(128) })).toBe(false);
    expect(passesKnownAnswer({ ...lib, seal: wrongPast(1024) })).toBe(false);
    expect(passesKnownAnswer({ ...lib, sealPacket: (keyIv, pn, source, headerLength, end, datagram) => {
      lib.sealPacket(keyIv, pn, source, headerLength, end, datagram);
      if (end > 600) datagram[600] = (datagram[600] ?? 0) ^ 1;
    } })).toBe(false);
  });

  it('falls back to EVP, not off OpenSSL, when the direct path fails the known answer (internals changed under the same names)', () => {
    /** `lib` as a runtime whose direct ChaCha20 is wrong: its own switch, so the real addon's path is left alone. */
    const brokenDirect = (evpBroken: boolean): OpensslAead & { readonly switched: () => boolean } => {
      let evp = false;
      const wrong = (...args: Parameters<typeof lib.seal>): void => {
        lib.evpSeal(...args);
        args[4][3] = (args[4][3] ?? 0) ^ 0x40;
      };
      const evpSeal = evpBroken ? wrong : lib.evpSeal;
      return {
        ...lib,
        seal: (...args) => (evp ? evpSeal(...args) : wrong(...args)),
        evpSeal,
        sealPacket: (keyIv, pn, source, headerLength, end, datagram) => {
          lib.sealPacket(keyIv, pn, source, headerLength, end, datagram);
          if (!evp) datagram[headerLength] = (datagram[headerLength] ?? 0) ^ 1;
        },
        path: () => (evp ? 'evp' : 'direct'),
        useEvp: () => {
          evp = true;
        },
        switched: () => evp,
      };
    };
    const fallsBack = brokenDirect(false);
    expect(trustedAddon(fallsBack)).toBe(fallsBack);
    expect(fallsBack.switched()).toBe(true);
    // EVP broken as well: nothing of the addon is trusted.
    const broken = brokenDirect(true);
    expect(trustedAddon(broken)).toBeUndefined();
    // A runtime already on EVP that fails is not retried.
    let retried = false;
    expect(trustedAddon({ ...lib, path: () => 'evp', open: () => true, useEvp: () => void (retried = true) })).toBeUndefined();
    expect(retried).toBe(false);
    expect(trustedAddon(lib)).toBe(lib);
  });

  it('useEvp moves seal, open and whole datagrams to EVP for good: the same bytes (in a process of its own: the switch is process-wide)', () => {
    const path = fileURLToPath(new URL(`../../dist/${OPENSSL_ADDON_FILE}`, import.meta.url));
    const script = `
      const a = require(${JSON.stringify(path)});
      const key = new Uint8Array(32).fill(7), nonce = new Uint8Array(12).fill(1), ad = Uint8Array.of(1, 2, 3), text = new Uint8Array(1400).fill(9);
      const keyIv = new Uint8Array(44).fill(5), source = new Uint8Array(1409).fill(3);
      const run = () => {
        const sealed = new Uint8Array(1416), datagram = new Uint8Array(1425);
        a.seal(key, nonce, ad, text, sealed);
        a.sealPacket(keyIv, 77, source, 9, 1409, datagram);
        return [Buffer.from(sealed).toString('hex'), Buffer.from(datagram).toString('hex'), a.openPacket(keyIv, 77, datagram, 9, 1425)];
      };
      const before = [a.path(), ...run()];
      a.useEvp();
      const after = [a.path(), ...run()];
      process.stdout.write(JSON.stringify({ before, after }));`;
    const { before, after } = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 })) as { before: unknown[]; after: unknown[] };
    expect(after[0]).toBe('evp');
    expect(before[0]).toBe(lib.path());
    expect(after.slice(1)).toEqual(before.slice(1));
    expect(after[3]).toBe(true);
  });
});
