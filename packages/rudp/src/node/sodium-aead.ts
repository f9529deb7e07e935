/**
 * ChaCha20-Poly1305 from libsodium, through the optional `sodium-native`
 * package (prebuilt binaries in its registry package, the same library
 * WireGuard-style Node stacks use). The cipher is the same RFC 8439 AEAD as
 * `node:crypto`'s, so the two interoperate byte for byte; libsodium's is
 * about 4× cheaper per 1,200-byte packet because `node:crypto` builds a
 * cipher object per call (measured by `scripts/bench-packet-protection.mjs`).
 */
import { createRequire } from 'node:module';
import { KEY_LEN, NONCE_LEN, TAG_LEN, type AeadKey } from '../crypto/crypto-provider.js';

/** The two functions of sodium-native this file uses (it ships no typings). */
interface SodiumAead {
  /** Writes ciphertext and tag into `c`; returns the bytes written. */
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  /** Writes the plaintext into `m`; throws if the tag does not verify. */
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array, npub: Uint8Array, k: Uint8Array): number;
}

const isSodiumAead = (m: unknown): m is SodiumAead =>
  typeof m === 'object' &&
  m !== null &&
  typeof (m as Partial<SodiumAead>).crypto_aead_chacha20poly1305_ietf_encrypt === 'function' &&
  typeof (m as Partial<SodiumAead>).crypto_aead_chacha20poly1305_ietf_decrypt === 'function';

/** sodium-native if it is installed and loads on this platform, else `undefined` (then node:crypto serves). */
export function loadSodium(): SodiumAead | undefined {
  try {
    const sodium: unknown = createRequire(import.meta.url)('sodium-native');
    return isSodiumAead(sodium) ? sodium : undefined;
  } catch {
    // Not installed (it is an optional dependency), or no prebuilt binary for this platform.
    return undefined;
  }
}

/** A packet key on libsodium: the raw key bytes are all it needs, so nothing is set up per packet. */
export class SodiumAeadKey implements AeadKey {
  private readonly key: Uint8Array;

  constructor(
    private readonly sodium: SodiumAead,
    key: Uint8Array,
  ) {
    if (key.length !== KEY_LEN) throw new RangeError('ChaCha20-Poly1305 needs a 32-byte key');
    this.key = key;
  }

  sealInto(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void {
    if (nonce.length !== NONCE_LEN || out.length !== plaintext.length + TAG_LEN) throw new RangeError('ChaCha20-Poly1305: a 12-byte nonce and an output of plaintext + 16 bytes');
    this.sodium.crypto_aead_chacha20poly1305_ietf_encrypt(out, plaintext, ad, null, nonce, this.key);
  }

  openInto(nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): boolean {
    if (nonce.length !== NONCE_LEN || ciphertext.length < TAG_LEN || out.length !== ciphertext.length - TAG_LEN) return false;
    try {
      this.sodium.crypto_aead_chacha20poly1305_ietf_decrypt(out, null, ciphertext, ad, nonce, this.key);
      return true;
    } catch {
      // libsodium reports a tag that does not verify by throwing.
      return false;
    }
  }
}
