/** Small byte helpers for the crypto code (no `Buffer`: this folder stays runtime-neutral). */

/** The concatenation of `parts`. */
export const concatBytes = (...parts: readonly Uint8Array[]): Uint8Array => {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** Whether `a` and `b` hold the same bytes; the time taken does not depend on where they differ. */
export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
};

/** Whether every byte of `a` is zero (constant time). */
export const isAllZero = (a: Uint8Array): boolean => {
  let acc = 0;
  for (const b of a) acc |= b;
  return acc === 0;
};

/** UTF-8 bytes of `s`. */
export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Lower-case hex of `a`. */
export const toHex = (a: Uint8Array): string => Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');

/** The bytes of a hex string; `undefined` if it is not an even number of hex digits. */
export const fromHex = (s: string): Uint8Array | undefined => {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return undefined;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
};

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 of `a` without `=` padding (the form SSH prints fingerprints in). */
export const toBase64Unpadded = (a: Uint8Array): string => {
  let out = '';
  for (let i = 0; i < a.length; i += 3) {
    const n = ((a[i] ?? 0) << 16) | ((a[i + 1] ?? 0) << 8) | (a[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((a.length - i) * 8) / 6));
    for (let c = 0; c < chars; c++) out += B64[(n >> (18 - 6 * c)) & 63];
  }
  return out;
};
