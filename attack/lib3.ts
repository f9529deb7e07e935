/**
 * Shared helpers of the helper/attack3 scripts (not an attack itself): start
 * the BUILT forum-server on a random port with a temp data dir, open raw
 * forum sessions over the BUILT rudpx node API (any 127.0.0.x source
 * address), and run TCP transfers with forum-client's own transfer code.
 * Every script that uses it installs a hard stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { connect, type RudpConnection } from '../packages/rudp/dist/index.js';
import { decodeServerMessage, encodeRequest, deriveTransferKeys, sessionExporter } from '../packages/forum-protocol/dist/index.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const BIN = new URL('../packages/server/bin/forum-server.js', import.meta.url).pathname;

export interface Server {
  readonly port: number;
  readonly dir: string;
  proc: ChildProcess;
  out: string;
  readonly args: readonly string[];
  stop(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  rssMiB(): number;
  cpuMs(): number;
}

/** Starts the built server; resolves once it prints `Waiting for clients`. */
export async function startServer(extra: readonly string[] = [], dir = mkdtempSync(join(tmpdir(), 'forum-attack3-')), port = 20000 + randomInt(30000)): Promise<Server> {
  const s: Server = {
    port,
    dir,
    proc: undefined as unknown as ChildProcess,
    out: '',
    args: extra,
    async stop(signal = 'SIGTERM') {
      const p = s.proc;
      if (p.exitCode !== null || p.signalCode !== null) return;
      await new Promise<void>((r) => {
        p.once('exit', () => r());
        p.kill(signal);
        setTimeout(() => p.kill('SIGKILL'), 3000).unref();
      });
    },
    async restart() {
      await s.stop();
      await launch();
    },
    rssMiB() {
      return +((Number(readFileSync(`/proc/${s.proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[21]) * 4096) / 2 ** 20).toFixed(1);
    },
    cpuMs() {
      const f = readFileSync(`/proc/${s.proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) * 10;
    },
  };
  const launch = async (): Promise<void> => {
    const p = spawn(process.execPath, [BIN, String(port), ...(extra.includes('--store') ? [] : ['--data-dir', dir]), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    s.proc = p;
    const mark = s.out.length;
    p.stdout!.on('data', (d) => (s.out += d));
    p.stderr!.on('data', (d) => (s.out += d));
    for (let i = 0; i < 150 && !s.out.slice(mark).includes('Waiting for clients'); i++) {
      if (p.exitCode !== null) throw new Error(`server exited: ${s.out}`);
      await sleep(100);
    }
    if (!s.out.slice(mark).includes('Waiting for clients')) throw new Error(`server did not start: ${s.out}`);
  };
  await launch();
  return s;
}

export interface Reply {
  readonly type: string;
  readonly id?: string;
  readonly status?: string;
  readonly lines?: readonly string[];
  readonly data?: { readonly kind: string; readonly [k: string]: unknown };
  readonly text?: string;
}

let ids = 0;

/** A raw forum session: requests by id, replies matched by id. */
export class Session {
  readonly replies = new Map<string, (r: Reply) => void>();
  readonly notices: Reply[] = [];
  closed: string | undefined;
  private constructor(readonly conn: RudpConnection) {
    conn.on('message', (b: Uint8Array) => {
      const m = decodeServerMessage(b);
      if (m._tag === 'Left') return;
      const r = m.right as Reply;
      if (r.type === 'reply' && r.id !== undefined && this.replies.has(r.id)) {
        this.replies.get(r.id)!(r);
        this.replies.delete(r.id);
      } else this.notices.push(r);
    });
    conn.on('close', () => (this.closed ??= 'closed'));
    conn.on('error', (e: Error) => (this.closed = e.message));
  }

  static async open(port: number, localAddress = '127.0.0.1', opts: Record<string, unknown> = {}): Promise<Session> {
    const conn = await connect({ port, host: '127.0.0.1', localAddress, ...opts });
    return new Session(conn);
  }

  /** Sends a request (any JSON-able value for hostile shapes); resolves with its reply or a timeout marker. */
  send(cmd: string, args: readonly string[], timeoutMs = 15_000, raw?: unknown, replyId?: string): Promise<Reply> {
    const id = replyId ?? `q${++ids}`;
    const body = raw ?? { id, username: 'x', cmd, args };
    const bytes = raw instanceof Uint8Array ? raw : raw !== undefined ? new TextEncoder().encode(JSON.stringify(body)) : encodeRequest(body as Parameters<typeof encodeRequest>[0]);
    const rid = replyId ?? (raw !== undefined && typeof raw === 'object' && raw !== null && !(raw instanceof Uint8Array) && 'id' in raw ? String((raw as { id: unknown }).id) : id);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.replies.delete(rid);
        resolve({ type: 'timeout', lines: [`(no reply in ${timeoutMs} ms; closed=${this.closed})`] });
      }, timeoutMs);
      this.replies.set(rid, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      this.conn.send(bytes).catch((e: Error) => {
        clearTimeout(t);
        this.replies.delete(rid);
        resolve({ type: 'send-error', lines: [e.message] });
      });
    });
  }

  /** Logs in (creating the account if new). Returns the last reply. */
  async login(user: string, pw: string): Promise<Reply> {
    const r = await this.send('username', [user]);
    if (r.data?.kind !== 'auth') return r;
    const next = r.data.next as string;
    if (next === 'password') return this.send('password', [pw]);
    if (next === 'newPassword') return this.send('newPassword', [pw]);
    return r;
  }

  /** Transfer keys of a token this session was given. */
  keys(token: string): ReturnType<typeof deriveTransferKeys> {
    return deriveTransferKeys(sessionExporter(this.conn as never), token);
  }

  close(): void {
    this.conn.destroy();
  }
}

/** First line of a reply, for printing. */
export const line = (r: Reply): string => (r.lines ?? [r.text ?? r.type]).join(' / ').slice(0, 160);

/** Installs a hard stop: the script exits after `ms` whatever happens, killing the given servers. */
export function hardStop(ms: number, servers: () => readonly Server[]): void {
  setTimeout(() => {
    console.error(`hard stop after ${ms} ms`);
    for (const s of servers()) s.proc.kill('SIGKILL');
    process.exit(3);
  }, ms).unref();
}

import net from 'node:net';
import { SecureTransferChannel } from '../packages/forum-protocol/dist/index.js';

/**
 * Uploads `size` bytes (of `fill`) over TCP with a token, writing `chunk`
 * bytes every `everyMs` ms (0: as fast as possible). Resolves with the
 * server's status line, or the error. `abortAfter` bytes: reset the
 * connection after that many (a broken upload).
 */
export function rawUpload(port: number, token: string, keys: unknown, size: number, opts: { chunk?: number; everyMs?: number; abortAfter?: number; timeoutMs?: number; fill?: number } = {}): Promise<string> {
  const chunk = opts.chunk ?? 16 * 1024;
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (s: string): void => {
      clearTimeout(t);
      resolve(s);
      socket.destroy();
    };
    const t = setTimeout(() => done('timeout'), opts.timeoutMs ?? 60_000);
    socket.on('error', (e) => done(`socket error ${e.message}`));
    socket.once('connect', async () => {
      socket.write(`${token}\n`);
      const ch = new SecureTransferChannel(socket, keys as never, 'client');
      const got: Buffer[] = [];
      ch.on('data', (c: Buffer) => {
        got.push(c);
        const text = Buffer.concat(got).toString();
        if (text.includes('\n')) done(text.split('\n')[0]!);
      });
      ch.on('end', () => done(Buffer.concat(got).toString().split('\n')[0] || 'ended'));
      ch.on('error', (e: Error) => done(`channel error ${e.message} ${Buffer.concat(got).toString()}`));
      ch.on('close', () => done(Buffer.concat(got).toString().split('\n')[0] || 'closed'));
      ch.write(`${size}\n`);
      let sent = 0;
      const buf = Buffer.alloc(chunk, opts.fill ?? 0x61);
      while (sent < size) {
        if (opts.abortAfter !== undefined && sent >= opts.abortAfter) {
          socket.resetAndDestroy();
          return done('aborted by us');
        }
        const n = Math.min(chunk, size - sent);
        const ok = ch.write(buf.subarray(0, n));
        sent += n;
        if (!ok) await new Promise((r) => ch.once('drain', r));
        if (opts.everyMs) await sleep(opts.everyMs);
        if (socket.destroyed) return;
      }
      ch.end();
    });
  });
}

/** Downloads with a token; resolves with the bytes received and how it ended. */
export function rawDownload(port: number, token: string, keys: unknown, opts: { timeoutMs?: number; pauseAfter?: number } = {}): Promise<{ bytes: number; end: string; head: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let bytes = 0;
    let head = '';
    const done = (end: string): void => {
      clearTimeout(t);
      // The server's first record is a header line ("OK SIZE"): count the file's bytes only.
      const nl = head.indexOf('\n');
      resolve({ bytes: nl >= 0 ? bytes - (nl + 1) : bytes, end, head });
      socket.destroy();
    };
    const t = setTimeout(() => done('timeout'), opts.timeoutMs ?? 60_000);
    socket.on('error', (e) => done(`socket error ${e.message}`));
    socket.once('connect', () => {
      socket.write(`${token}\n`);
      const ch = new SecureTransferChannel(socket, keys as never, 'client');
      ch.on('data', (c: Buffer) => {
        if (head.length < 200) head += c.toString('latin1').slice(0, 200);
        bytes += c.length;
        if (opts.pauseAfter !== undefined && bytes >= opts.pauseAfter) ch.pause();
      });
      ch.on('error', (e: Error) => done(`channel error ${e.message}`));
      ch.on('end', () => done('end'));
      ch.on('close', () => done('close'));
    });
  });
}
