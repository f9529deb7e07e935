import { afterEach, it, type TestContext } from 'vitest';
/**
 * Test helpers: run the real forum-server and forum-client binaries (built
 * by `pnpm build`) as child processes on loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, watch } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SERVER_BIN = fileURLToPath(new URL('../bin/forum-server.js', import.meta.url));
export const CLIENT_BIN = fileURLToPath(new URL('../../client/bin/forum-client.js', import.meta.url));

/** The exact prompts of forum-spec.md. */
export const P = {
  user: 'Enter username: ',
  pass: 'Enter password: ',
  newPass: 'New user, enter password: ',
  cmd: 'Enter one of the following commands: CRT, MSG, DLT, EDT, LST, RDT, UPD, DWN, RMV, XIT: ',
} as const;

/** The stdout of a command prompt answered by `lines`. */
export const answered = (...replies: (readonly string[])[]): string => replies.map((r) => P.cmd + r.map((l) => `${l}\n`).join('')).join('');

/** The server's identity key file in its data directory (e2e-identity.test.ts checks it); tree listings leave it out. */
export const IDENTITY_FILE = '.forum-server-identity';

/** The lock file a running server holds in its data directory (e2e-data-dir-lock.test.ts checks it); tree listings leave it out. */
export const LOCK_FILE = '.forum-server.lock';

/**
 * Where the data directory keeps each account's origin, the host that created it (forum-protocol's
 * account-origins.ts; e2e-origin-shares.test.ts and file-store-origin-shares.test.ts check it): the server's
 * bookkeeping beside the spec's files, which tree listings leave out.
 */
export const ORIGINS_FILE = '.forum-account-origins';

/** Whether `name` is one of the server's own files in a data directory, not forum data in the spec's formats. */
export const isServerOwnFile = (name: string): boolean => name === IDENTITY_FILE || name === LOCK_FILE || name === ORIGINS_FILE;

/** `stderr` of a client without the three lines it prints on first contact with a server (it trusts and records the key). */
export const withoutFirstContact = (stderr: string): string =>
  stderr.replace(/^The server at \S+ is not in .* yet\.\nIts identity key fingerprint is \S+\.\nTrusting it from now on .*\n/m, '');

/**
 * Each client spawned gets its own known-hosts file here, never the user's: tests start many
 * servers, each with a new key, on ports an earlier test's server may have had.
 */
const knownHostsDir = mkdtempSync(join(tmpdir(), 'forum-e2e-known-hosts-'));
process.on('exit', () => rmSync(knownHostsDir, { recursive: true, force: true }));
let knownHostsFiles = 0;

/** `--known-hosts` with a new file of its own for a client, unless `extraArgs` name one. */
export const ownKnownHosts = (extraArgs: readonly string[]): string[] =>
  extraArgs.includes('--known-hosts') ? [] : ['--known-hosts', join(knownHostsDir, `known_hosts-${++knownHostsFiles}`)];

/** A fresh temporary directory. */
export const tempDir = (label: string): Promise<string> => mkdtemp(join(tmpdir(), `forum-e2e-${label}-`));

/** Every file under `dir`, recursively, as paths relative to it ('/'-separated, sorted); directories end with '/'. */
export const walkTree = async (dir: string, prefix = ''): Promise<string[]> => {
  const out: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (isServerOwnFile(entry.name)) continue;
    if (entry.isDirectory()) out.push(`${rel}/`, ...(await walkTree(dir, rel)));
    else out.push(rel);
  }
  return out.sort();
};

/** Every file of `dir` (name → bytes), skipping the server's identity key and lock. */
export const snapshotDir = async (dir: string): Promise<Map<string, Buffer>> => {
  const out = new Map<string, Buffer>();
  for (const name of (await readdir(dir)).sort()) if (!isServerOwnFile(name)) out.set(name, await readFile(join(dir, name)));
  return out;
};

/**
 * How long a wait for a process's output, or for a file it makes, gives up after by default, ms: what it waits for is
 * mostly a process start or a login, CPU. At load 26-30 on 2 cores a server had not said `Waiting for clients`, clients
 * had not shown the welcome, and a piped DWN's temporary file was not there after the 15 s it was. Under the configuration's 60 s test timeout, so a stuck wait still says what it got.
 */
export const OUTPUT_WAIT_MS = 45_000;

/** Collected output of a child process, with a way to wait for a piece of it. */
class Output {
  text = '';
  private readonly waiters: { done: (text: string) => boolean; resolve: () => void }[] = [];
  constructor(stream: NodeJS.ReadableStream | null) {
    stream?.setEncoding('utf8');
    stream?.on('data', (s: string) => {
      this.text += s;
      for (const w of [...this.waiters]) {
        if (w.done(this.text)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    });
  }
  /** Resolves once `needle` has appeared; rejects after `timeoutMs`. */
  waitFor(needle: string, timeoutMs = OUTPUT_WAIT_MS): Promise<void> {
    return this.waitUntil((text) => text.includes(needle), JSON.stringify(needle), timeoutMs);
  }
  /** Resolves once the whole output so far matches `pattern`; rejects after `timeoutMs`. */
  waitForMatch(pattern: RegExp, timeoutMs = OUTPUT_WAIT_MS): Promise<void> {
    return this.waitUntil((text) => pattern.test(text), String(pattern), timeoutMs);
  }
  private waitUntil(done: (text: string) => boolean, what: string, timeoutMs: number): Promise<void> {
    if (done(this.text)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got:\n${this.text}`)), timeoutMs);
      this.waiters.push({ done, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }
}

/** A running child process. */
export interface Proc {
  readonly child: ChildProcess;
  readonly stdout: Output;
  readonly stderr: Output;
  /** Resolves with the exit code (or the signal name) once the process has ended and its output has all been read. */
  readonly exited: Promise<number | string>;
}

/**
 * Collects a child's output and its end. The end is `'close'`, not `'exit'`: a process's `'exit'` may come
 * before the parent has read the last of its pipes, and a client's last line, written just before it exited,
 * was missing from what a test read (CI at load, e2e-login-fault: its final "Login not completed" line).
 */
export const track = (child: ChildProcess): Proc => ({
  child,
  stdout: new Output(child.stdout),
  stderr: new Output(child.stderr),
  exited: new Promise((resolve) => child.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve(code ?? signal ?? -1))),
});

/** Spawns forum-server with `args` and does not wait for it to be ready: for tests of the start itself. */
export const spawnServer = (args: readonly string[]): Proc => track(spawn(process.execPath, [SERVER_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));

/** A running forum-server. */
export interface ServerProc extends Proc {
  readonly port: number;
  readonly tcpPort: number;
  readonly dataDir: string;
  /** Server stdout lines so far. */
  lines(): string[];
  stop(): Promise<void>;
}

/**
 * Starts forum-server on an ephemeral port in `dataDir` and waits for `Waiting for clients`. `cwd`: the server's working
 * directory (default: inherited); `env`: variables added to the inherited environment.
 */
export const startServer = async (dataDir: string, extraArgs: readonly string[] = [], cwd?: string, env: Readonly<Record<string, string>> = {}): Promise<ServerProc> => {
  const proc = track(
    spawn(process.execPath, [SERVER_BIN, '0', '--data-dir', dataDir, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, ...(cwd === undefined ? {} : { cwd }) }),
  );
  // A server that exits at start-up is reported at once, with what it said, not after the wait times out.
  const died = proc.exited.then((code) => {
    throw new Error(`forum-server exited (${code}) before it was ready: ${proc.stderr.text.trim()}`);
  });
  died.catch(() => undefined);
  await Promise.race([Promise.all([proc.stdout.waitFor('Waiting for clients\n'), proc.stderr.waitFor('data directory')]), died]);
  const m = /UDP [^ ]+:([0-9]+), TCP ([0-9]+)/.exec(proc.stderr.text);
  if (m === null) throw new Error(`no port line: ${proc.stderr.text}`);
  return {
    ...proc,
    port: Number(m[1]),
    tcpPort: Number(m[2]),
    dataDir,
    lines: () => proc.stdout.text.split('\n').filter((l) => l !== ''),
    stop: async () => {
      if (proc.child.exitCode === null && proc.child.signalCode === null) {
        proc.child.kill('SIGTERM');
        await proc.exited;
      }
    },
  };
};

/** Starts forum-client against `port` in `cwd`, stdin piped and left open. */
export const spawnClient = (port: number, cwd: string, extraArgs: readonly string[] = []): Proc & { send(line: string): void; end(): void } => {
  const knownHosts = ownKnownHosts(extraArgs);
  const proc = track(spawn(process.execPath, [CLIENT_BIN, String(port), ...knownHosts, ...extraArgs], { cwd, stdio: ['pipe', 'pipe', 'pipe'] }));
  proc.child.stdin?.on('error', () => undefined);
  return { ...proc, send: (line) => void proc.child.stdin?.write(`${line}\n`), end: () => void proc.child.stdin?.end() };
};

/** What a finished client printed. */
export interface ClientRun {
  readonly code: number | string;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs forum-client (with `extraArgs`) with `input` lines on stdin (then end of input) and waits for it to exit. */
export const runClient = async (port: number, cwd: string, input: readonly string[], extraArgs: readonly string[] = []): Promise<ClientRun> => {
  const c = spawnClient(port, cwd, extraArgs);
  c.child.stdin?.end(input.map((l) => `${l}\n`).join(''));
  const code = await c.exited;
  return { code, stdout: c.stdout.text, stderr: c.stderr.text };
};

/** Removes temporary directories. */
export const cleanup = async (...dirs: string[]): Promise<void> => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
};

/** `n` pseudo-random bytes from `seed` (xorshift32): the same bytes every run. */
export const seededBytes = (n: number, seed: number): Buffer => {
  const words = new Uint32Array(Math.ceil(n / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return Buffer.from(words.buffer, 0, n);
};

/** What a test started, to be stopped and removed after it. */
export interface TestScope {
  readonly dirs: string[];
  readonly servers: ServerProc[];
  readonly stops: (() => void)[];
  /** Asynchronous ends (sockets, rudp servers of a test's own), awaited after `stops`, before `servers` stop. */
  readonly closers: (() => Promise<void>)[];
  /** A server on a fresh data directory (its environment `env` added) plus a fresh working directory for clients, both cleaned up. */
  startInTemp(args?: readonly string[], env?: Readonly<Record<string, string>>): Promise<{ server: ServerProc; cwd: string }>;
}

/** A new scope: nothing started yet. */
const newScope = (): TestScope => {
  const scope: TestScope = {
    dirs: [],
    servers: [],
    stops: [],
    closers: [],
    startInTemp: async (args = [], env = {}) => {
      const data = await tempDir('data');
      const cwd = await tempDir('cwd');
      scope.dirs.push(data, cwd);
      const server = await startServer(data, args, undefined, env);
      scope.servers.push(server);
      return { server, cwd };
    },
  };
  return scope;
};

/** Runs `scope`'s `stops`, awaits its `closers`, stops its `servers` and removes its `dirs`. */
const endScope = async (scope: TestScope): Promise<void> => {
  scope.stops.splice(0).forEach((s) => s());
  // Every closer runs, and the servers stop, even if one rejects (a relay thread that failed says so at its close).
  const closed = await Promise.allSettled(scope.closers.splice(0).map((c) => c()));
  await Promise.all(scope.servers.splice(0).map((s) => s.stop()));
  await cleanup(...scope.dirs.splice(0));
  const failed = closed.find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
};

/** Call inside a `describe`: after each test, runs `stops`, awaits `closers`, stops `servers` and removes `dirs`. */
export const cleanupAfterEach = (): TestScope => {
  const scope = newScope();
  afterEach(() => endScope(scope));
  return scope;
};

/**
 * A scope of the test whose context is `test`, ended when that test finishes: for tests run side by side
 * (`describe.concurrent`) whose scope is made inside the test. The context's own `onTestFinished`: the global one does
 * not know which of the tests running side by side calls it, and ended another test's processes.
 */
export const ownScope = (test: Pick<TestContext, 'onTestFinished'>): TestScope => {
  const scope = newScope();
  test.onTestFinished(() => endScope(scope));
  return scope;
};

/**
 * `it` whose tests get a fixture of their own (`f`, made by `make`), ended (`f.end()`) after the test: for tests run
 * at once (`describe.concurrent`), each on servers and sockets of its own.
 */
export const itWithFixture = <F extends { end(): Promise<void> }>(make: () => F) =>
  it.extend<{ f: F }>({
    // vitest reads which fixtures this one uses from its first parameter's pattern: none.
    f: async ({}, use) => {
      const f = make();
      await use(f);
      await f.end();
    },
  });

/**
 * `it` whose tests get a {@link TestScope} of their own (`scope` in the test's context), ended after the test:
 * for tests that run at once (`describe.concurrent`), where one shared scope's `afterEach` would stop another's servers.
 */
export const itWithScope = it.extend<{ scope: TestScope }>({
  // vitest reads which fixtures this one uses from its first parameter's pattern: none.
  scope: async ({}, use) => {
    const scope = newScope();
    await use(scope);
    await endScope(scope);
  },
});

/** Resolves with the first entry of `dir` that `test` accepts, already there or created later; rejects after `timeoutMs`. */
export const waitForEntry = (dir: string, test: (name: string) => boolean, timeoutMs = OUTPUT_WAIT_MS): Promise<string> =>
  new Promise((resolve, reject) => {
    const watcher = watch(dir);
    const timer = setTimeout(() => finish(new Error(`no matching entry in ${dir} within ${timeoutMs} ms`)), timeoutMs);
    let done = false;
    function finish(result: string | Error): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      watcher.close();
      if (typeof result === 'string') resolve(result);
      else reject(result);
    }
    watcher.on('change', (_event, name) => {
      if (typeof name === 'string' && test(name)) finish(name);
    });
    watcher.on('error', (e) => finish(e));
    void readdir(dir).then((names) => {
      const found = names.find(test);
      if (found !== undefined) finish(found);
    });
  });

/** Resolves once `dir`'s entries satisfy `until` (checked on every change); rejects after `timeoutMs`, saying `what` did not happen. */
export const waitForEntries = (dir: string, until: (names: readonly string[]) => boolean, what: string, timeoutMs = OUTPUT_WAIT_MS): Promise<void> =>
  new Promise((resolve, reject) => {
    const watcher = watch(dir);
    const timer = setTimeout(() => finish(new Error(`${what} after ${timeoutMs} ms`)), timeoutMs);
    let done = false;
    function finish(error?: Error): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      watcher.close();
      if (error === undefined) resolve();
      else reject(error);
    }
    const check = (): void => void readdir(dir).then((names) => (until(names) ? finish() : undefined), finish);
    watcher.on('change', check);
    watcher.on('error', (e) => finish(e));
    check();
  });

/** Resolves once `dir` has no entry that `test` accepts (checked on every change); rejects after `timeoutMs`. */
export const waitForNoEntry = (dir: string, test: (name: string) => boolean, timeoutMs = OUTPUT_WAIT_MS): Promise<void> =>
  waitForEntries(dir, (names) => !names.some(test), `entries of ${dir} still there`, timeoutMs);
