/**
 * The "CPU per byte through the relay" row alone, for before/after comparisons
 * of rudp builds: the relay bulk's "plain p=0" case (4 MiB client → server,
 * 35 ms ± 5 one way, FIFO, 10 Mbit/s with a 64 KiB queue, through the bench's
 * relay process), run by the bench's own `relayBulk` for each rudp build and
 * for udx-native, in one process. Each system first makes `warmups` discarded
 * runs (the full run gives each 8 before its first measured one: see
 * RELAY_WARMUP_RUNS_PER_CASE); then, per seed, every system runs once, their
 * order rotated from seed to seed, so a drift of the machine's load falls on
 * all of them. Prints one line a run (CPU s/GB of both ends, the 1-minute
 * load average; for rudp also the packets the receiving end sent, its ACKs, and
 * received) and, per rudp build, the median (min–max) of its CPU s/GB and
 * of its ratio to udx-native's in the same seed, as the targets row reads it.
 * Several builds load side by side (each its own module instance); to compare
 * builds in separate processes instead, run the tool once per build.
 *
 * Usage (from bench/): node --expose-gc --import tsx src/tools/relay-cpu.ts
 *   [seeds=5] [warmups=8] [builds='new=rudpx'] (e.g. 'old=/work/old/packages/rudp/dist/index.js;new=rudpx')
 */
import { loadavg } from 'node:os';
import { BULK } from '../scenarios/bulk.js';
import { loadUdx } from '../peers/udx-native.js';
import { rotated } from '../stats/seeds.js';
import { RelayHost } from '../udp/relay-host.js';
import { relayBulk, type RelayDeps } from '../udp/relay-runs.js';
import { relayBulkLink } from '../udp/udp-bench.js';

type RudpApi = typeof import('rudpx');

/** One system of the comparison: a rudp build (its API) or udx-native (`api` undefined). */
interface System {
  readonly name: string;
  readonly api: RudpApi | undefined;
}

const UDX = 'udx-native';

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function spreadOf(xs: readonly number[], digits: number): string {
  return `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
}

const seeds = Number(process.argv[2] ?? '5');
const warmups = Number(process.argv[3] ?? '8');
const buildArgs = (process.argv[4] ?? 'new=rudpx').split(';').map((b) => ({ name: b.slice(0, b.indexOf('=')), path: b.slice(b.indexOf('=') + 1) }));

const loaded = loadUdx();
if (typeof loaded === 'string') throw new Error(`udx-native could not be loaded: ${loaded}`);
const udx = loaded;
const systems: System[] = [];
/** The receiving end of the last rudp run: the packets it sends are the transfer's ACKs (and the odd PING). */
let receiver: import('rudpx').RudpConnection | undefined;
/** `receiver`, read through a call (see `runOne`). */
function lastReceiver(): import('rudpx').RudpConnection | undefined {
  return receiver;
}
/** `api` whose listeners remember their last connection in `receiver`. */
function watched(api: RudpApi): RudpApi {
  const listen: RudpApi['listen'] = async (...args) => {
    const server = await api.listen(...args);
    server.on('connection', (c) => (receiver = c));
    return server;
  };
  return { ...api, listen };
}
for (const b of buildArgs) systems.push({ name: b.name, api: watched((await import(b.path)) as RudpApi) });
systems.push({ name: UDX, api: undefined });

const relays = await RelayHost.start();
const link = relayBulkLink(false, 0);
const totalBytes = BULK.totalBytes;
const fallback = systems[0]?.api as RudpApi;

/** One 4 MiB run of `s`; CPU seconds of both ends per GB (NaN when the run did not complete). */
async function runOne(s: System, seed: number): Promise<number> {
  const deps: RelayDeps = { api: s.api ?? fallback, relays, udx };
  receiver = undefined;
  const r = await relayBulk(s.api ? 'rudp' : 'udx-native', deps, 'plain p=0', link, false, seed, totalBytes);
  const perGB = r.completed ? (r.cpuSeconds * 1e9) / r.totalBytes : Number.NaN;
  const resent = Number.isFinite(r.resentShare) ? `${(r.resentShare * 100).toFixed(2)}%` : '—';
  // Read through a call: the control flow above left `receiver` undefined as far as the compiler knows.
  const end = lastReceiver()?.stats();
  const acks = end ? `, receiver sent ${end.packetsSent} packets, received ${end.packetsReceived}` : '';
  console.log(
    `${s.name} seed ${seed}: ${perGB.toFixed(1)} CPU s/GB, ${(r.goodputBps / 1e6).toFixed(2)} Mbit/s, resent ${resent}, queue drops ${r.drops.queue}${acks}, load ${loadavg()[0]?.toFixed(2)}`,
  );
  return perGB;
}

try {
  for (const s of systems) for (let k = 0; k < warmups; k++) await runOne(s, 0);
  const perGB = new Map<string, number[]>(systems.map((s) => [s.name, []]));
  const ratios = new Map<string, number[]>(systems.map((s) => [s.name, []]));
  for (let i = 0; i < seeds; i++) {
    const seed = i + 1;
    const thisSeed = new Map<string, number>();
    for (const s of rotated(systems, i)) thisSeed.set(s.name, await runOne(s, seed));
    const base = thisSeed.get(UDX) as number;
    for (const [name, v] of thisSeed) {
      perGB.get(name)?.push(v);
      ratios.get(name)?.push(v / base);
    }
  }
  for (const s of systems) {
    const ratio = s.api ? `, ÷ ${UDX} ${spreadOf(ratios.get(s.name) ?? [], 2)}` : '';
    console.log(`${s.name}: CPU s/GB ${spreadOf(perGB.get(s.name) ?? [], 1)}${ratio} over ${seeds} seeds`);
  }
} finally {
  await relays.stop();
}
