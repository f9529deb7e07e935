/** Bytes for people: `512 B`, `1.5 KiB`, `400.0 MiB`, `1.20 GiB`. */
export const formatBytes = (bytes: number): string => {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'] as const;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit >= 2 ? 2 : 1)} ${units[unit]}`;
};

/** A duration for people: `7s`, `2m 05s`, `1h 04m`. */
export const formatDuration = (seconds: number): string => {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
};

/**
 * The transfer rate over the last `windowMs`: a recent rate follows a link
 * that speeds up or stalls, where the average since the start would lag.
 */
export class RateMeter {
  private readonly samples: { readonly at: number; readonly bytes: number }[] = [];

  constructor(private readonly windowMs = 3_000) {}

  /** `totalBytes` have moved by time `nowMs`. */
  record(totalBytes: number, nowMs: number): void {
    this.samples.push({ at: nowMs, bytes: totalBytes });
    // Keep one sample older than the window, so the window is always covered.
    while (this.samples.length > 2 && (this.samples[1]?.at ?? nowMs) <= nowMs - this.windowMs) this.samples.shift();
  }

  /** Bytes per second, or `undefined` before two samples 100 ms apart (too early to tell). */
  rate(): number | undefined {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (first === undefined || last === undefined || last.at - first.at < 100) return undefined;
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }
}

/** `180.0 MiB of 400.0 MiB · 52.3 MiB/s · 4s left`; rate and time left read `…` until known. */
export const statusText = (done: number, total: number, rate: number | undefined): string => {
  const speed = rate === undefined ? '…' : `${formatBytes(rate)}/s`;
  const left = rate === undefined ? '…' : rate <= 0 ? 'stalled' : `${formatDuration((total - done) / rate)} left`;
  return `${formatBytes(done)} of ${formatBytes(total)} · ${speed} · ${left}`;
};
