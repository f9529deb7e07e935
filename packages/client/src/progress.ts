import { terminalText } from 'forum-protocol';
import type cliProgressModule from 'cli-progress';
import { createRequire } from 'node:module';
import { RateMeter, statusText } from './transfer-status.js';

/** Reports bytes moved by a transfer. */
export interface Progress {
  add(bytes: number): void;
  /** Removes the bar (the caller then prints how the transfer ended). */
  stop(): void;
}

const SILENT: Progress = { add: () => undefined, stop: () => undefined };

/** How often the status (rate, time left) is recomputed and drawn, ms. */
const REDRAW_MS = 200;

/**
 * A cli-progress bar on a terminal, with the size, rate and time left:
 * `Downloading big.bin [█████░░░░░] 45% | 180.0 MiB of 400.0 MiB · 52.3 MiB/s · 4s left`.
 * Nothing when output is piped (scripts compare it).
 */
export const createProgress = (label: string, totalBytes: number, output: NodeJS.WriteStream = process.stdout): Progress => {
  if (output.isTTY !== true) return SILENT;
  // The label is a value of the template, not part of it: cli-progress expands `{name}` in its format once, so a
  // file named `{value}` or `{bar}` in the format was drawn as the byte count or a second bar. Shown as any line
  // at a terminal is (controls and invisible characters as `<U+XXXX>`).
  // Loaded on the first bar, not at start: a client piped, or that transfers nothing, never draws one.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof cliProgressModule;
  const bar = new cliProgress.SingleBar(
    { format: '{label} [{bar}] {percentage}% | {status}', hideCursor: true, clearOnComplete: true, stream: output, fps: 1000 / REDRAW_MS },
    cliProgress.Presets.shades_classic,
  );
  const shownLabel = terminalText(label, { showInvisible: true });
  const meter = new RateMeter();
  const started = performance.now();
  meter.record(0, started);
  bar.start(totalBytes, 0, { label: shownLabel, status: statusText(0, totalBytes, undefined) });
  let done = 0;
  // Redrawn on a timer, not per chunk: a stalled transfer still shows its rate falling to 0.
  const timer = setInterval(() => {
    meter.record(done, performance.now());
    bar.update(done, { label: shownLabel, status: statusText(done, totalBytes, meter.rate()) });
  }, REDRAW_MS).unref();
  return {
    add: (bytes) => {
      done += bytes;
    },
    stop: () => {
      clearInterval(timer);
      bar.stop();
    },
  };
};
