/**
 * Arithmetic in GF(2^8) (polynomial x^8 + x^4 + x^3 + x^2 + 1, generator 2),
 * the field of the repair code: addition is XOR, multiplication goes through
 * log/exp tables.
 */

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  // A doubled table spares the `% 255` in every product.
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255] as number;
}

/** a · b. */
export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[(LOG[a] as number) + (LOG[b] as number)] as number;
}

/** 1 / a (a ≠ 0). */
export function gfInv(a: number): number {
  return EXP[255 - (LOG[a] as number)] as number;
}

/** α^e for any integer e ≥ 0. */
export function gfPow(e: number): number {
  return EXP[e % 255] as number;
}

/** dst[i] ^= c · src[i] for every i < src.length (dst at least as long). */
export function gfMulAdd(dst: Uint8Array, src: Uint8Array, c: number): void {
  if (c === 0) return;
  if (c === 1) {
    for (let i = 0; i < src.length; i++) dst[i] = (dst[i] as number) ^ (src[i] as number);
    return;
  }
  const lc = LOG[c] as number;
  for (let i = 0; i < src.length; i++) {
    const s = src[i] as number;
    if (s !== 0) dst[i] = (dst[i] as number) ^ (EXP[(LOG[s] as number) + lc] as number);
  }
}

/** v[i] = c · v[i] for every i. */
export function gfScale(v: Uint8Array, c: number): void {
  if (c === 1) return;
  const lc = LOG[c] as number;
  for (let i = 0; i < v.length; i++) {
    const s = v[i] as number;
    if (s !== 0) v[i] = EXP[(LOG[s] as number) + lc] as number;
  }
}
