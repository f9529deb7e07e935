/** The median and the "median (min–max)" cell the comparison tools print for their rounds. */

/** Median of `a` (the mean of the middle two for an even count). */
export const median = (a: readonly number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** `median M (min–max)` with `digits` decimals. */
export const cell = (a: readonly number[], digits = 2): string => `median ${median(a).toFixed(digits)} (${Math.min(...a).toFixed(digits)}–${Math.max(...a).toFixed(digits)})`;
