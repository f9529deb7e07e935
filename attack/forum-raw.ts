/** Helpers of the round-8 attack scripts: the built server as a child process, raw pipelined sessions, sealed transfers. */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { decodeServerMessage, deriveTransferKeys, encodeRequest, SecureTransferChannel, sessionExporter, TransferChannelError, type Reply, type RequestCommand } from '../packages/forum-protocol/dist/index.js';
import { connect, type RudpConnection } from '../packages/rudp/dist/index.js';

/** The built server; `A10_SERVER_BIN` names another build of it (a before/after comparison). */
export const SERVER_BIN = process.env.A10_SERVER_BIN ?? new URL('../packages/server/bin/forum-server.js', import.meta.url).pathname;

export interface Server {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  out: string;
}
/** How {@link startServer} runs node: options before the server (a preload, `--import x.mjs`), and environment variables added. */
export interface Launch {
  readonly nodeArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** How long to wait for `Waiting for clients` (default 10 s; a large data directory takes longer to read). */
  readonly startMs?: number;
}
export const startServer = async (dir: string, port: number, tcp: number, extra: readonly string[] = [], launch: Launch = {}): Promise<Server> => {
  // With A10_LOOP_DELAY, through loop-delay.mjs: its event-loop delay is written to that file at each SIGUSR2.
  const wrap = process.env.A10_LOOP_DELAY === undefined ? [] : [new URL('./loop-delay.mjs', import.meta.url).pathname];
  const child = spawn(process.execPath, [...(launch.nodeArgs ?? []), ...wrap, SERVER_BIN, String(port), '--data-dir', dir, '--transfer-port', String(tcp), ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...launch.env },
  });
  const s: Server = { child, exited: new Promise((r) => child.once('exit', () => r())), out: '' };
  child.stdout?.on('data', (d: Buffer) => (s.out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (s.out += d.toString()));
  for (let i = 0; i < (launch.startMs ?? 10_000) / 50 && !s.out.includes('Waiting for clients'); i++) await new Promise((r) => setTimeout(r, 50));
  if (!s.out.includes('Waiting for clients')) {
    child.kill('SIGKILL');
    throw new Error(`server did not start: ${s.out}`);
  }
  return s;
};

/** Where and how a {@link rawConnection} connects. */
export interface RawOptions {
  /** Ends the connection; its requests waiting reject. */
  readonly signal?: AbortSignal;
  readonly localAddress?: string;
  /** How long its transport waits for a silent server (default 30 s). */
  readonly idleMs?: number;
}

/**
 * A raw connection, not logged in: `request` sends one request (pipelined: several may wait at once) and resolves
 * with its reply, or rejects once the connection closes or `signal` aborts.
 */
export const rawConnection = async (port: number, options: RawOptions = {}) => {
  const { signal, localAddress, idleMs = 30_000 } = options;
  const conn: RudpConnection = await connect({ port, idleTimeoutMs: idleMs, ...(localAddress === undefined ? {} : { localAddress }) });
  const waiting = new Map<string, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let id = 0;
  const failAll = (why: string): void => {
    for (const w of waiting.values()) w.reject(new Error(why));
    waiting.clear();
  };
  conn.on('message', (bytes) => {
    const m = decodeServerMessage(bytes);
    if (m._tag === 'Left' || m.right.type !== 'reply') return;
    const w = waiting.get(m.right.id);
    waiting.delete(m.right.id);
    w?.resolve(m.right);
  });
  conn.on('error', () => undefined);
  conn.on('close', () => failAll('closed'));
  signal?.addEventListener('abort', () => {
    failAll('aborted');
    conn.destroy();
  });
  const request = (cmd: RequestCommand, args: readonly string[]): Promise<Reply> => {
    if (signal?.aborted === true) return Promise.reject(new Error('aborted'));
    const key = String(++id);
    const p = new Promise<Reply>((resolve, reject) => waiting.set(key, { resolve, reject }));
    p.catch(() => undefined);
    conn.send(encodeRequest({ id: key, username: '', cmd, args })).catch(() => undefined);
    return p;
  };
  return { conn, request };
};

/** A pipelined raw session, logged in as `user` (password `pw-<user>`); `idleMs`: how long its transport waits for a silent server. */
export const session = async (port: number, user: string, signal: AbortSignal, localAddress?: string, idleMs = 30_000) => {
  const { conn, request } = await rawConnection(port, { signal, localAddress, idleMs });
  const u = await request('username', [user]);
  const next = u.data.kind === 'auth' ? u.data.next : 'password';
  const w = await request(next as RequestCommand, [`pw-${user}`]);
  if (w.lines[0] !== 'Welcome to the forum') throw new Error(`login ${user}: ${w.lines.join('|')}`);
  return { conn, request };
};
export type Session = Awaited<ReturnType<typeof session>>;

/** Upload over TCP (from `localAddress` if given); true when the server said OK. */
export const upload = (s: Session, reply: Reply, bytes: Buffer, signal: AbortSignal, localAddress?: string): Promise<boolean> =>
  uploadAnswer(s, reply, bytes, signal, localAddress).then((answer) => answer === 'OK\n');

/**
 * Upload over TCP (from `localAddress` if given); what the server answered on the transfer connection: its
 * sealed line, else a refusal it sent in clear before keys (`(in clear) ERR …`, as the channel reports it: the transfer
 * port's arrival refusals, such as its per-host connection cap, come so), else why the channel broke
 * (`(channel: …)`), else '' (closed with nothing).
 */
export const uploadAnswer = (s: Session, reply: Reply, bytes: Buffer, signal: AbortSignal, localAddress?: string): Promise<string> =>
  new Promise((resolve) => {
    if (reply.data.kind !== 'transfer') return resolve('');
    const { port, token } = reply.data;
    const socket = net.connect({ host: '127.0.0.1', port, ...(localAddress === undefined ? {} : { localAddress }) });
    let answer = '';
    // A refusal in clear (sent before keys) is no data: the channel reports it only as its error.
    let failure = '';
    const stop = (): void => void socket.destroy();
    signal.addEventListener('abort', stop);
    socket.on('error', () => undefined);
    // After the channel's own 'close' listener (added below) has failed it and its error (a nextTick) has come:
    // resolved at once, a connection closed bare read as '' with the channel's reason still to come.
    socket.on('close', () => setImmediate(() => resolve(answer !== '' ? answer : failure)));
    socket.write(`${token}\n`);
    const ch = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(s.conn), token), 'client');
    ch.on('error', (e: Error) => {
      failure ||= e instanceof TransferChannelError && e.code === 'ERR_TRANSFER_REFUSED' ? `(in clear) ERR ${e.message}\n` : `(channel: ${e.message})`;
    });
    ch.on('data', (b: Buffer) => (answer += b.toString()));
    ch.write(`${bytes.length}\n`);
    ch.end(bytes);
  });
/** Download over TCP (to and from `host`, 127.0.0.1 by default); the bytes, or a string saying why not. */
export const download = (s: Session, reply: Reply, signal: AbortSignal, host = '127.0.0.1'): Promise<Buffer | string> =>
  new Promise((resolve) => {
    if (reply.data.kind !== 'transfer') return resolve(reply.lines.join('|'));
    const { port, token } = reply.data;
    const socket = net.connect({ host, port, ...(host === '127.0.0.1' ? {} : { localAddress: host }) });
    const chunks: Buffer[] = [];
    let failure = '';
    const stop = (): void => void socket.destroy();
    signal.addEventListener('abort', stop);
    socket.on('error', () => undefined);
    socket.write(`${token}\n`);
    const ch = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(s.conn), token), 'client');
    ch.on('error', (e) => (failure ||= e.message));
    ch.on('data', (b: Buffer) => chunks.push(b));
    ch.on('end', () => ch.destroy());
    ch.on('close', () => {
      if (failure !== '') return resolve(failure);
      const all = Buffer.concat(chunks);
      const nl = all.indexOf(10);
      if (nl < 0) return resolve(`(closed: ${all.length} bytes, no header)`);
      const head = all.subarray(0, nl).toString();
      const m = /^OK ([0-9]+)$/.exec(head);
      if (m === null) return resolve(head);
      const body = all.subarray(nl + 1);
      resolve(body.length === Number(m[1]) ? body : `short ${body.length}/${m[1]}`);
    });
  });

