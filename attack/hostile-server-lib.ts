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
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, deriveTransferKeys, encodeServerMessage, SecureTransferChannel, sessionExporter, simpleReply, type Reply, type Request, type ServerMessage } from '../packages/forum-protocol/dist/index.js';
import { listen, type RudpConnection } from '../packages/rudp/dist/index.js';

export const CLIENT_BIN = process.env.A11_CLIENT_BIN ?? new URL('../packages/client/bin/forum-client.js', import.meta.url).pathname;
export const TOKEN = 'cd'.repeat(32);
/** What forum-client may print besides text: only the newline that ends each line. */
export const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** The fake server's answer to one request: a reply, several messages, or nothing. */
export type Answer = ServerMessage | readonly (ServerMessage | Uint8Array)[] | undefined;

export interface FakeServer {
  readonly port: number;
  readonly tcpPort: number;
  close(): Promise<void>;
}

/** A login that always succeeds. */
export const login = (req: Request): Reply | undefined =>
  req.cmd === 'username'
    ? simpleReply(req.id, 'ok', [], { kind: 'auth', next: 'password' })
    : req.cmd === 'password'
      ? simpleReply(req.id, 'ok', ['Welcome to the forum'], { kind: 'auth', next: 'command' })
      : req.cmd === 'XIT'
        ? simpleReply(req.id, 'ok', ['Goodbye'], { kind: 'goodbye' })
        : undefined;

/** A transfer grant for `req` on the fake's TCP port. */
export const grant = (req: Request, tcpPort: number, direction: 'upload' | 'download', completionLine = 'done'): Reply =>
  simpleReply(req.id, 'ok', [], { kind: 'transfer', direction, thread: req.args[0] ?? 't', filename: req.args[1] ?? 'f', port: tcpPort, token: TOKEN, size: null, completionLine });

/**
 * Starts the fake: `answer` is asked for each request (after `login`'s, unless it answers those too);
 * `onTransfer` gets each TCP transfer connection's sealed channel (keys of the session) after its token line.
 */
export const fakeServer = async (
  answer: (req: Request, conn: RudpConnection, tcpPort: number) => Answer | Promise<Answer>,
  onTransfer: (channel: SecureTransferChannel, socket: net.Socket) => void = (ch) => void ch.destroy(),
): Promise<FakeServer> => {
  let session: RudpConnection | undefined;
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      const nl = head.indexOf('\n');
      if (nl < 0 || session === undefined) return;
      socket.off('data', onData);
      const rest = Buffer.from(head.slice(nl + 1), 'latin1');
      const ch = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(session), head.slice(0, nl)), 'server', undefined, { smallReadHold: false });
      ch.on('error', () => undefined);
      if (rest.length > 0) socket.unshift(rest);
      onTransfer(ch, socket);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
  const tcpPort = (tcp.address() as net.AddressInfo).port;
  const udp = await listen({ port: 0 });
  udp.on('connection', (conn) => {
    session = conn;
    conn.on('error', () => undefined);
    conn.on('message', (bytes) => {
      const r = decode(bytes);
      if (r._tag === 'Left') return;
      void Promise.resolve(answer(r.right, conn, tcpPort)).then((a) => {
        const all = a === undefined ? [] : Array.isArray(a) ? a : [a as ServerMessage];
        for (const m of all) void conn.send(m instanceof Uint8Array ? m : encodeServerMessage(m)).catch(() => undefined);
      });
    });
  });
  return {
    port: udp.address().port,
    tcpPort,
    close: async () => {
      for (const s of sockets) s.destroy();
      tcp.close();
      await udp.close();
    },
  };
};

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
  const exited = new Promise<number>((r) => child.once('exit', (c, s) => r(c ?? (s === null ? -1 : 128))));
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
