/**
 * The chat through the impairing relay, taken apart as `chat-anatomy.ts`
 * takes the simulated one apart, to find why the two disagree.
 *
 * For each seed and repetition, each system (order rotated) runs the relay
 * chat of `relay-runs.ts` (64 B every 20 ms each way, one relay per run,
 * in the relay process of `RelayHost`), and the tool records per message
 * its send and delivery time, and per run the event-loop delay of this
 * process (the two ends), how late the sends left against their schedule,
 * how late the relay forwarded against the link model, and the loss the
 * relay applied per direction. Systems:
 * - `rudp`: rudp's Node API, encrypted, as the bench's relay chat runs it;
 * - `kcp-flush`: the reference, as the bench runs it;
 * - `rudp-core`: rudp's sans-IO core in plaintext on the bench's socket
 *   driver, every DATA packet logged by `chat-tap.ts`'s `Tap`, so its tail
 *   is classified as the simulated one (held behind an earlier message,
 *   resend, copy, rebuilt from a repair);
 * - `sim-core`: the same tapped core in the simulator over the same link,
 *   seed and length, for the classes side by side.
 *
 * p99 is by the bench's nearest rank; "first 8 s" and "later" split the
 * messages by when they were sent (the bench's relay chat is 8 s long).
 *
 * Usage (from bench/): node --import tsx src/tools/relay-chat-anatomy.ts [durationMs=8000] [seeds=1,2,3,4,5] [reps=1] [burst|plain] [systems=rudp,kcp-flush,rudp-core,sim-core]
 * Environment: LOSS (default 0.1), JSON=path (per-message records of every run).
 */
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { makePayload, parsePayload } from '../integrity/payload.js';
import { createRandom, type LinkConfig, type RandomSource } from '../lib/rudp-imports.js';
import type { MessageConnection, MessageEndpoint } from '../peers/message-endpoint.js';
import { loadRudp } from '../peers/rudp-endpoint.js';
import type { SystemFactory, SystemId } from '../peers/systems.js';
import { CHAT } from '../scenarios/chat.js';
import { burstLoss, plainLoss } from '../scenarios/link-variants.js';
import { SimPair } from '../sim/sim-pair.js';
import { rotated, spread } from '../stats/seeds.js';
import { quantileSorted } from '../stats/summary.js';
import { RelayHost, type HostedRelay, type RelaySnapshot } from '../udp/relay-host.js';
import { openPair, RELAY_SOCKET_BUFFER_BYTES, type RelayPair } from '../udp/relay-runs.js';
import { driveOnSocket } from '../udp/socket-driver.js';
import { carriersByMessage, tailClassifier, Tap, type MessageFate, type PacketLog, scheduleChat } from './chat-tap.js';

type ToolSystem = 'rudp' | 'kcp-flush' | 'rudp-core' | 'sim-core';

const durationMs = Number(process.argv[2] ?? '8000');
const seeds = (process.argv[3] ?? '1,2,3,4,5').split(',').map(Number);
const reps = Number(process.argv[4] ?? '1');
const kind = process.argv[5] ?? 'burst';
const systems = (process.argv[6] ?? 'rudp,kcp-flush,rudp-core,sim-core').split(',') as ToolSystem[];
const loss = Number(process.env['LOSS'] ?? '0.1');
const variant = kind === 'burst' ? burstLoss(loss) : plainLoss(loss);
const link: LinkConfig = variant.link;
/** Messages sent before this (ms after the chat began) count as "first 8 s". */
const SPLIT_MS = 8_000;

const rudpModule = await loadRudp();
if (rudpModule === undefined) throw new Error('rudp is not built (pnpm build)');
const rudpCore = rudpModule;

/** One run's record. */
interface RunRecord {
  readonly system: ToolSystem;
  readonly seed: number;
  readonly rep: number;
  /** Every timed message; `sentAt` relative to the chat's start. */
  readonly messages: MessageFate[];
  /** Tail classes (tapped systems only). */
  readonly classes?: Map<string, number>;
  readonly loopDelayMs?: { readonly p50: number; readonly p99: number; readonly max: number };
  /** How late the sends left against their schedule, ms. */
  readonly sendLagMs?: { readonly p99: number; readonly max: number };
  readonly relayLateMs?: { readonly mean: number; readonly max: number };
  /** Loss the link model applied during the chat, per direction (droppedLoss ÷ sentDatagrams). */
  readonly lossUp?: number;
  readonly lossDown?: number;
  readonly datagramsUp?: number;
  readonly datagramsDown?: number;
}

/** Coarse class of a `tailClassifier` label. */
function coarse(label: string): string {
  if (label.startsWith('resend')) return 'resend';
  if (label.startsWith('copy')) return 'copy';
  if (label.startsWith('rebuilt')) return 'rebuilt from repair';
  return label;
}

function classesOf(packets: readonly PacketLog[], messages: readonly MessageFate[]): Map<string, number> {
  const cut = p99Of(messages);
  const classify = tailClassifier(packets, carriersByMessage(packets));
  const out = new Map<string, number>();
  for (const m of messages) {
    if (m.deliveredAt - m.sentAt < cut) continue;
    const c = coarse(classify(m));
    out.set(c, (out.get(c) ?? 0) + 1);
  }
  return out;
}

function p99Of(messages: readonly MessageFate[], keep: (m: MessageFate) => boolean = () => true): number {
  const lat = messages.filter(keep).map((m) => m.deliveredAt - m.sentAt).sort((a, b) => a - b);
  return quantileSorted(lat, 0.99);
}

/** The chat loop over real sockets: both directions every 20 ms, sends timed as `relayChat` times them. */
async function chatOverRelay(
  send: (up: boolean, seq: number) => void,
  fates: Map<string, MessageFate>,
  delivered: () => number,
  relay: HostedRelay,
  record: Omit<RunRecord, 'messages'>,
): Promise<{ run: RunRecord; t0: number }> {
  const n = Math.floor(durationMs / CHAT.intervalMs);
  const before = await relay.stats();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const lags: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const due = t0 + i * CHAT.intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const now = performance.now();
    lags.push(now - due);
    fates.set(`client:${i + 1}`, { from: 'client', seq: i + 1, sentAt: now, deliveredAt: Number.NaN });
    send(true, i + 1);
    fates.set(`server:${i}`, { from: 'server', seq: i, sentAt: performance.now(), deliveredAt: Number.NaN });
    send(false, i);
  }
  const deadline = performance.now() + 30_000;
  while (delivered() < 2 * n && performance.now() < deadline) await sleep(20);
  loop.disable();
  const after = await relay.stats();
  const messages = [...fates.values()].filter((m) => !(m.from === 'client' && m.seq === 0));
  for (const m of messages) {
    m.sentAt -= t0;
    m.deliveredAt -= t0;
  }
  lags.sort((a, b) => a - b);
  const lossOf = (k: 'clientToServer' | 'serverToClient', a: RelaySnapshot, b: RelaySnapshot): number =>
    (b[k].droppedLoss - a[k].droppedLoss) / (b[k].sentDatagrams - a[k].sentDatagrams);
  const run: RunRecord = {
    ...record,
    messages,
    loopDelayMs: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
    sendLagMs: { p99: quantileSorted(lags, 0.99), max: lags.at(-1) as number },
    relayLateMs: { mean: after.lateness.meanMs, max: after.lateness.maxMs },
    lossUp: lossOf('clientToServer', before, after),
    lossDown: lossOf('serverToClient', before, after),
    datagramsUp: after.clientToServer.sentDatagrams - before.clientToServer.sentDatagrams,
    datagramsDown: after.serverToClient.sentDatagrams - before.serverToClient.sentDatagrams,
  };
  return { run, t0 };
}

/** rudp's Node API or KCP through the relay, as the bench's relay chat. */
async function benchSystemRun(system: 'rudp' | 'kcp-flush', relays: RelayHost, api: typeof import('rudpx'), seed: number, rep: number): Promise<RunRecord | undefined> {
  const fates = new Map<string, MessageFate>();
  let count = 0;
  const deliver = (up: boolean, data: Uint8Array): void => {
    const p = parsePayload(data);
    if (!p) throw new Error('corrupt payload');
    const f = fates.get(`${up ? 'client' : 'server'}:${p.seq}`);
    if (f && Number.isNaN(f.deliveredAt)) {
      f.deliveredAt = performance.now();
      count++;
    }
  };
  const opened = await openPair(system, { api, relays, udx: undefined }, link, seed, deliver);
  if (!opened) return undefined;
  const { pair, relay } = opened;
  await hello(pair, fates, () => count);
  count = 0;
  const { run } = await chatOverRelay((up, seq) => pair.send(up, makePayload(seq, CHAT.messageBytes)), fates, () => count, relay, { system, seed, rep });
  await pair.close();
  return run;
}

/** Message 0 up (not timed), so a KCP server learns of its client, as `relayChat` does. */
async function hello(pair: RelayPair, fates: Map<string, MessageFate>, delivered: () => number): Promise<void> {
  fates.set('client:0', { from: 'client', seq: 0, sentAt: performance.now(), deliveredAt: Number.NaN });
  pair.send(true, makePayload(0, CHAT.messageBytes));
  const by = performance.now() + 10_000;
  while (delivered() === 0 && performance.now() < by) await sleep(5);
}

/** rudp's plaintext core on the socket driver, tapped. */
async function coreRun(relays: RelayHost, seed: number, rep: number): Promise<RunRecord> {
  const log = new Map<string, PacketLog>();
  const all: PacketLog[] = [];
  const fates = new Map<string, MessageFate>();
  let count = 0;
  const serverTap = new Tap(rudpCore.createEndpoint(createRandom(2 * seed), true, true), 'server', log, all);
  const clientTap = new Tap(rudpCore.createEndpoint(createRandom(2 * seed + 1), false, true), 'client', log, all);
  const arrived = (from: 'client' | 'server', data: Uint8Array, at: number): void => {
    const p = parsePayload(data);
    if (!p) throw new Error('corrupt payload');
    const f = fates.get(`${from}:${p.seq}`);
    if (f && Number.isNaN(f.deliveredAt)) {
      f.deliveredAt = at;
      count++;
    }
  };
  let serverConn: MessageConnection | undefined;
  const server = await driveOnSocket(serverTap, (ev) => {
    if (ev.type === 'incoming' || ev.type === 'message') serverConn ??= ev.connection;
    if (ev.type === 'message') arrived('client', ev.data, serverTap.lastArrivalAt);
  });
  const relay = await relays.startRelay({ ...link, targetPort: server.port, seed, socketBufferBytes: RELAY_SOCKET_BUFFER_BYTES });
  const client = await driveOnSocket(clientTap, (ev) => {
    if (ev.type === 'message') arrived('server', ev.data, clientTap.lastArrivalAt);
  });
  const conn = client.endpoint.connect(performance.now(), `127.0.0.1:${relay.port}`);
  client.wake();
  const pair: RelayPair = {
    send: (up, data) => {
      if (up) {
        conn.send(data);
        client.wake();
      } else {
        serverConn?.send(data);
        server.wake();
      }
    },
    counters: () => undefined,
    close: async () => {
      await Promise.all([client.close(), server.close(), relay.close()]);
    },
  };
  await hello(pair, fates, () => count);
  count = 0;
  const { run, t0 } = await chatOverRelay((up, seq) => pair.send(up, makePayload(seq, CHAT.messageBytes)), fates, () => count, relay, { system: 'rudp-core', seed, rep });
  await pair.close();
  // The packet log in the messages' time base.
  for (const p of all) {
    (p as { sentAt: number }).sentAt -= t0;
    if (p.arrivedAt !== undefined) p.arrivedAt -= t0;
  }
  return { ...run, classes: classesOf(all, run.messages) };
}

/** The same tapped core in the simulator: `chat-anatomy.ts`'s run, `durationMs` long. */
function simRun(seed: number): RunRecord {
  const log = new Map<string, PacketLog>();
  const all: PacketLog[] = [];
  const factory = {
    create(_s: SystemId, random: RandomSource, acceptIncoming: boolean): MessageEndpoint {
      return new Tap(rudpCore.createEndpoint(random, acceptIncoming, true), acceptIncoming ? 'server' : 'client', log, all);
    },
  } as unknown as SystemFactory;
  const n = Math.floor(durationMs / CHAT.intervalMs);
  const fates = new Map<string, MessageFate>();
  let start = 0;
  const pair: SimPair = new SimPair({
    factory,
    system: 'rudp-plain',
    link,
    seed,
    onMessage: (side, data, now) => {
      const p = parsePayload(data);
      const f = p && fates.get(`${side === 'server' ? 'client' : 'server'}:${p.seq}`);
      if (f) f.deliveredAt = now;
    },
    onEstablished: (now) => {
      start = now;
      scheduleChat(pair, now, n, fates);
    },
  });
  pair.connect();
  pair.send('client', makePayload(0, CHAT.messageBytes));
  pair.sim.runFor(durationMs + 20_000);
  const messages = [...fates.values()];
  for (const m of messages) {
    m.sentAt -= start;
    m.deliveredAt -= start;
  }
  for (const p of all) {
    (p as { sentAt: number }).sentAt -= start;
    if (p.arrivedAt !== undefined) p.arrivedAt -= start;
  }
  const up = pair.sim.linkStats('client:1', 'server:1');
  const down = pair.sim.linkStats('server:1', 'client:1');
  return {
    system: 'sim-core',
    seed,
    rep: 0,
    messages,
    classes: classesOf(all, messages),
    lossUp: up.droppedLoss / up.sentDatagrams,
    lossDown: down.droppedLoss / down.sentDatagrams,
    datagramsUp: up.sentDatagrams,
    datagramsDown: down.sentDatagrams,
  };
}

const fmt = (x: number | undefined, d = 1): string => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));

function describe(r: RunRecord): string {
  const undelivered = r.messages.filter((m) => Number.isNaN(m.deliveredAt)).length;
  const max = Math.max(...r.messages.map((m) => m.deliveredAt - m.sentAt));
  const parts = [
    `${r.system.padEnd(9)} seed ${r.seed} rep ${r.rep}: p99 ${fmt(p99Of(r.messages))}`,
    `first 8 s ${fmt(p99Of(r.messages, (m) => m.sentAt < SPLIT_MS))}`,
    `later ${fmt(p99Of(r.messages, (m) => m.sentAt >= SPLIT_MS))}`,
    `max ${fmt(max)}`,
    `n ${r.messages.length}${undelivered > 0 ? ` (${undelivered} undelivered)` : ''}`,
  ];
  if (r.loopDelayMs) parts.push(`loop delay p50/p99/max ${fmt(r.loopDelayMs.p50)}/${fmt(r.loopDelayMs.p99)}/${fmt(r.loopDelayMs.max)}`);
  if (r.sendLagMs) parts.push(`send lag p99/max ${fmt(r.sendLagMs.p99)}/${fmt(r.sendLagMs.max)}`);
  if (r.relayLateMs) parts.push(`relay late mean/max ${fmt(r.relayLateMs.mean, 2)}/${fmt(r.relayLateMs.max)}`);
  if (r.lossUp !== undefined) parts.push(`loss up/down ${fmt(100 * r.lossUp)}%/${fmt(100 * (r.lossDown ?? Number.NaN))}% of ${r.datagramsUp}/${r.datagramsDown}`);
  if (r.classes) parts.push(`tail: ${[...r.classes].sort((a, b) => b[1] - a[1]).map(([c, k]) => `${k} ${c}`).join(', ')}`);
  return parts.join('; ');
}

const api = await import('rudpx');
const relays = systems.some((s) => s !== 'sim-core') ? await RelayHost.start() : undefined;
const runs: RunRecord[] = [];
console.log(`${variant.id}, chat of ${durationMs} ms (${Math.floor(durationMs / CHAT.intervalMs)} messages each way), seeds ${seeds.join(',')}, ${reps} rep(s)`);
try {
  for (const seed of seeds) {
    if (systems.includes('sim-core')) {
      const r = simRun(seed);
      runs.push(r);
      console.log(describe(r));
    }
    for (let rep = 1; rep <= reps; rep++) {
      const real = systems.filter((s) => s !== 'sim-core');
      for (const system of rotated(real, seed + rep)) {
        if (!relays) break;
        let r: RunRecord | undefined;
        if (system === 'rudp-core') r = await coreRun(relays, seed, rep);
        else r = await benchSystemRun(system as 'rudp' | 'kcp-flush', relays, api, seed, rep);
        if (!r) {
          console.log(`${system} seed ${seed} rep ${rep}: did not connect`);
          continue;
        }
        runs.push(r);
        console.log(describe(r));
      }
    }
  }
} finally {
  await relays?.stop();
}

// Summary: p99 per system (median over runs, min–max), ratio to KCP flush paired by seed and repetition.
console.log('\nsummary (median over runs, min–max):');
const bySystem = new Map<ToolSystem, RunRecord[]>();
for (const r of runs) bySystem.set(r.system, [...(bySystem.get(r.system) ?? []), r]);
const cell = (xs: number[]): string => {
  const s = spread(xs);
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
};
for (const [system, rs] of bySystem) {
  const line = [`${system.padEnd(9)} p99 ${cell(rs.map((r) => p99Of(r.messages)))}`, `first 8 s ${cell(rs.map((r) => p99Of(r.messages, (m) => m.sentAt < SPLIT_MS)))}`];
  if (durationMs > SPLIT_MS) line.push(`later ${cell(rs.map((r) => p99Of(r.messages, (m) => m.sentAt >= SPLIT_MS)))}`);
  const pooled = new Map<string, number>();
  for (const r of rs) for (const [c, k] of r.classes ?? []) pooled.set(c, (pooled.get(c) ?? 0) + k);
  const total = [...pooled.values()].reduce((a, b) => a + b, 0);
  if (total > 0) line.push(`tail classes pooled: ${[...pooled].sort((a, b) => b[1] - a[1]).map(([c, k]) => `${c} ${((100 * k) / total).toFixed(0)}%`).join(', ')}`);
  console.log(line.join('; '));
}
const kcp = new Map((bySystem.get('kcp-flush') ?? []).map((r) => [`${r.seed}:${r.rep}`, p99Of(r.messages)]));
for (const system of ['rudp', 'rudp-core'] as const) {
  const ratios = (bySystem.get(system) ?? [])
    .map((r) => p99Of(r.messages) / (kcp.get(`${r.seed}:${r.rep}`) ?? Number.NaN))
    .filter(Number.isFinite);
  const s = spread(ratios);
  if (ratios.length > 0) console.log(`${system} p99 ÷ kcp-flush (same seed and rep): median ${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)}): ${ratios.map((x) => x.toFixed(2)).join(' ')}`);
}
const jsonPath = process.env['JSON'];
if (jsonPath) {
  writeFileSync(
    jsonPath,
    JSON.stringify(runs.map((r) => ({ ...r, classes: r.classes ? Object.fromEntries(r.classes) : undefined, messages: r.messages.map((m) => [m.from === 'client' ? 1 : 0, m.seq, +m.sentAt.toFixed(3), +m.deliveredAt.toFixed(3)]) }))),
  );
}
