/**
 * Helpers of the client's binary-level tests: the forum-client binary under
 * a pseudo-terminal (util-linux `script`), a data directory prepared with a
 * large upload, a test's own clean-up scope (for tests run side by side), a
 * server shared by a file's tests, and a login that makes thread `t`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, type TestContext } from 'vitest';
import { cleanup, CLIENT_BIN, OUTPUT_WAIT_MS, ownKnownHosts, ownScope, P, spawnClient, startServer, tempDir, type Proc, type ServerProc, type TestScope } from '../../server/test/forum-processes.js';

/** The server helpers' per-test scope (for tests run side by side), here beside the client's own helpers. */
export { ownScope };

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
  /**
   * Resolves once the output so far matches `test` (a string: contains it); rejects after `timeoutMs`: by default
   * OUTPUT_WAIT_MS, as the piped clients' waits (what is waited for is mostly a client's start or login, CPU).
   */
  waitFor(test: RegExp | string, timeoutMs = OUTPUT_WAIT_MS): Promise<void> {
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
  /** Resolves with the client's exit code (`script -e` passes it on; 128 for a signal) once its output has all been read. */
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
    exited: new Promise((resolve) => child.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve(code ?? (signal === null ? -1 : 128)))),
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

/** {@link ownScope} with a way to make a working directory in it (`label` names it), for tests that take their directories one by one. */
export const ownScopeWithCwd = (test: Pick<TestContext, 'onTestFinished'>, label: string): TestScope & { cwd(): Promise<string> } => {
  const scope = ownScope(test);
  return {
    ...scope,
    cwd: async () => {
      const dir = await tempDir(label);
      scope.dirs.push(dir);
      return dir;
    },
  };
};

/** One server for a file's tests (started before the first, stopped after the last), and working directories of their own. */
export interface SharedServer {
  /** The server (once the file's tests run). */
  readonly server: ServerProc;
  /** A fresh working directory, removed after the file. */
  cwd(): Promise<string>;
}

/**
 * Call inside a `describe`: a server on a fresh data directory shared by its tests (a server start is some
 * 0.5 s of CPU, seconds on a loaded machine). For tests that neither stop, pause nor fill it, each with
 * usernames of its own, and that look only at their own users' lines of its log.
 */
export const sharedServer = (args: readonly string[] = []): SharedServer => {
  const dirs: string[] = [];
  let running: ServerProc | undefined;
  beforeAll(async () => {
    const data = await tempDir('data');
    dirs.push(data);
    running = await startServer(data, args);
  });
  afterAll(async () => {
    await running?.stop();
    await cleanup(...dirs.splice(0));
  });
  return {
    get server(): ServerProc {
      if (running === undefined) throw new Error('the shared server runs only while the tests do');
      return running;
    },
    cwd: async () => {
      const dir = await tempDir('cwd');
      dirs.push(dir);
      return dir;
    },
  };
};

/** spawnClient with `env` added to this process's environment for the child alone (set and restored around the spawn, which copies it). */
export const spawnClientWithEnv = (env: Readonly<Record<string, string>>, port: number, cwd: string, extraArgs: readonly string[] = []): ReturnType<typeof spawnClient> => {
  const before = Object.keys(env).map((k) => [k, process.env[k]] as const);
  Object.assign(process.env, env);
  try {
    return spawnClient(port, cwd, extraArgs);
  } finally {
    for (const [k, v] of before) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
};

/**
 * Logs the piped client `c` in as yoda/pw (a new account on a fresh server) and creates thread `t`; resolves at
 * the prompt after `Thread t created`.
 */
export const loggedInWithThread = async (c: ReturnType<typeof spawnClient>): Promise<void> => {
  c.send('yoda');
  c.send('pw');
  c.send('CRT t');
  await c.stdout.waitFor(`Thread t created\n${P.cmd}`);
};
