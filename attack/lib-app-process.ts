/**
 * Attack round 13: attack/lib-app.ts started in a child process (under `--expose-gc`, so what its
 * figures show after a GC is held), with what the attacking scripts read of it: its port, its last
 * report line, its resident set and CPU from /proc.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** A running lib-app.ts. */
export interface LibApp {
  readonly port: number;
  /** Resident set, MiB. */
  rssMiB(): number;
  /** User + system CPU so far, ms. */
  cpuMs(): number;
  /** The app's last report line (its connections, heap, RSS and CPU, as JSON). */
  lastLine(): string;
  /** Kills it, and the attacker's own process when `hardStopMs` has passed. */
  stop(): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts lib-app.ts in `mode` for `seconds`; the attacking process exits (2) if still running after `hardStopMs`. */
export const startLibApp = async (mode: string, seconds: number, hardStopMs: number): Promise<LibApp> => {
  const app = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', new URL('./lib-app.ts', import.meta.url).pathname, mode, String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const hardStop = setTimeout(() => {
    app.kill('SIGKILL');
    process.exit(2);
  }, hardStopMs);
  let out = '';
  app.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  while (!/port (\d+)/.test(out)) await sleep(50);
  const port = Number(/port (\d+)/.exec(out)?.[1]);
  const pid = app.pid ?? 0;
  return {
    port,
    rssMiB: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024,
    cpuMs: () => {
      const f = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
      return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
    },
    lastLine: () => out.trim().split('\n').at(-1) ?? '',
    stop: () => {
      clearTimeout(hardStop);
      app.kill('SIGKILL');
    },
  };
};
