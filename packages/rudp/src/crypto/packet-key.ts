/**
 * One direction's packet key at one key phase: AEAD key plus IV, derived
 * from a traffic secret as QUIC does (RFC 9001 §5.1, §5.3). The nonce is the
 * IV XOR the packet number, so packets can be opened in any order and a
 * packet number is never used twice with one key.
 */
import { KEY_LEN, NONCE_LEN, type CryptoProvider } from './crypto-provider.js';
import { hkdfExpandLabel } from './hkdf.js';

const EMPTY = new Uint8Array(0);

/** The largest packet number a nonce can carry exactly (a JS number's integer range). */
export const MAX_PACKET_NUMBER = Number.MAX_SAFE_INTEGER;

/** A packet key: seal and open one direction's packets. */
export interface PacketKey {
  /** Seals `plaintext` with `header` as associated data. `pn` must be 0…2^53-1 and never reused with this key. */
  seal(header: Uint8Array, pn: number, plaintext: Uint8Array): Uint8Array;
  /** Opens `ciphertext` (body and tag); `undefined` if it does not authenticate. Never throws. */
  open(header: Uint8Array, pn: number, ciphertext: Uint8Array): Uint8Array | undefined;
}

/** The per-packet nonce: `iv` with `pn` (big-endian, 64 bits) XORed into its last 8 bytes. */
export const packetNonce = (iv: Uint8Array, pn: number): Uint8Array => {
  const nonce = iv.slice();
  const hi = Math.floor(pn / 2 ** 32);
  const lo = pn >>> 0;
  for (let i = 0; i < 4; i++) {
    nonce[NONCE_LEN - 8 + i] = (nonce[NONCE_LEN - 8 + i] ?? 0) ^ ((hi >>> (24 - 8 * i)) & 0xff);
    nonce[NONCE_LEN - 4 + i] = (nonce[NONCE_LEN - 4 + i] ?? 0) ^ ((lo >>> (24 - 8 * i)) & 0xff);
  }
  return nonce;
};

const validPn = (pn: number): boolean => Number.isInteger(pn) && pn >= 0 && pn <= MAX_PACKET_NUMBER;

/** The packet key of a traffic secret: key = Expand-Label(secret, "key"), iv = Expand-Label(secret, "iv"). */
export const packetKeyFromSecret = (crypto: CryptoProvider, secret: Uint8Array): PacketKey => {
  const key = hkdfExpandLabel(crypto, secret, 'key', EMPTY, KEY_LEN);
  const iv = hkdfExpandLabel(crypto, secret, 'iv', EMPTY, NONCE_LEN);
  return {
    seal: (header, pn, plaintext) => {
      if (!validPn(pn)) throw new RangeError(`packet number out of range: ${pn}`);
      return crypto.seal(key, packetNonce(iv, pn), header, plaintext);
    },
    open: (header, pn, ciphertext) => (validPn(pn) ? crypto.open(key, packetNonce(iv, pn), header, ciphertext) : undefined),
  };
};

/** The traffic secret of the next key phase (RFC 9001 §6.1's "quic ku", here "rudp ku"). */
export const nextTrafficSecret = (crypto: CryptoProvider, secret: Uint8Array): Uint8Array => hkdfExpandLabel(crypto, secret, 'ku', EMPTY, secret.length);
