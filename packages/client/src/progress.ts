import cliProgress from 'cli-progress';

/** Reports bytes moved by a transfer. */
export interface Progress {
  add(bytes: number): void;
  stop(): void;
}

const SILENT: Progress = { add: () => undefined, stop: () => undefined };

/** A cli-progress bar on a terminal; nothing when output is piped (scripts compare it). */
export const createProgress = (label: string, totalBytes: number): Progress => {
  if (process.stdout.isTTY !== true) return SILENT;
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} bytes`, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(totalBytes, 0);
  let done = 0;
  return {
    add: (bytes) => {
      done += bytes;
      bar.update(done);
    },
    stop: () => bar.stop(),
  };
};
