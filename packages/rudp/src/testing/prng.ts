import type { RandomSource } from '../core/sans-io.js';

/** One splitmix32 step: returns the next state and its mixed 32-bit output. */
function splitmix32(state: number): readonly [next: number, out: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [next, z >>> 0];
}

/** Folds any finite number (negative, fractional, above 2^32) into a 32-bit seed. */
function foldSeed(seed: number): number {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const int = Math.trunc(seed);
  const lo = int >>> 0;
  const hi = Math.floor(int / 4294967296) >>> 0;
  // Mix the high word in so seeds 1 and 2^32+1 differ.
  return (lo ^ Math.imul(hi, 0x9e3779b1)) >>> 0;
}

/**
 * A seeded xoshiro128** generator (seeded through splitmix32), returning
 * uniformly distributed uint32 values. Same seed, same sequence, on every
 * platform.
 */
export function createRandom(seed: number): RandomSource {
  let st = foldSeed(seed);
  const s = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    const [next, out] = splitmix32(st);
    st = next;
    s[i] = out;
  }
  // xoshiro must never start from the all-zero state.
  if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) s[0] = 1;
  let s0 = s[0]!;
  let s1 = s[1]!;
  let s2 = s[2]!;
  let s3 = s[3]!;
  return () => {
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  };
}

/** 32-bit FNV-1a hash of a string's UTF-16 code units; used to name PRNG streams. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * An independent stream derived from `seed` and a label (e.g. a link's
 * `from>to`), so adding a stream never shifts the numbers another one sees.
 */
export function deriveRandom(seed: number, label: string): RandomSource {
  const [, mixed] = splitmix32(foldSeed(seed) ^ hashString(label));
  return createRandom(mixed ^ Math.imul(hashString(label), 0x27d4eb2d));
}

/** A float uniformly distributed in [0, 1) with 53 bits of precision (two draws). */
export function randomFloat(rng: RandomSource): number {
  const a = rng() >>> 5;
  const b = rng() >>> 6;
  return (a * 67108864 + b) / 9007199254740992;
}

/** An integer uniformly distributed in [min, maxExclusive); `min` when the range is empty. */
export function randomInt(rng: RandomSource, min: number, maxExclusive: number): number {
  const span = maxExclusive - min;
  if (!(span > 0)) return min;
  return min + Math.floor(randomFloat(rng) * span);
}

/** `true` with probability `p`; draws nothing when `p` is 0 or less, or 1 or more. */
export function randomChance(rng: RandomSource, p: number): boolean {
  if (p <= 0) return false;
  if (p >= 1) return true;
  return randomFloat(rng) < p;
}

/** Fills `bytes` with random bytes and returns it. */
export function fillRandomBytes(rng: RandomSource, bytes: Uint8Array): Uint8Array {
  let i = 0;
  for (; i + 4 <= bytes.length; i += 4) {
    const v = rng();
    bytes[i] = v & 0xff;
    bytes[i + 1] = (v >>> 8) & 0xff;
    bytes[i + 2] = (v >>> 16) & 0xff;
    bytes[i + 3] = v >>> 24;
  }
  if (i < bytes.length) {
    let v = rng();
    for (; i < bytes.length; i++) {
      bytes[i] = v & 0xff;
      v >>>= 8;
    }
  }
  return bytes;
}
