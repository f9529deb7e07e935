/**
 * Attack round 14 helpers: the built forum-server under `churn-probe.cjs` (a forced GC and a
 * measurement at each SIGUSR2), source addresses handed out one per "host" (127.A.B.C: Linux
 * delivers all of 127.0.0.0/8 to loopback), raw sessions that log in right or wrong from a chosen
 * address, and the slope of each figure per operation over the rounds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeServerMessage, encodeRequest, type Reply, type RequestCommand } from '../packages/forum-protocol/dist/index.js';
import { connect, type RudpConnection } from '../packages/rudp/dist/index.js';
import { SERVER_BIN } from './forum-raw.js';

/** What churn-probe.cjs writes at a probe. */
export interface Probe {
  readonly seq: number;
  readonly memory: NodeJS.MemoryUsage;
  readonly fds: number;
  readonly resources: Readonly<Record<string, number>>;
  readonly counts?: Readonly<Record<string, readonly [number, number]>>;
}

/** One measurement: the probe, plus what the data directory holds. */
export interface Sample extends Probe {
  readonly ops: number;
  /** Bytes the server wrote to its stdout and stderr so far (its log: kept by whatever reads it). */
  readonly logBytes: number;
  readonly dataFiles: number;
  readonly dataBytes: number;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The server under the probe. */
export interface ChurnServer {
  readonly child: ChildProcess;
  readonly port: number;
  readonly tcp: number;
  readonly dir: string;
  out: string;
  /** Bytes of stdout and stderr so far. */
  logBytes: number;
  /** Measures after a forced GC; `snapshot`: with a heap snapshot's counts too (slow, and it raises the RSS once). */
  probe(ops: number, snapshot?: boolean): Promise<Sample>;
  stop(): Promise<void>;
}

const walk = (dir: string): { files: number; bytes: number } => {
  let files = 0;
  let bytes = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const w = walk(p);
      files += w.files;
      bytes += w.bytes;
    } else {
      files++;
      bytes += statSync(p, { throwIfNoEntry: false })?.size ?? 0;
    }
  }
  return { files, bytes };
};

/** Starts the built server on free ports (UDP `port`, TCP `port + 1`) in a new data directory (`prepare` fills it first). */
export const startChurnServer = async (port: number, extra: readonly string[] = [], prepare?: (dir: string) => void): Promise<ChurnServer> => {
  const dir = mkdtempSync(join(tmpdir(), 'churn-'));
  prepare?.(dir);
  const probeFile = join(dir, '..', `${dir.split('/').pop() ?? 'x'}.probe.json`);
  const child = spawn(process.execPath, ['--expose-gc', '--require', new URL('./churn-probe.cjs', import.meta.url).pathname, SERVER_BIN, String(port), '--data-dir', dir, '--transfer-port', String(port + 1), ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CHURN_PROBE_FILE: probeFile },
  });
  const s: ChurnServer = {
    child,
    port,
    tcp: port + 1,
    dir,
    out: '',
    logBytes: 0,
    async probe(ops, snapshot = false) {
      if (snapshot) writeFileSync(`${probeFile}.snap`, '');
      const before = existsSync(probeFile) ? (JSON.parse(readFileSync(probeFile, 'utf8')) as Probe).seq : 0;
      child.kill('SIGUSR2');
      for (let i = 0; i < 600; i++) {
        await sleep(50);
        if (!existsSync(probeFile)) continue;
        const p = JSON.parse(readFileSync(probeFile, 'utf8')) as Probe;
        if (p.seq > before) {
          const w = walk(dir);
          return { ...p, ops, dataFiles: w.files, dataBytes: w.bytes, logBytes: s.logBytes };
        }
      }
      throw new Error('the server did not answer its probe');
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
      rmSync(probeFile, { force: true });
    },
  };
  const take = (d: Buffer): void => {
    s.logBytes += d.length;
    s.out = (s.out + d.toString()).slice(-200_000);
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  for (let i = 0; i < 200 && !s.out.includes('Waiting for clients'); i++) await sleep(50);
  if (!s.out.includes('Waiting for clients')) throw new Error(`server did not start: ${s.out}`);
  return s;
};

/** Source addresses 127.A.B.C, a new one each call (from 127.1.0.1 on; 127.0.0.x is left to probes and honest clients). */
export const hosts = (): (() => string) => {
  let n = 65536 + 256;
  return () => {
    n++;
    if ((n & 255) === 0 || (n & 255) === 255) n++;
    return `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  };
};

/** A raw session from `localAddress`, not yet logged in. */
export const rawSession = async (port: number, localAddress: string, idleMs = 30_000) => {
  const conn: RudpConnection = await connect({ port, localAddress, idleTimeoutMs: idleMs, handshakeTimeoutMs: 5000 });
  const waiting = new Map<string, (r: Reply | undefined) => void>();
  let id = 0;
  conn.on('message', (bytes) => {
    const m = decodeServerMessage(bytes);
    if (m._tag === 'Left' || m.right.type !== 'reply') return;
    const w = waiting.get(m.right.id);
    waiting.delete(m.right.id);
    w?.(m.right);
  });
  conn.on('error', () => undefined);
  conn.on('close', () => {
    for (const w of waiting.values()) w(undefined);
    waiting.clear();
  });
  /** A request's reply; `undefined` if the connection closed first. */
  const request = (cmd: RequestCommand, args: readonly string[], timeoutMs = 10_000): Promise<Reply | undefined> => {
    const key = String(++id);
    return new Promise<Reply | undefined>((resolve) => {
      const t = setTimeout(() => {
        waiting.delete(key);
        resolve(undefined);
      }, timeoutMs);
      waiting.set(key, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      conn.send(encodeRequest({ id: key, username: '', cmd, args })).catch(() => undefined);
    });
  };
  /** Username then password: the reply to the password (or the username's refusal). */
  const login = async (user: string, password: string): Promise<Reply | undefined> => {
    const u = await request('username', [user]);
    if (u === undefined || u.data.kind !== 'auth') return u;
    return await request(u.data.next as RequestCommand, [password]);
  };
  return { conn, request, login };
};
export type RawSession = Awaited<ReturnType<typeof rawSession>>;

/** Least-squares slope of `ys` over `xs`. */
export const slope = (xs: readonly number[], ys: readonly number[]): number => {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
};

const kib = (b: number): string => (b / 1024).toFixed(0);
const activeTotal = (r: Readonly<Record<string, number>>): number => Object.values(r).reduce((a, b) => a + b, 0);

/** One round's line. */
export const describe = (s: Sample): string =>
  `ops ${s.ops}: heap ${kib(s.memory.heapUsed)} KiB, external ${kib(s.memory.external)} KiB, rss ${kib(s.memory.rss)} KiB, fds ${s.fds}, active ${activeTotal(s.resources)} ${JSON.stringify(s.resources)}, data ${s.dataFiles} files ${kib(s.dataBytes)} KiB, log ${kib(s.logBytes)} KiB`;

/** Slopes per operation over the samples after the first (the first is the warm-up), and the constructors that grew most between the second sample and the last. */
export const summary = (samples: readonly Sample[]): string => {
  const used = samples.slice(1);
  const xs = used.map((s) => s.ops);
  const per = (f: (s: Sample) => number): string => slope(xs, used.map(f)).toFixed(2);
  const lines = [
    `slope per op (rounds 2..${samples.length}): heap ${per((s) => s.memory.heapUsed)} B, external ${per((s) => s.memory.external)} B, rss ${per((s) => s.memory.rss)} B, fds ${per((s) => s.fds)}, active ${per((s) => activeTotal(s.resources))}, data files ${per((s) => s.dataFiles)}, data bytes ${per((s) => s.dataBytes)}, log bytes ${per((s) => s.logBytes)}`,
  ];
  const a = used[0]?.counts;
  const b = used[used.length - 1]?.counts;
  if (a !== undefined && b !== undefined) {
    const ops = (used[used.length - 1]?.ops ?? 0) - (used[0]?.ops ?? 0);
    const rows = Object.keys({ ...a, ...b })
      .map((k) => ({ k, dn: (b[k]?.[0] ?? 0) - (a[k]?.[0] ?? 0), db: (b[k]?.[1] ?? 0) - (a[k]?.[1] ?? 0) }))
      .sort((x, y) => Math.abs(y.db) - Math.abs(x.db))
      .slice(0, 12);
    lines.push(`heap snapshot, rounds 2 -> ${samples.length} (${ops} ops): ` + rows.map((r) => `${r.k} ${r.dn >= 0 ? '+' : ''}${r.dn} (${r.db >= 0 ? '+' : ''}${kib(r.db)} KiB)`).join('; '));
  }
  return lines.join('\n');
};
