/**
 * ChaCha20-Poly1305 on the OpenSSL inside Node, through the small optional
 * addon `native/openssl-aead.c` (built into `dist/`, one file per platform
 * and architecture, by `scripts/build-native.mjs`). The cipher is the same RFC 8439 AEAD as
 * libsodium's and `node:crypto`'s, so all three interoperate byte for byte;
 * OpenSSL's vectorised code seals a 1,440-byte packet in about half of
 * libsodium's time here, and `node:crypto` cannot reach it without a cipher
 * object per packet (measured by `scripts/bench-packet-protection.mjs`).
 * Past EVP, straight to OpenSSL's ChaCha20 and Poly1305 where Node exports
 * them, a 1,400-byte packet seals in about 0.93 µs instead of 1.15 µs.
 */
import { fromHex } from '../crypto/bytes.js';
import { KEY_IV_LEN, KEY_LEN, NONCE_LEN, TAG_LEN, type AeadKey, type PacketAead } from '../crypto/crypto-provider.js';
import { addonFile, hasFunctions, loadAddon } from './native-addon.js';

/**
 * The addon's functions (see `native/openssl-aead.c`). `seal`/`open` call
 * OpenSSL's ChaCha20 and Poly1305 directly where the node binary exports
 * them (`path()` is `'direct'`), else go through EVP; `evpSeal`/`evpOpen`
 * always go through EVP (the same bytes: tests hold the two paths to each other).
 */
export interface OpensslAead {
  seal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void;
  open(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): boolean;
  evpSeal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void;
  evpOpen(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): boolean;
  /** Which path `seal` and `open` take in this runtime. */
  path(): 'direct' | 'evp';
  /** From now on, in every thread, `seal`, `open`, `sealPacket` and `openPacket` take the EVP path (the direct one failed the known answer). */
  useEvp(): void;
  /** {@link PacketAead.sealPacket} with `keyIv` (the key, then the IV); throws a RangeError on misuse. */
  sealPacket(keyIv: Uint8Array, pn: number, source: Uint8Array, headerLength: number, end: number, datagram: Uint8Array): void;
  /** {@link PacketAead.openPacket} with `keyIv`; false for anything that does not verify or fit. */
  openPacket(keyIv: Uint8Array, pn: number, datagram: Uint8Array, headerLength: number, end: number): boolean;
  /** Frees the thread's EVP contexts (OpenSSL cleanses them): nothing of the last key used lingers there. */
  scrub(): void;
}

/** The addon's file name on this platform and architecture (a build for another one is never loaded). */
export const OPENSSL_ADDON_FILE = addonFile('openssl-aead');

// RFC 8439 §2.8.2's AEAD test vector: a build that loads but computes anything else is not trusted with packets.
const hex = (s: string): Uint8Array => fromHex(s) ?? new Uint8Array(0);
const KAT_KEY = Uint8Array.from({ length: KEY_LEN }, (_, i) => 0x80 + i);
const KAT_NONCE = hex('070000004041424344454647');
const KAT_AD = hex('50515253c0c1c2c3c4c5c6c7');
const KAT_PLAINTEXT = new TextEncoder().encode("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
const KAT_SEALED = hex(
  'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116' +
    '1ae10b594f09e26a7e902ecbd0600691',
);

type Seal = OpensslAead['seal'];
type Open = OpensslAead['open'];

/** Whether `seal` seals RFC 8439's vector to the byte, `open` opens it back, and refuses it with one bit flipped. */
const knownAnswer = (seal: Seal, open: Open): boolean => {
  const sealed = new Uint8Array(KAT_SEALED.length);
  seal(KAT_KEY, KAT_NONCE, KAT_AD, KAT_PLAINTEXT, sealed);
  const opened = new Uint8Array(KAT_PLAINTEXT.length);
  const same = sealed.every((b, i) => b === KAT_SEALED[i]) && open(KAT_KEY, KAT_NONCE, KAT_AD, sealed, opened) && opened.every((b, i) => b === KAT_PLAINTEXT[i]);
  sealed[10] = (sealed[10] ?? 0) ^ 1;
  return same && !open(KAT_KEY, KAT_NONCE, KAT_AD, sealed, opened);
};

// The vector as a whole datagram: its associated data as the header, and its nonce made from an IV
// and a packet number of seven distinct bytes (a nonce made in the wrong byte order fails).
const KAT_SOURCE = Uint8Array.from([...KAT_AD, ...KAT_PLAINTEXT]);
const KAT_PN = 0x11223344556677;
const KAT_PN_BYTES = [0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77];
const KAT_KEY_IV = Uint8Array.from([...KAT_KEY, ...KAT_NONCE.map((b, i) => (i < 4 ? b : b ^ (KAT_PN_BYTES[i - 4] ?? 0)))]);

/** Whether `sealPacket` and `openPacket` seal and open the vector as a datagram, and refuse it with one bit flipped. */
const knownAnswerOfDatagrams = (addon: OpensslAead): boolean => {
  const datagram = new Uint8Array(KAT_SOURCE.length + TAG_LEN);
  addon.sealPacket(KAT_KEY_IV, KAT_PN, KAT_SOURCE, KAT_AD.length, KAT_SOURCE.length, datagram);
  const sealed = datagram.every((b, i) => b === (i < KAT_AD.length ? KAT_AD[i] : KAT_SEALED[i - KAT_AD.length]));
  const forged = datagram.slice();
  forged[KAT_AD.length + 10] = (forged[KAT_AD.length + 10] ?? 0) ^ 1;
  const opened = addon.openPacket(KAT_KEY_IV, KAT_PN, datagram, KAT_AD.length, datagram.length) && KAT_PLAINTEXT.every((b, i) => b === datagram[KAT_AD.length + i]);
  return sealed && opened && !addon.openPacket(KAT_KEY_IV, KAT_PN, forged, KAT_AD.length, forged.length);
};

/**
 * Sizes at which `seal` and `sealPacket` must give EVP's bytes on this machine. The vector is 114
 * bytes, and OpenSSL's ChaCha20 picks its code by length and CPU (x86-64: one block at a time up to
 * 128 bytes, 4 or 8 blocks at once past that, AVX-512 past 512): packets take the wider code, which
 * the vector never reaches, and the CPU a build was tested on need not be the one it runs on.
 */
const AGREEMENT_SIZES = [200, 600, 1400, 1471];

/** Whether the path `seal`/`open` take and whole datagrams give EVP's bytes at {@link AGREEMENT_SIZES}, and each opens the other's. */
const agreesWithEvp = (addon: OpensslAead): boolean =>
  AGREEMENT_SIZES.every((size) => {
    const source = Uint8Array.from({ length: KAT_AD.length + size }, (_, i) => (i * 151 + 7) & 0xff);
    const ad = source.subarray(0, KAT_AD.length);
    const plaintext = source.subarray(KAT_AD.length);
    const evp = new Uint8Array(size + TAG_LEN);
    const sealed = new Uint8Array(size + TAG_LEN);
    const datagram = new Uint8Array(source.length + TAG_LEN);
    addon.evpSeal(KAT_KEY, KAT_NONCE, ad, plaintext, evp);
    addon.seal(KAT_KEY, KAT_NONCE, ad, plaintext, sealed);
    addon.sealPacket(KAT_KEY_IV, KAT_PN, source, KAT_AD.length, source.length, datagram);
    const opened = new Uint8Array(size);
    return (
      sealed.every((b, i) => b === evp[i]) &&
      datagram.every((b, i) => b === (i < KAT_AD.length ? ad[i] : evp[i - KAT_AD.length])) &&
      addon.open(KAT_KEY, KAT_NONCE, ad, evp, opened) &&
      opened.every((b, i) => b === plaintext[i]) &&
      addon.openPacket(KAT_KEY_IV, KAT_PN, datagram, KAT_AD.length, datagram.length) &&
      plaintext.every((b, i) => b === datagram[KAT_AD.length + i])
    );
  });

/** Whether every path of `addon` (the one `seal`/`open` take, EVP, whole datagrams) passes RFC 8439's known answer, and gives EVP's bytes at packet sizes. */
export function passesKnownAnswer(addon: OpensslAead): boolean {
  const ok = knownAnswer(addon.seal, addon.open) && knownAnswer(addon.evpSeal, addon.evpOpen) && knownAnswerOfDatagrams(addon) && agreesWithEvp(addon);
  addon.scrub();
  return ok;
}

/**
 * The addon if it was built for this platform, loads (the node binary
 * exports OpenSSL's symbols) and passes RFC 8439's known answer; else
 * `undefined`, and the caller uses another library.
 */
export function loadOpensslAead(): OpensslAead | undefined {
  const addon = loadAddon('openssl-aead');
  if (!hasFunctions<OpensslAead>(addon, ['seal', 'open', 'evpSeal', 'evpOpen', 'path', 'useEvp', 'sealPacket', 'openPacket', 'scrub'])) return undefined;
  return trustedAddon(addon);
}

/**
 * `addon` if it passes the known answer; else, if it took the direct path,
 * `addon` on EVP if that passes (OpenSSL's internal ChaCha20 or Poly1305
 * changed under the same names: EVP, its public interface, still serves at
 * some 0.2 µs more a packet, where the next library, libsodium, costs 1 µs
 * more and `node:crypto` 4.6 µs); else `undefined`.
 */
export function trustedAddon(addon: OpensslAead): OpensslAead | undefined {
  if (knownAnswerHolds(addon)) return addon;
  if (addon.path() !== 'direct') return undefined;
  addon.useEvp();
  return addon.path() === 'evp' && knownAnswerHolds(addon) ? addon : undefined;
}

const knownAnswerHolds = (addon: OpensslAead): boolean => {
  try {
    return passesKnownAnswer(addon);
  } catch {
    // A build that throws on correct input is as unusable as one that is missing.
    return false;
  }
};

/**
 * A packet key on OpenSSL. Like libsodium, the addon takes the raw key on
 * every call (re-keying ChaCha20 costs nothing), so a connection keeps no
 * native state: the key stays in the caller's bytes, which it wipes itself.
 */
export class OpensslAeadKey implements AeadKey {
  constructor(
    private readonly addon: OpensslAead,
    private readonly key: Uint8Array,
  ) {
    if (key.length !== KEY_LEN) throw new RangeError('ChaCha20-Poly1305 needs a 32-byte key');
  }

  sealInto(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void {
    if (nonce.length !== NONCE_LEN || out.length !== plaintext.length + TAG_LEN) throw new RangeError('ChaCha20-Poly1305: a 12-byte nonce and an output of plaintext + 16 bytes');
    this.addon.seal(this.key, nonce, ad, plaintext, out);
  }

  openInto(nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): boolean {
    // The addon checks the same (a wrong length there would be a write past a buffer); here it spares the call.
    if (nonce.length !== NONCE_LEN || ciphertext.length < TAG_LEN || out.length !== ciphertext.length - TAG_LEN) return false;
    return this.addon.open(this.key, nonce, ad, ciphertext, out);
  }

  /** The thread's EVP contexts may hold this key from its last use: they are freed, and made afresh when next needed (the direct path keeps nothing). */
  dispose(): void {
    this.addon.scrub();
  }
}

/**
 * A packet key and IV on OpenSSL, for whole datagrams: the addon makes each
 * packet's nonce and copies the header itself, so a packet costs one call
 * with two or three arrays (N-API takes some 30 ns per array argument) and
 * JavaScript cuts no view for it. Like {@link OpensslAeadKey}, it keeps no
 * native state: the key and IV stay in the caller's bytes.
 */
export class OpensslPacketAead implements PacketAead {
  constructor(
    private readonly addon: OpensslAead,
    private readonly keyIv: Uint8Array,
  ) {
    if (keyIv.length !== KEY_IV_LEN) throw new RangeError('ChaCha20-Poly1305 packet key: a 32-byte key and a 12-byte IV');
  }

  sealPacket(pn: number, source: Uint8Array, headerLength: number, end: number, datagram: Uint8Array): void {
    // Every length is checked inside the addon (a wrong one there would be a write past a buffer).
    this.addon.sealPacket(this.keyIv, pn, source, headerLength, end, datagram);
  }

  openPacket(pn: number, datagram: Uint8Array, headerLength: number, end: number): boolean {
    return this.addon.openPacket(this.keyIv, pn, datagram, headerLength, end);
  }

  /** As {@link OpensslAeadKey.dispose}. */
  dispose(): void {
    this.addon.scrub();
  }
}
