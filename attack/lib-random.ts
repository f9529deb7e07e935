/**
 * The attack scripts' seeded generator (mulberry32): a script's runs repeat for a seed, so a figure in its
 * README can be had again. Not rudpx's `createRandom` (xoshiro128**): the scripts' published figures were
 * drawn with this one.
 */
export const mulberry32 = (seed: number): (() => number) => {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};
