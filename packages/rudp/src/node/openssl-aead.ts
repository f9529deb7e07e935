/**
 * ChaCha20-Poly1305 on the OpenSSL inside Node, through the small optional
 * addon `native/openssl-aead.c` (built into `dist/` by
 * `scripts/build-native.mjs`). The cipher is the same RFC 8439 AEAD as
 * libsodium's and `node:crypto`'s, so all three interoperate byte for byte;
 * OpenSSL's vectorised code seals a 1,440-byte packet in about half of
 * libsodium's time here, and `node:crypto` cannot reach it without a cipher
 * object per packet (measured by `scripts/bench-packet-protection.mjs`).
 */
import { createRequire } from 'node:module';
import { KEY_LEN, NONCE_LEN, TAG_LEN, type AeadKey } from '../crypto/crypto-provider.js';

/** The addon's functions (see `native/openssl-aead.c`). */
interface OpensslAead {
  seal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void;
  open(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): boolean;
  /** Re-keys the thread's contexts with zeros: the last key used no longer lingers in them. */
  scrub(): void;
}

const isOpensslAead = (m: unknown): m is OpensslAead =>
  typeof m === 'object' &&
  m !== null &&
  (['seal', 'open', 'scrub'] as const).every((name) => typeof (m as Partial<Record<string, unknown>>)[name] === 'function');

/**
 * Where the addon is: beside the bundled code in `dist/`, or, for the
 * sources run directly (tests), in the package's `dist/` two folders up.
 */
const CANDIDATES = ['./openssl-aead.node', '../../dist/openssl-aead.node'] as const;

// RFC 8439 §2.8.2's key and nonce, with an empty message: a build that loads but computes
// anything else (a mismatched OpenSSL) is refused rather than trusted with packets.
const PROBE_KEY = Uint8Array.from({ length: KEY_LEN }, (_, i) => 0x80 + i);
const PROBE_NONCE = Uint8Array.of(7, 0, 0, 0, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47);

/** Whether `addon` seals and opens like the reference: a round trip, and a flipped bit refused. */
function passesProbe(addon: OpensslAead, reference: AeadKey): boolean {
  const plaintext = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  const ad = Uint8Array.of(1, 2, 3);
  const expected = new Uint8Array(plaintext.length + TAG_LEN);
  reference.sealInto(PROBE_NONCE, ad, plaintext, expected);
  const sealed = new Uint8Array(expected.length);
  addon.seal(PROBE_KEY, PROBE_NONCE, ad, plaintext, sealed);
  const opened = new Uint8Array(plaintext.length);
  const same = sealed.every((b, i) => b === expected[i]) && addon.open(PROBE_KEY, PROBE_NONCE, ad, sealed, opened) && opened.every((b, i) => b === plaintext[i]);
  sealed[10] = (sealed[10] ?? 0) ^ 1;
  const refusesForgery = !addon.open(PROBE_KEY, PROBE_NONCE, ad, sealed, opened);
  addon.scrub();
  return same && refusesForgery;
}

/**
 * The addon if it was built, loads (the node binary exports OpenSSL's
 * symbols) and agrees with `reference` (another ChaCha20-Poly1305 of the
 * probe key); else `undefined`, and the caller uses another library.
 */
export function loadOpensslAead(reference: (key: Uint8Array) => AeadKey): OpensslAead | undefined {
  const require = createRequire(import.meta.url);
  for (const candidate of CANDIDATES) {
    let addon: unknown;
    try {
      addon = require(candidate);
    } catch {
      // Not built here (no compiler or headers), another platform's build, or OpenSSL's symbols missing.
      continue;
    }
    try {
      if (isOpensslAead(addon) && passesProbe(addon, reference(PROBE_KEY))) return addon;
    } catch {
      // A build that throws on correct input is as unusable as one that is missing.
    }
    return undefined;
  }
  return undefined;
}

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

  /** The thread's OpenSSL contexts may hold this key from its last use: they are re-keyed with zeros. */
  dispose(): void {
    this.addon.scrub();
  }
}
