/**
 * One direction's packet key at one key phase: AEAD key plus IV, derived
 * from a traffic secret as QUIC does (RFC 9001 §5.1, §5.3). The nonce is the
 * IV XOR the packet number, so packets can be opened in any order and a
 * packet number is never used twice with one key.
 */
import { KEY_LEN, NONCE_LEN, TAG_LEN, type AeadKey, type CryptoProvider } from './crypto-provider.js';
import { hkdfExpandLabel } from './hkdf.js';

const EMPTY = new Uint8Array(0);

/** The largest packet number a nonce can carry exactly (a JS number's integer range). */
export const MAX_PACKET_NUMBER = Number.MAX_SAFE_INTEGER;

/** Writes the per-packet nonce into `out`: `iv` with `pn` (big-endian, 64 bits) XORed into its last 8 bytes. */
const writePacketNonce = (iv: Uint8Array, pn: number, out: Uint8Array): Uint8Array => {
  out.set(iv);
  const hi = Math.floor(pn / 2 ** 32);
  const lo = pn >>> 0;
  for (let i = 0; i < 4; i++) {
    out[NONCE_LEN - 8 + i] = (out[NONCE_LEN - 8 + i] ?? 0) ^ ((hi >>> (24 - 8 * i)) & 0xff);
    out[NONCE_LEN - 4 + i] = (out[NONCE_LEN - 4 + i] ?? 0) ^ ((lo >>> (24 - 8 * i)) & 0xff);
  }
  return out;
};

/** The per-packet nonce: `iv` with `pn` (big-endian, 64 bits) XORed into its last 8 bytes. */
export const packetNonce = (iv: Uint8Array, pn: number): Uint8Array => writePacketNonce(iv, pn, new Uint8Array(NONCE_LEN));

/** One nonce buffer for every key: each seal or open uses it synchronously and keeps no reference. */
const NONCE = new Uint8Array(NONCE_LEN);

const validPn = (pn: number): boolean => Number.isInteger(pn) && pn >= 0 && pn <= MAX_PACKET_NUMBER;

/**
 * A packet key: seals and opens one direction's packets. A class with two
 * fields, not closures, because every connection holds three of them.
 */
export class PacketKey {
  private readonly aead: AeadKey;
  private readonly iv: Uint8Array;

  /** The packet key of a traffic secret: key = Expand-Label(secret, "key"), iv = Expand-Label(secret, "iv"). */
  constructor(crypto: CryptoProvider, secret: Uint8Array) {
    this.aead = crypto.aeadKey(hkdfExpandLabel(crypto, secret, 'key', EMPTY, KEY_LEN));
    this.iv = hkdfExpandLabel(crypto, secret, 'iv', EMPTY, NONCE_LEN);
  }

  /**
   * Seals `plaintext` with `header` as associated data into `out`
   * (`plaintext.length + TAG_LEN` bytes). `pn` must be 0…2^53-1 and never reused with this key.
   */
  sealInto(header: Uint8Array, pn: number, plaintext: Uint8Array, out: Uint8Array): void {
    if (!validPn(pn)) throw new RangeError(`packet number out of range: ${pn}`);
    this.aead.sealInto(writePacketNonce(this.iv, pn, NONCE), header, plaintext, out);
  }

  /** Opens `ciphertext` (body and tag) into `out` (`ciphertext.length - TAG_LEN` bytes); false if it does not authenticate. Never throws. */
  openInto(header: Uint8Array, pn: number, ciphertext: Uint8Array, out: Uint8Array): boolean {
    return validPn(pn) && this.aead.openInto(writePacketNonce(this.iv, pn, NONCE), header, ciphertext, out);
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

/** The packet key of a traffic secret (see {@link PacketKey}). */
export const packetKeyFromSecret = (crypto: CryptoProvider, secret: Uint8Array): PacketKey => new PacketKey(crypto, secret);

/** The traffic secret of the next key phase (RFC 9001 §6.1's "quic ku", here "rudp ku"). */
export const nextTrafficSecret = (crypto: CryptoProvider, secret: Uint8Array): Uint8Array => hkdfExpandLabel(crypto, secret, 'ku', EMPTY, secret.length);
