/** Mean, median, 99th percentile and maximum of a sample. */
export interface Summary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * The `q`-quantile of an ascending-sorted sample by the nearest-rank method
 * (the smallest value with at least `q` of the sample at or below it), so
 * every reported percentile is a value that was actually measured.
 */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** Summarises a sample (NaN figures when it is empty). */
export function summarize(values: readonly number[]): Summary {
  const sorted = Float64Array.from(values).sort();
  const arr = Array.from(sorted);
  let sum = 0;
  for (const v of arr) sum += v;
  return {
    count: arr.length,
    mean: arr.length ? sum / arr.length : Number.NaN,
    p50: quantileSorted(arr, 0.5),
    p99: quantileSorted(arr, 0.99),
    max: arr.length ? (arr[arr.length - 1] as number) : Number.NaN,
  };
}
