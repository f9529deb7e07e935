/**
 * Helpers of the client's binary-level tests: the forum-client binary under
 * a pseudo-terminal (util-linux `script`), a data directory prepared with a
 * large upload, and waiting for a directory entry.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLIENT_BIN, ownKnownHosts, P, type Proc } from '../../server/test/forum-processes.js';

/** True when util-linux `script` can give a child a pseudo-terminal here. */
export const HAVE_SCRIPT = spawnSync('script', ['--version'], { encoding: 'utf8' }).stdout?.includes('util-linux') === true;

const shellQuote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

/** Collected output of a process, with a way to wait for a piece of it. */
class Screen {
  text = '';
  private readonly waiters: { test: RegExp; resolve: () => void }[] = [];
  push(s: string): void {
    this.text += s;
    for (const w of [...this.waiters]) {
      if (w.test.test(this.text)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }
  /** Resolves once the output so far matches `test` (a string: contains it); rejects after `timeoutMs`. */
  waitFor(test: RegExp | string, timeoutMs = 15_000): Promise<void> {
    const re = typeof test === 'string' ? new RegExp(test.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : test;
    if (re.test(this.text)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${String(re)}; got:\n${JSON.stringify(this.text)}`)), timeoutMs);
      this.waiters.push({ test: re, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }
}

/** forum-client running on a pseudo-terminal: what it shows (stdout and stderr, as a terminal mixes them) and keys to type. */
export interface TerminalClient {
  readonly screen: Screen;
  /** Types `keys` (`\r` is Enter, `\x03` Ctrl-C). */
  type(keys: string): void;
  /** Resolves with the client's exit code (`script -e` passes it on). */
  readonly exited: Promise<number>;
  kill(): void;
}

/** How the pseudo-terminal is set up. */
export interface TerminalOptions {
  /** Its width (`stty cols`); without it the pseudo-terminal has size 0 and the client assumes 80. */
  readonly columns?: number;
}

/** Starts forum-client against `port` in `cwd` on a pseudo-terminal. */
export const spawnTerminalClient = (port: number, cwd: string, extraArgs: readonly string[] = [], options: TerminalOptions = {}): TerminalClient => {
  // Its own known-hosts file, never the user's: another run's server may have had this port with another key.
  const client = [process.execPath, CLIENT_BIN, String(port), ...ownKnownHosts(extraArgs), ...extraArgs].map(shellQuote).join(' ');
  const command = options.columns === undefined ? client : `stty cols ${options.columns} rows 50 && exec ${client}`;
  // -q: no "Script started" lines; -e: exit with the child's code; -c: run this; /dev/null: no typescript file.
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
  const screen = new Screen();
  child.stdout.setEncoding('utf8').on('data', (s: string) => screen.push(s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => screen.push(s));
  child.stdin.on('error', () => undefined);
  return {
    screen,
    type: (keys) => void child.stdin.write(keys),
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal === null ? -1 : 128)))),
    kill: () => void child.kill('SIGKILL'),
  };
};

/** Logs `t` in as `username` with `password` (an existing account), typed at its prompts; resolves at the command prompt. */
export const loginAtTerminal = async (t: TerminalClient, username: string, password: string): Promise<void> => {
  await t.screen.waitFor(P.user);
  t.type(`${username}\r`);
  await t.screen.waitFor(P.pass);
  t.type(`${password}\r`);
  await t.screen.waitFor(P.cmd);
};

/** A sparse file of `bytes` (reads as zeros, takes no disk): a transfer long enough to interrupt. */
export const sparseFile = async (path: string, bytes: number): Promise<void> => {
  const h = await open(path, 'w');
  await h.truncate(bytes);
  await h.close();
};

/** Makes `dataDir` hold account yoda/pw and thread `t` (by yoda) with upload `name` of `bytes` sparse bytes. */
export const dataWithUpload = async (dataDir: string, name: string, bytes: number): Promise<void> => {
  await mkdir(dataDir, { recursive: true });
  await writeFile(join(dataDir, 'credentials.txt'), 'yoda pw\n');
  await writeFile(join(dataDir, 't'), `yoda\nyoda uploaded ${name}\n`);
  await sparseFile(join(dataDir, `t-${name}`), bytes);
};

/** Stops a process (SIGSTOP) until the returned function resumes it (SIGCONT; safe to call twice). */
export const pause = (proc: Proc): (() => void) => {
  proc.child.kill('SIGSTOP');
  let resumed = false;
  return () => {
    if (resumed) return;
    resumed = true;
    proc.child.kill('SIGCONT');
  };
};
