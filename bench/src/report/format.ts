/** Milliseconds with one decimal below 100 ms, none above; `—` for NaN. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return '—';
  return value < 100 ? value.toFixed(1) : value.toFixed(0);
}

/** A ratio with two decimals; `—` for NaN or infinity. */
export function ratio(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : '—';
}

/** A number with `digits` decimals; `—` when not finite. */
export function num(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '—';
}

/** Bytes as B or KiB. */
export function bytes(value: number): string {
  if (!Number.isFinite(value)) return '—';
  return Math.abs(value) < 1024 ? `${value.toFixed(0)} B` : `${(value / 1024).toFixed(2)} KiB`;
}

/** A Markdown table from a header row and data rows. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
