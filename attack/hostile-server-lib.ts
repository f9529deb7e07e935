/**
 * Attack round 11: helpers to run the real forum-client (piped, as a script runs it) against a
 * fake forum server built from forum-protocol's codec and rudpx's listen(), with a TCP transfer
 * port whose sealed side the caller plays. Measures what the client does: exit status, time,
 * peak resident memory (VmHWM, polled from /proc), raw control characters in its output, files
 * left in its directory.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reply, Request, SecureTransferChannel, ServerMessage } from '../packages/forum-protocol/dist/index.js';
import { grantReply, loginReply, startFakeServer, type FakeForumServer } from '../packages/client/test/fake-forum-server.js';

export const CLIENT_BIN = process.env.A11_CLIENT_BIN ?? new URL('../packages/client/bin/forum-client.js', import.meta.url).pathname;
/** What forum-client may print besides text: only the newline that ends each line. */
export const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** The fake server's answer to one request: a reply, several messages, or nothing. */
export type Answer = ServerMessage | readonly (ServerMessage | Uint8Array)[] | undefined;

/** A login that always succeeds (and XIT); `undefined` for other commands. */
export const login = loginReply;

/** A transfer grant for `req` on the fake's TCP port (the direction is the attack's, not the command's). */
export const grant = (req: Request, tcpPort: number, direction: 'upload' | 'download', completionLine = 'done'): Reply => {
  const g = grantReply(req, tcpPort, completionLine);
  return g.data.kind === 'transfer' ? { ...g, data: { ...g.data, direction } } : g;
};

/**
 * The client tests' fake server (packages/client/test/fake-forum-server.ts), asked every request,
 * login included; `onTransfer` gets each TCP transfer connection's sealed channel.
 */
export const fakeServer = (
  answer: (req: Request, tcpPort: number) => Answer | Promise<Answer>,
  onTransfer?: (channel: SecureTransferChannel, socket: net.Socket) => void,
): Promise<FakeForumServer> =>
  startFakeServer(
    async (req, tcpPort) => {
      const a = await answer(req, tcpPort);
      return a === undefined ? [] : Array.isArray(a) ? a : [a as ServerMessage];
    },
    onTransfer,
    { answersLogin: true },
  );

export interface ClientRun {
  /** Exit status, or `'running'` if it was still running at the deadline (then killed). */
  readonly code: number | 'running';
  readonly seconds: number;
  /** Peak resident set, MiB (VmHWM). */
  readonly peakMiB: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Raw control characters printed (stdout and stderr). */
  readonly rawControls: number;
  readonly files: readonly string[];
  readonly cwd: string;
}

const vmHwmMiB = (pid: number): number | undefined => {
  try {
    const m = /VmHWM:\s+([0-9]+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Math.round(Number(m[1]) / 1024);
  } catch {
    return undefined;
  }
};

/** Runs forum-client against `port` with `lines` piped in, in `cwd` (a fresh one by default), for at most `deadlineS`. */
export const runClient = async (port: number, lines: readonly string[], deadlineS: number, opts: { cwd?: string; args?: readonly string[] } = {}): Promise<ClientRun> => {
  const cwd = opts.cwd ?? (await mkdtemp(join(tmpdir(), 'a11-client-')));
  const args = opts.args ?? [];
  const knownHosts = args.includes('--known-hosts') ? [] : ['--known-hosts', join(cwd, '..', `a11-kh-${process.pid}-${port}`)];
  const child = spawn(process.execPath, [CLIENT_BIN, String(port), ...knownHosts, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.on('error', () => undefined);
  child.stdin.end(lines.map((l) => `${l}\n`).join(''));
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, vmHwmMiB(child.pid ?? 0) ?? 0)), 20);
  const started = performance.now();
  const exited = new Promise<number>((r) => child.once('close', (c, s) => r(c ?? (s === null ? -1 : 128))));
  const code = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), deadlineS * 1000))]);
  clearInterval(sampler);
  if (code === 'running') child.kill('SIGKILL');
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  const files = (await readdir(cwd)).sort();
  return { code, seconds, peakMiB: peak, stdout, stderr, rawControls: (stdout + stderr).match(RAW_CONTROL)?.length ?? 0, files, cwd };
};

/** One line of figures for README-11. */
export const summary = (label: string, r: ClientRun): string =>
  `[${label}] exit ${String(r.code)} after ${r.seconds} s, peak RSS ${r.peakMiB} MiB, ${r.rawControls} raw control chars, files: ${r.files.join(', ') || '(none)'}`;
