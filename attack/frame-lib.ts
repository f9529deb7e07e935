/**
 * Helpers of the round-10 CPU attack scripts: a server's CPU time read from /proc, a bare rudpx listener as a child
 * process (echoing every message), and a "hostile peer": a real rudpx client connection (handshake done by the
 * library) through whose keys and socket the script sends packets of its own making, sealed with the connection's
 * current send key and numbered from its packet counter (so the library's own packets never reuse a number).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './forum-raw.js';
import { PacketType, PacketWriter } from '../packages/rudp/dist/core.js';
import { connect, type RudpConnection } from '../packages/rudp/dist/index.js';

/** User and system CPU of process `pid` (all its threads), in ms (10 ms ticks). */
export const cpuSplitMs = (pid: number): { readonly user: number; readonly system: number } => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return { user: Number(f[11]) * 10, system: Number(f[12]) * 10 };
};

/** User + system CPU of process `pid`, in ms (10 ms ticks). */
export const cpuMs = (pid: number): number => {
  const c = cpuSplitMs(pid);
  return c.user + c.system;
};

/** A bare rudpx listener (defaults but for a 10 s idle timeout) in a child process; it echoes the honest probe's messages (100 bytes) and reads and drops every other. */
export const startBare = async (port: number, options: Record<string, unknown> = {}): Promise<{ child: ChildProcess; exited: Promise<void> }> => {
  const dist = new URL('../packages/rudp/dist/index.js', import.meta.url).href;
  // A10_PROF_MS: the listener profiles itself (node:inspector) for that long and writes /tmp/a10-bare.cpuprofile.
  const prof = process.env.A10_PROF_MS === undefined ? '' : `import { Session } from 'node:inspector'; import { writeFileSync } from 'node:fs';
const s = new Session(); s.connect(); s.post('Profiler.enable', () => s.post('Profiler.start', () => undefined));
setTimeout(() => s.post('Profiler.stop', (e, r) => writeFileSync('/tmp/a10-bare.cpuprofile', JSON.stringify(r.profile))), ${Number(process.env.A10_PROF_MS)}).unref();
`;
  const code = `${prof}import { listen } from ${JSON.stringify(dist)};
const server = await listen({ port: ${port}, host: '127.0.0.1', idleTimeoutMs: 10000, ...${JSON.stringify(options)} });
server.on('connection', (c) => { c.on('message', (m) => { if (m.length === 100) c.send(m).catch(() => undefined); }); c.on('error', () => undefined); });
console.log('listening');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
    child.once('exit', () => reject(new Error('bare listener exited')));
  });
  return { child, exited: new Promise((r) => child.once('exit', () => r())) };
};

/** What a crafted packet's frames are written by. */
export type FrameWriter = (w: PacketWriter, room: number) => void;

/** The core connection's fields the scripts use (they are public on `Connection`, not on `RudpConnection`). */
interface CoreView {
  nextPn: number;
  readonly remoteCid: number;
  readonly destination: string;
  readonly protection: { keyPhase(): 0 | 1; sealInto(header: Uint8Array, pn: number, payload: Uint8Array, out: Uint8Array): boolean };
  readonly acks: { readonly largest: number };
  readonly state: string;
  readonly recovery: unknown;
  readonly stat: { packetsSent: number; packetsReceived: number };
}
interface IoView {
  readonly socket: { send(to: string, data: Uint8Array): void; flush(): void };
}

/** A connected hostile peer. */
export interface Hostile {
  readonly conn: RudpConnection;
  readonly core: CoreView;
  /** Seals and queues one packet of `write`'s frames (`size`: the packet's size before the tag); `pnOffset` skips numbers ahead; `phase` forces the key-phase bit (the tag then fails unless it is the current one). */
  packet(write: FrameWriter, opts?: { readonly size?: number; readonly pnOffset?: number; readonly phase?: 0 | 1; readonly pn?: number }): Uint8Array;
  /** Queues raw bytes to the server. */
  raw(bytes: Uint8Array): void;
  flush(): void;
}

const SCRATCH = new Uint8Array(2048);

export const hostile = async (port: number, localAddress?: string): Promise<Hostile> => {
  const conn = await connect({ port, host: '127.0.0.1', idleTimeoutMs: 30_000, ...(localAddress === undefined ? {} : { localAddress }) });
  conn.on('error', () => undefined);
  const inner = conn as unknown as { core: CoreView; io: IoView };
  const core = inner.core;
  const socket = inner.io.socket;
  const packet: Hostile['packet'] = (write, opts = {}) => {
    const size = opts.size ?? 1200;
    const pn = opts.pn ?? (core.nextPn += 1 + (opts.pnOffset ?? 0)) - 1;
    const phase = opts.phase ?? core.protection.keyPhase();
    const w = new PacketWriter(SCRATCH.subarray(0, size + 16), phase === 1 ? PacketType.Protected1 : PacketType.Protected0, core.remoteCid, pn, 4);
    write(w, size - w.pos);
    const header = SCRATCH.slice(0, w.headerLength);
    const plaintext = SCRATCH.slice(w.headerLength, w.pos);
    const datagram = new Uint8Array(w.pos + 16);
    datagram.set(header);
    if (!core.protection.sealInto(header, pn, plaintext, datagram.subarray(w.headerLength))) throw new Error('seal failed');
    socket.send(core.destination, datagram);
    return datagram;
  };
  return { conn, core, packet, raw: (bytes) => socket.send(core.destination, bytes), flush: () => socket.flush() };
};

/** Percentiles of latencies in ms. */
export const stat = (xs: readonly number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): string => (s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN).toFixed(1);
  return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms (${s.length})`;
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The honest client (honest-probe.ts) in a child process; `between(a, b)` gives the round trips that ended in [a, b) (epoch ms). */
export const startProbe = async (target: string, port: number, localAddress = '127.0.0.200') => {
  const script = new URL('./honest-probe.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--import', 'tsx', script, target, String(port), localAddress], { stdio: ['ignore', 'pipe', 'inherit'] });
  const samples: { at: number; ms: number }[] = [];
  let buf = '';
  let ready: () => void = () => undefined;
  const started = new Promise<void>((r) => (ready = r));
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const l of lines) {
      if (l === 'ready') ready();
      const m = /^([0-9]+) ([0-9.]+)$/.exec(l);
      if (m !== null) samples.push({ at: Number(m[1]), ms: Number(m[2]) });
    }
  });
  await started;
  return {
    pid: child.pid as number,
    between: (a: number, b: number): number[] => samples.filter((s) => s.at >= a && s.at < b).map((s) => s.ms),
    stop: (): void => void child.kill('SIGTERM'),
  };
};

/** An honest probe (`startProbe`). */
export type Probe = Awaited<ReturnType<typeof startProbe>>;

/** What a flood script attacks: a forum-server or a bare listener, with an honest probe against it. */
export interface Target {
  readonly port: number;
  readonly pid: number;
  readonly probe: Probe;
  /** The forum server's output so far ('' for a bare listener). */
  serverOut(): string;
  /** Stops the probe and the target, and removes the data directory. */
  stop(): Promise<void>;
}

/**
 * Starts `target` ('forum': forum-server on a data directory of alice's, her thread `small` and `files`; else a bare
 * rudpx listener) on a random port, and the honest probe against it; this process (the attacker) then runs at a
 * lower priority than both, so that on a shared 2-core machine the probe's latency shows the server's delay, not
 * this process's.
 */
export const startTarget = async (target: string, label: string, files: Readonly<Record<string, string>> = {}): Promise<Target> => {
  const port = 40_000 + Math.floor(Math.random() * 20_000);
  let dir = '';
  let child: { readonly child: ChildProcess; readonly exited: Promise<unknown> };
  let serverOut = (): string => '';
  if (target === 'forum') {
    dir = await mkdtemp(join(tmpdir(), `${label}-`));
    await writeFile(join(dir, 'credentials.txt'), 'alice pw-alice\n');
    await writeFile(join(dir, 'small'), 'alice\n');
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    const server = await startServer(dir, port, port + 1);
    serverOut = () => server.out;
    child = server;
  } else {
    child = await startBare(port);
  }
  const pid = child.child.pid as number;
  const probe = await startProbe(target, port);
  setPriority(pid, -5);
  setPriority(probe.pid, -5);
  setPriority(10);
  return {
    port,
    pid,
    probe,
    serverOut: () => serverOut(),
    stop: async () => {
      probe.stop();
      child.child.kill('SIGTERM');
      await child.exited;
      if (dir !== '') await rm(dir, { recursive: true, force: true });
    },
  };
};

/** An honest-only stretch of `seconds`: the probe's round trips, and the server's CPU ms over `ms` of wall time. */
export const honestStretch = async (pid: number, probe: Probe, seconds: number): Promise<{ readonly baseline: number[]; readonly baseCpu: number; readonly baseMs: number }> => {
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  const from = Date.now();
  await sleep(seconds * 1000);
  return { baseline: probe.between(from, Date.now()), baseCpu: cpuMs(pid) - cpu0, baseMs: performance.now() - t0 };
};
