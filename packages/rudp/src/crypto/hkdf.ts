/**
 * HKDF-SHA256 (RFC 5869) built on the provider's HMAC, in the two shapes this
 * folder needs: Noise's `HKDF(ck, ikm, n)` and a TLS 1.3-style
 * `HKDF-Expand-Label` for packet keys, key updates and the exporter.
 */
import { concatBytes, utf8 } from './bytes.js';
import { HASH_LEN, type CryptoProvider } from './crypto-provider.js';

/** Noise's HKDF (spec rev 34 §4.3): two or three 32-byte outputs chained from `HMAC(chainingKey, ikm)`. */
export function noiseHkdf(c: CryptoProvider, chainingKey: Uint8Array, ikm: Uint8Array, outputs: 2): readonly [Uint8Array, Uint8Array];
export function noiseHkdf(c: CryptoProvider, chainingKey: Uint8Array, ikm: Uint8Array, outputs: 3): readonly [Uint8Array, Uint8Array, Uint8Array];
export function noiseHkdf(c: CryptoProvider, chainingKey: Uint8Array, ikm: Uint8Array, outputs: 2 | 3): readonly Uint8Array[] {
  const tempKey = c.hmacSha256(chainingKey, ikm);
  const o1 = c.hmacSha256(tempKey, Uint8Array.of(1));
  const o2 = c.hmacSha256(tempKey, o1, Uint8Array.of(2));
  const result = outputs === 2 ? [o1, o2] : [o1, o2, c.hmacSha256(tempKey, o2, Uint8Array.of(3))];
  // The outputs are the caller's; the key they came from is ours, and keys every one of them.
  tempKey.fill(0);
  return result;
}

/** HKDF-Extract (RFC 5869 §2.2). */
export const hkdfExtract = (c: CryptoProvider, salt: Uint8Array, ikm: Uint8Array): Uint8Array => c.hmacSha256(salt, ikm);

/** The most bytes one HKDF-Expand can produce. */
export const MAX_EXPAND_LEN = 255 * HASH_LEN;

/** HKDF-Expand (RFC 5869 §2.3). `length` must be 0…8160 (a programming error otherwise). */
export const hkdfExpand = (c: CryptoProvider, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array => {
  // Checked before the output is made: a bad length is told as one, not as a typed array's (or after allocating it).
  checkExpandLength(length);
  const out = new Uint8Array(length);
  hkdfExpandInto(c, prk, info, out, 0, length);
  return out;
};

/**
 * {@link hkdfExpand} written into `out[at, at + length)`, so a key is derived straight into the buffer
 * that keeps it: no copy of it is left behind. Each HMAC block is wiped once used (the last is a copy of
 * the output's end).
 */
export function hkdfExpandInto(c: CryptoProvider, prk: Uint8Array, info: Uint8Array, out: Uint8Array, at: number, length: number): void {
  checkExpandLength(length);
  if (!(Number.isInteger(at) && at >= 0 && at + length <= out.length)) throw new RangeError('HKDF-Expand: the output does not fit');
  let previous: Uint8Array = new Uint8Array(0);
  for (let i = 1, done = 0; done < length; i++) {
    const block = c.hmacSha256(prk, previous, info, Uint8Array.of(i));
    previous.fill(0);
    out.set(block.subarray(0, Math.min(HASH_LEN, length - done)), at + done);
    previous = block;
    done += HASH_LEN;
  }
  previous.fill(0);
}

/** Throws the RangeError {@link hkdfExpand} documents for a length out of 0…{@link MAX_EXPAND_LEN}. */
function checkExpandLength(length: number): void {
  if (!Number.isInteger(length) || length < 0 || length > MAX_EXPAND_LEN) throw new RangeError(`HKDF-Expand length must be 0…${MAX_EXPAND_LEN}, not ${length}`);
}

/** Prefix of every label, so rudp's derivations never collide with another protocol's on the same secret. */
const LABEL_PREFIX = 'rudp ';

/**
 * HKDF-Expand-Label as TLS 1.3 (RFC 8446 §7.1) defines it, with the prefix
 * `rudp ` instead of `tls13 `: info = uint16 length, label, context.
 */
export const hkdfExpandLabel = (c: CryptoProvider, secret: Uint8Array, label: string, context: Uint8Array, length: number): Uint8Array => {
  if (length > 0xffff) throw new RangeError(`HKDF-Expand-Label length must fit 16 bits, not ${length}`);
  checkExpandLength(length);
  const out = new Uint8Array(length);
  hkdfExpandLabelInto(c, secret, label, context, out, 0, length);
  return out;
};

/** {@link hkdfExpandLabel} written into `out[at, at + length)` (see {@link hkdfExpandInto}). */
export function hkdfExpandLabelInto(c: CryptoProvider, secret: Uint8Array, label: string, context: Uint8Array, out: Uint8Array, at: number, length: number): void {
  const fullLabel = utf8(LABEL_PREFIX + label);
  if (fullLabel.length > 255 || context.length > 255) throw new RangeError('HKDF-Expand-Label: label or context longer than 255 bytes');
  if (length > 0xffff) throw new RangeError(`HKDF-Expand-Label length must fit 16 bits, not ${length}`);
  const info = concatBytes(Uint8Array.of(length >> 8, length & 0xff, fullLabel.length), fullLabel, Uint8Array.of(context.length), context);
  hkdfExpandInto(c, secret, info, out, at, length);
}
