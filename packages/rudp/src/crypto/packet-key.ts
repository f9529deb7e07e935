/**
 * One direction's packet key at one key phase: AEAD key plus IV, derived
 * from a traffic secret as QUIC does (RFC 9001 §5.1, §5.3). The nonce is the
 * IV XOR the packet number, so packets can be opened in any order and a
 * packet number is never used twice with one key.
 */
import { KEY_LEN, NONCE_LEN, TAG_LEN, type AeadKey, type CryptoProvider } from './crypto-provider.js';
import { hkdfExpandLabel } from './hkdf.js';
import { placeIn, type KeyArena } from './key-arena.js';

const EMPTY = new Uint8Array(0);

/** The largest packet number a nonce can carry exactly (a JS number's integer range). */
export const MAX_PACKET_NUMBER = Number.MAX_SAFE_INTEGER;

/** One nonce buffer for every key: each seal or open uses it synchronously and keeps no reference. */
const NONCE = new Uint8Array(NONCE_LEN);

const validPn = (pn: number): boolean => Number.isInteger(pn) && pn >= 0 && pn <= MAX_PACKET_NUMBER;

/** Writes the nonce of `pn` into `out`: the 12-byte IV at `iv[at…]` with `pn` (big-endian, 64 bits) XORed into its last 8 bytes. */
const writeNonce = (iv: Uint8Array, at: number, pn: number, out: Uint8Array): Uint8Array => {
  const hi = Math.floor(pn / 2 ** 32);
  const lo = pn >>> 0;
  for (let i = 0; i < 4; i++) {
    const shift = 24 - 8 * i;
    out[i] = iv[at + i] ?? 0;
    out[4 + i] = (iv[at + 4 + i] ?? 0) ^ ((hi >>> shift) & 0xff);
    out[8 + i] = (iv[at + 8 + i] ?? 0) ^ ((lo >>> shift) & 0xff);
  }
  return out;
};

/** The per-packet nonce: `iv` with `pn` (big-endian, 64 bits) XORed into its last 8 bytes. */
export const packetNonce = (iv: Uint8Array, pn: number): Uint8Array => writeNonce(iv, 0, pn, new Uint8Array(NONCE_LEN));

/**
 * A packet key: seals and opens one direction's packets. Every connection
 * holds two or three, so it is small: a class, not closures, with its
 * secret, AEAD key and IV in one buffer (each typed array costs about 100
 * bytes of heap however short it is), at an offset of the key arena's view.
 */
export class PacketKey {
  private readonly aead: AeadKey;
  /**
   * secret ‖ AEAD key ‖ IV at `material[at…]` (the view may be the whole key arena's: see {@link KeyArena}).
   * The IV as numbers would cost three heap numbers: its 32-bit words exceed V8's small integers.
   */
  private readonly material: Uint8Array;
  private readonly at: number;
  private readonly secretLength: number;

  /**
   * The packet key of a traffic secret: key = Expand-Label(secret, "key"), iv = Expand-Label(secret, "iv").
   * `arena`, if given, holds the secret, the AEAD key and the IV (see {@link KeyArena}).
   */
  constructor(crypto: CryptoProvider, secret: Uint8Array, arena?: KeyArena) {
    const { bytes: material, at } = placeIn(arena, packetKeyBytes(secret.length));
    material.set(secret, at);
    material.set(hkdfExpandLabel(crypto, secret, 'key', EMPTY, KEY_LEN), at + secret.length);
    material.set(hkdfExpandLabel(crypto, secret, 'iv', EMPTY, NONCE_LEN), at + secret.length + KEY_LEN);
    this.material = material;
    this.at = at;
    this.secretLength = secret.length;
    this.aead = crypto.aeadKey(material.subarray(at + secret.length, at + secret.length + KEY_LEN));
  }

  /** Overwrites the secret, key and IV with zeros, and the cipher library's copy: for a key that will never be used again. */
  wipe(): void {
    this.material.fill(0, this.at, this.at + packetKeyBytes(this.secretLength));
    this.aead.dispose?.();
  }

  /** The traffic secret: the next key phase is derived from it. */
  get secret(): Uint8Array {
    return this.material.subarray(this.at, this.at + this.secretLength);
  }

  /**
   * Seals `plaintext` with `header` as associated data into `out`
   * (`plaintext.length + TAG_LEN` bytes). `pn` must be 0…2^53-1 and never reused with this key.
   */
  sealInto(header: Uint8Array, pn: number, plaintext: Uint8Array, out: Uint8Array): void {
    if (!validPn(pn)) throw new RangeError(`packet number out of range: ${pn}`);
    this.aead.sealInto(writeNonce(this.material, this.at + this.secretLength + KEY_LEN, pn, NONCE), header, plaintext, out);
  }

  /** Opens `ciphertext` (body and tag) into `out` (`ciphertext.length - TAG_LEN` bytes); false if it does not authenticate. Never throws. */
  openInto(header: Uint8Array, pn: number, ciphertext: Uint8Array, out: Uint8Array): boolean {
    return validPn(pn) && this.aead.openInto(writeNonce(this.material, this.at + this.secretLength + KEY_LEN, pn, NONCE), header, ciphertext, out);
  }

  /** {@link sealInto} into a new array. */
  seal(header: Uint8Array, pn: number, plaintext: Uint8Array): Uint8Array {
    const out = new Uint8Array(plaintext.length + TAG_LEN);
    this.sealInto(header, pn, plaintext, out);
    return out;
  }

  /** {@link openInto} into a new array; `undefined` if it does not authenticate. */
  open(header: Uint8Array, pn: number, ciphertext: Uint8Array): Uint8Array | undefined {
    if (ciphertext.length < TAG_LEN) return undefined;
    const out = new Uint8Array(ciphertext.length - TAG_LEN);
    return this.openInto(header, pn, ciphertext, out) ? out : undefined;
  }
}

/** The bytes a {@link PacketKey} of a `secretLength`-byte secret keeps (in its arena, if given one). */
export const packetKeyBytes = (secretLength: number): number => secretLength + KEY_LEN + NONCE_LEN;

/** The packet key of a traffic secret (see {@link PacketKey}), its bytes in `arena` if given. */
export const packetKeyFromSecret = (crypto: CryptoProvider, secret: Uint8Array, arena?: KeyArena): PacketKey => new PacketKey(crypto, secret, arena);

/** The traffic secret of the next key phase (RFC 9001 §6.1's "quic ku", here "rudp ku"). */
export const nextTrafficSecret = (crypto: CryptoProvider, secret: Uint8Array): Uint8Array => hkdfExpandLabel(crypto, secret, 'ku', EMPTY, secret.length);
