/** The median and range of one figure over the seeds of a scenario. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** How many finite values there were. */
  readonly count: number;
}

/** Median (mean of the middle two for an even count), min and max of the finite values; NaN figures when none are. */
export function spread(values: readonly number[]): Spread {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, count: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
  return { median, min: v[0] as number, max: v[v.length - 1] as number, count: v.length };
}

/** `median (min–max)`, or just the value when every seed gave the same figure or there was one seed. */
export function formatSpread(s: Spread, format: (value: number) => string): string {
  const m = format(s.median);
  if (s.count <= 1) return m;
  const lo = format(s.min);
  const hi = format(s.max);
  return lo === hi ? m : `${m} (${lo}–${hi})`;
}

/** Groups items by a key, keeping first-seen order of keys. */
export function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/** `list` started at its `(shift mod length)`-th element. */
export function rotated<T>(list: readonly T[], shift: number): T[] {
  if (list.length === 0) return [];
  const k = ((shift % list.length) + list.length) % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}
