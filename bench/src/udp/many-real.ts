/**
 * Many mostly idle connections on real sockets: one server process (rudp's
 * `listen`, or one udx-native socket carrying every stream, as udx's users
 * multiplex), a few client processes holding the connections, each
 * connection sending 16 bytes every `intervalMs` at its own phase. The
 * server process's CPU, datagrams and memory are measured over a steady
 * window once every connection is open.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { loadUdx } from '../peers/udx-native.js';
import type { FromClient, FromServer, ManyRealSystem, MemorySample, ServerWindow, ToClient, ToServer } from './many-real-protocol.js';

export type { ManyRealSystem } from './many-real-protocol.js';

/** The load of one many-real run. */
export interface ManyRealScenario {
  readonly connections: number;
  /** Each connection sends 16 bytes this often, ms. */
  readonly intervalMs: number;
  /** Steady traffic before measuring (every phase has sent once), ms. */
  readonly settleMs: number;
  /** The measured window, ms. */
  readonly measureMs: number;
  /** Client processes the connections are spread over. */
  readonly clientProcesses: number;
  /** Rounds, each running every system once (alternating), so a ratio pairs runs minutes apart at most. */
  readonly rounds: number;
}

/** 10,000 connections, 16 bytes every 10 s each, 60 s measured. */
export const MANY_REAL: ManyRealScenario = { connections: 10_000, intervalMs: 10_000, settleMs: 10_000, measureMs: 60_000, clientProcesses: 2, rounds: 2 };
/** The `--quick` variant: 1,000 connections, 20 s measured. */
export const MANY_REAL_QUICK: ManyRealScenario = { connections: 1_000, intervalMs: 10_000, settleMs: 10_000, measureMs: 20_000, clientProcesses: 2, rounds: 1 };

/** One system, one round. */
export interface ManyRealResult {
  readonly system: ManyRealSystem;
  readonly round: number;
  readonly connections: number;
  /** Connections open when the window started (the server's count). */
  readonly connected: number;
  /** Server CPU over the window as a share of one core, %. */
  readonly serverCpuPercent: number;
  /** Server datagrams (sent + received) per message received, over the window. */
  readonly datagramsPerMessage: number;
  readonly datagramsSentPerMessage: number;
  /** (RSS with every connection open − RSS once listening) ÷ connections, bytes. */
  readonly rssPerConnection: number;
  readonly heapPerConnection: number;
  readonly window: ServerWindow;
  /** Every message sent arrived once (counted at the server after the clients stopped). */
  readonly clean: boolean;
  readonly sent: number;
  readonly received: number;
  /** Connections that closed before the end, by reason, on the server and on the clients. */
  readonly closedOnServer: Record<string, number>;
  readonly closedOnClients: Record<string, number>;
}

/** Progress callback: one line per step. */
export type ManyRealProgress = (line: string) => void;

const WORKER = fileURLToPath(new URL('./many-real-worker.ts', import.meta.url));

/** The next IPC message of `child` that satisfies `pick`. */
function next<T>(child: ChildProcess, pick: (m: T) => boolean, what: string, timeoutMs = 900_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`many-real: timed out waiting for ${what}`));
    }, timeoutMs);
    const onMessage = (m: unknown): void => {
      if (!pick(m as T)) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m as T);
    };
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      reject(new Error(`many-real: worker exited (${String(code)}) while waiting for ${what}`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function spawn(args: readonly string[]): ChildProcess {
  // execArgv carries tsx's loader and --expose-gc from the bench's own command line.
  // MANY_REAL_SERVER_PROF=dir profiles the server process (node --cpu-prof), for finding where its CPU goes.
  // MANY_REAL_SERVER_NODE_ARGS='--trace-gc …' adds node options to the server process only (experiments).
  const prof = process.env['MANY_REAL_SERVER_PROF'];
  const extra = process.env['MANY_REAL_SERVER_NODE_ARGS']?.split(' ').filter((a) => a !== '') ?? [];
  const serverArgv = [...process.execArgv, ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), ...extra];
  const execArgv = args[0] === 'server' ? serverArgv : process.execArgv;
  return fork(WORKER, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
}

/**
 * One system, one round, in fresh processes (the building block of `runManyReal`; experiments call it directly).
 * `beforeMeasure`, if given, is awaited once the traffic has settled, just before the measured window: runs
 * started together can wait for each other there, so their windows share the machine's load (`many-real-ab.ts`).
 */
export async function runManyRealOnce(
  system: ManyRealSystem,
  round: number,
  s: ManyRealScenario,
  progress: ManyRealProgress,
  beforeMeasure?: () => Promise<void>,
): Promise<ManyRealResult> {
  const server = spawn(['server', system]);
  const clients: ChildProcess[] = [];
  try {
    const ready = await next<FromServer>(server, (m) => m.type === 'ready', 'the server');
    if (ready.type !== 'ready') throw new Error('unreachable');
    const per = Math.ceil(s.connections / s.clientProcesses);
    for (let p = 0; p < s.clientProcesses; p++) {
      const from = p * per;
      const count = Math.min(per, s.connections - from);
      if (count <= 0) break;
      const c = spawn(['client', system, String(from), String(count), String(s.connections), String(s.intervalMs)]);
      clients.push(c);
      const bound = await next<FromClient>(c, (m) => m.type === 'bound', 'a client socket');
      if (bound.type === 'bound' && system === 'udx-native') {
        const toServer: ToServer = { type: 'streams', port: bound.port, from, count };
        server.send(toServer);
        await next<FromServer>(server, (m) => m.type === 'streams-ok', 'server streams');
      }
    }
    const t0 = performance.now();
    progress(`many-real ${system} round ${round + 1}: connecting ${s.connections}`);
    const connected = clients.map((c) => next<FromClient>(c, (m) => m.type === 'connected', 'connections'));
    for (const c of clients) c.send({ type: 'connect', serverPort: ready.port } satisfies ToClient);
    await Promise.all(connected);
    progress(`many-real ${system} round ${round + 1}: connected in ${((performance.now() - t0) / 1000).toFixed(1)} s; steady traffic`);
    const startAt = Date.now() + 200;
    for (const c of clients) c.send({ type: 'go', startAt } satisfies ToClient);
    await sleep(s.settleMs);
    await beforeMeasure?.();
    const startedP = next<FromServer>(server, (m) => m.type === 'started', 'measure start');
    server.send({ type: 'measure-start' } satisfies ToServer);
    const started = await startedP;
    await sleep(s.measureMs);
    const windowP = next<FromServer>(server, (m) => m.type === 'window', 'measure end');
    server.send({ type: 'measure-end' } satisfies ToServer);
    const w = await windowP;
    const stopped = clients.map((c) => next<FromClient>(c, (m) => m.type === 'stopped', 'client stop'));
    for (const c of clients) c.send({ type: 'stop' } satisfies ToClient);
    const stops = await Promise.all(stopped);
    const sent = stops.reduce((a, m) => a + (m.type === 'stopped' ? m.sent : 0), 0);
    const closedOnClients: Record<string, number> = {};
    for (const m of stops) if (m.type === 'stopped') for (const [k, v] of Object.entries(m.closed)) closedOnClients[k] = (closedOnClients[k] ?? 0) + v;
    // What was sent last may still be in flight (or awaiting a resend).
    let totals: FromServer | undefined;
    for (let i = 0; i < 20; i++) {
      await sleep(250);
      const p = next<FromServer>(server, (m) => m.type === 'totals', 'totals');
      server.send({ type: 'totals' } satisfies ToServer);
      totals = await p;
      if (totals.type === 'totals' && totals.messages >= sent) break;
    }
    if (started.type !== 'started' || w.type !== 'window' || totals?.type !== 'totals') throw new Error('unreachable');
    const window = w.window;
    const mem: MemorySample = started.memory;
    const n = started.connections;
    const datagrams = window.datagramsSent + window.datagramsReceived;
    return {
      system,
      round,
      connections: s.connections,
      connected: n,
      serverCpuPercent: (window.cpuSeconds / window.wallSeconds) * 100,
      datagramsPerMessage: datagrams / window.messages,
      datagramsSentPerMessage: window.datagramsSent / window.messages,
      rssPerConnection: (mem.rss - ready.baseline.rss) / n,
      heapPerConnection: (mem.heapUsed - ready.baseline.heapUsed) / n,
      window,
      clean: totals.messages === sent && totals.badMessages === 0,
      sent,
      received: totals.messages,
      closedOnServer: totals.closed,
      closedOnClients,
    };
  } finally {
    for (const c of [...clients, server]) {
      if (c.exitCode === null && c.connected) c.send({ type: 'exit' });
    }
    await Promise.all(
      [...clients, server].map(async (c) => {
        if (c.exitCode !== null) return;
        const exited = once(c, 'exit');
        const kill = setTimeout(() => c.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(kill);
      }),
    );
  }
}

/** The early closes of a run, if any, as text. */
export function closedText(r: ManyRealResult): string {
  const list = (o: Record<string, number>): string => Object.entries(o).map(([k, v]) => `${v} × ${k}`).join(', ');
  const server = list(r.closedOnServer);
  const clients = list(r.closedOnClients);
  return `${server ? `; closed on the server: ${server}` : ''}${clients ? `; closed on the clients: ${clients}` : ''}`;
}

/** Every round: rudp (encrypted, default options) then udx-native, each in fresh processes. */
export async function runManyReal(s: ManyRealScenario, progress: ManyRealProgress): Promise<{ readonly results: ManyRealResult[]; readonly notes: string[] }> {
  const notes: string[] = [];
  const systems: ManyRealSystem[] = ['rudp'];
  const udx = loadUdx();
  if (typeof udx === 'string') notes.push(`many-real: udx-native not measured: it could not be loaded (${udx}).`);
  else systems.push('udx-native');
  const results: ManyRealResult[] = [];
  for (let round = 0; round < s.rounds; round++) {
    for (const system of round % 2 === 0 ? systems : [...systems].reverse()) {
      const r = await runManyRealOnce(system, round, s, progress);
      progress(
        `many-real ${system} round ${round + 1}: server CPU ${r.serverCpuPercent.toFixed(1)}%, ${r.datagramsPerMessage.toFixed(2)} datagrams/message, ` +
          `RSS ${(r.rssPerConnection / 1024).toFixed(2)} KiB/conn, heap ${(r.heapPerConnection / 1024).toFixed(2)} KiB/conn, ${r.received}/${r.sent} delivered` +
          `${closedText(r)}`,
      );
      results.push(r);
    }
  }
  return { results, notes };
}
