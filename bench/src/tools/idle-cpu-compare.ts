/**
 * CPU per message of rudp builds side by side, on the traffic of the many
 * scenario without sockets: a server `Endpoint` and `connections` client
 * endpoints (encrypted, default options) driven in this process over a
 * fixed-delay virtual link, as `alloc-per-message.ts` drives them, each
 * client sending a 16-byte message every 10 s of virtual time (staggered),
 * nothing sent back. The work is deterministic; the time is not: every
 * round runs each build once (order reversed on odd rounds) after a forced
 * GC, and the report gives, per build, the server's time (wall time inside
 * its `handleDatagram`, `handleTimeout`, `pollTransmit`, `pollEvent` and
 * `pollTimeout` calls) and the whole process's CPU time (user + system:
 * the clients and this driver included) per message, and each build's
 * ratio to the first one in the same round (median and min–max).
 *
 * A build is `name=dir`, `dir` holding a built rudp `dist/` (its index.js,
 * core.js and testing.js); `new` (this workspace's build) runs by default.
 *
 * `input`: how each datagram is handed to `handleDatagram`. `uint8array`
 * (default): a plain array of its own. `buffer`: a Node `Buffer` over an
 * `ArrayBuffer` of its own, exactly what `node:dgram` hands the Node adapter
 * (whose `subarray` builds a `Buffer` through its JS constructor).
 *
 * Usage (from bench/): node --expose-gc --import tsx src/tools/idle-cpu-compare.ts
 *   [rounds=5] [connections=1000] [messages=20000] [builds='base=dir;new=dir'] [input=uint8array|buffer]
 */
import { fileURLToPath } from 'node:url';
import { cell } from './median-cell.js';

const rounds = Number(process.argv[2] ?? '5');
const connections = Number(process.argv[3] ?? '1000');
const windowMessages = Number(process.argv[4] ?? '20000');
const here = fileURLToPath(new URL('../../../packages/rudp/dist', import.meta.url));
const builds = (process.argv[5] ?? `new=${here}`).split(';').map((b) => {
  const at = b.indexOf('=');
  return { name: b.slice(0, at), dir: b.slice(at + 1) };
});

const input = process.argv[6] ?? 'uint8array';
if (input !== 'uint8array' && input !== 'buffer') throw new Error(`input must be uint8array or buffer, not ${input}`);
/** A received datagram as the driver hands it over (see `input`). */
const asReceived = (bytes: Uint8Array): Uint8Array => {
  if (input === 'uint8array') return new Uint8Array(bytes);
  const ab = new ArrayBuffer(bytes.length);
  new Uint8Array(ab).set(bytes);
  return Buffer.from(ab);
};

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

type Index = typeof import('rudpx');
type Core = typeof import('rudpx/core');
type Testing = typeof import('rudpx/testing');
interface Build {
  readonly index: Index;
  readonly core: Core;
  readonly testing: Testing;
}
const loaded = new Map<string, Build>();
for (const b of builds) {
  loaded.set(b.name, {
    index: (await import(`${b.dir}/index.js`)) as Index,
    core: (await import(`${b.dir}/core.js`)) as Core,
    testing: (await import(`${b.dir}/testing.js`)) as Testing,
  });
}

const ONE_WAY_MS = 5;
const IDLE_INTERVAL_MS = 10_000;

interface Result {
  /** Server time per message, µs. */
  readonly serverUs: number;
  /** Process CPU per message, µs. */
  readonly processUs: number;
}

type Endpoint = InstanceType<Core['Endpoint']>;
type Connection = ReturnType<Endpoint['connect']>;

function run(b: Build): Result {
  const { Endpoint, formatAddress } = b.core;
  const random = b.testing.createRandom(1);
  const server = new Endpoint({ random, acceptIncoming: true, crypto: b.index.defaultCryptoProvider });
  const serverAddress = formatAddress('10.0.0.1', 4000);
  const clients: Endpoint[] = [];
  const clientAddress: string[] = [];
  const conns: Connection[] = [];
  let now = 0;
  let serverNs = 0n;
  const flightAt: number[] = [];
  const flightTo: number[] = [];
  const flightData: Uint8Array[] = [];
  let flightHead = 0;
  let received = 0;
  const payload = new Uint8Array(16);
  const nextSend: number[] = [];

  const timed = <T>(f: () => T): T => {
    const t0 = process.hrtime.bigint();
    const r = f();
    serverNs += process.hrtime.bigint() - t0;
    return r;
  };
  const drainServer = (): void => {
    for (let t = timed(() => server.pollTransmit(now)); t !== undefined; t = timed(() => server.pollTransmit(now))) {
      flightAt.push(now + ONE_WAY_MS);
      // Negative: to client −1 − to; else from client `to` to the server.
      flightTo.push(-1 - (Number(t.to.slice(t.to.lastIndexOf(':') + 1)) - 10_000));
      flightData.push(t.data);
    }
    for (let ev = timed(() => server.pollEvent()); ev !== undefined; ev = timed(() => server.pollEvent())) if (ev.type === 'message') received++;
  };
  const drainClient = (i: number): void => {
    const e = clients[i] as Endpoint;
    for (let t = e.pollTransmit(now); t !== undefined; t = e.pollTransmit(now)) {
      flightAt.push(now + ONE_WAY_MS);
      flightTo.push(i);
      flightData.push(t.data);
    }
    for (let ev = e.pollEvent(); ev !== undefined; ev = e.pollEvent());
  };
  const step = (): void => {
    let t = Number.POSITIVE_INFINITY;
    if (flightHead < flightAt.length) t = flightAt[flightHead] as number;
    t = Math.min(t, timed(() => server.pollTimeout()) ?? Number.POSITIVE_INFINITY);
    for (const e of clients) t = Math.min(t, e.pollTimeout() ?? Number.POSITIVE_INFINITY);
    for (const s of nextSend) t = Math.min(t, s);
    if (!Number.isFinite(t)) throw new Error('nothing left to do');
    now = Math.max(now, t);
    while (flightHead < flightAt.length && (flightAt[flightHead] as number) <= now) {
      const to = flightTo[flightHead] as number;
      const data = asReceived(flightData[flightHead] as Uint8Array);
      if (to >= 0) timed(() => server.handleDatagram(now, data, clientAddress[to] as string));
      else (clients[-1 - to] as Endpoint).handleDatagram(now, data, serverAddress);
      flightHead++;
    }
    if (flightHead > 4096 && flightHead * 2 > flightAt.length) {
      flightAt.splice(0, flightHead);
      flightTo.splice(0, flightHead);
      flightData.splice(0, flightHead);
      flightHead = 0;
    }
    const due = timed(() => server.pollTimeout());
    if (due !== undefined && due <= now) timed(() => server.handleTimeout(now));
    for (const e of clients) {
      const d = e.pollTimeout();
      if (d !== undefined && d <= now) e.handleTimeout(now);
    }
    for (let i = 0; i < nextSend.length; i++) {
      if ((nextSend[i] as number) <= now) {
        (conns[i] as Connection).send(payload);
        nextSend[i] = now + IDLE_INTERVAL_MS;
      }
    }
    drainServer();
    for (let i = 0; i < clients.length; i++) drainClient(i);
  };

  for (let i = 0; i < connections; i++) {
    const e = new Endpoint({ random, crypto: b.index.defaultCryptoProvider });
    clients.push(e);
    clientAddress.push(formatAddress('10.0.1.1', 10_000 + i));
    conns.push(e.connect(now, serverAddress, { serverKey: server.publicKey as Uint8Array }));
    nextSend.push(Number.POSITIVE_INFINITY);
  }
  for (let i = 0; i < connections; i++) drainClient(i);
  while (conns.some((c) => c.state === 'handshake')) step();
  for (let i = 0; i < connections; i++) nextSend[i] = now + 1 + (i * IDLE_INTERVAL_MS) / connections;
  const runMessages = (n: number): void => {
    const target = received + n;
    while (received < target) step();
  };
  runMessages(Math.max(windowMessages, 3 * connections));
  gc?.();
  serverNs = 0n;
  const cpu0 = process.cpuUsage();
  const before = received;
  runMessages(windowMessages);
  const cpu = process.cpuUsage(cpu0);
  const messages = received - before;
  return { serverUs: Number(serverNs) / 1000 / messages, processUs: (cpu.user + cpu.system) / messages };
}

const results = new Map<string, Result[]>();
const ratios = new Map<string, { server: number[]; process: number[] }>();
for (let round = 0; round < rounds; round++) {
  const order = builds.map((b) => b.name);
  if (round % 2 === 1) order.reverse();
  const thisRound = new Map<string, Result>();
  for (const name of order) {
    gc();
    const r = run(loaded.get(name) as Build);
    thisRound.set(name, r);
    results.set(name, [...(results.get(name) ?? []), r]);
    console.log(`round ${round + 1} ${name}: server ${r.serverUs.toFixed(2)} µs/message, process CPU ${r.processUs.toFixed(2)} µs/message`);
  }
  const first = thisRound.get(builds[0]?.name as string) as Result;
  for (const b of builds.slice(1)) {
    const r = thisRound.get(b.name) as Result;
    const entry = ratios.get(b.name) ?? { server: [], process: [] };
    entry.server.push(r.serverUs / first.serverUs);
    entry.process.push(r.processUs / first.processUs);
    ratios.set(b.name, entry);
  }
}

for (const [name, list] of results) {
  console.log(`${name}: server µs/message ${cell(list.map((r) => r.serverUs))}; process CPU µs/message ${cell(list.map((r) => r.processUs))}`);
}
for (const [name, r] of ratios) console.log(`${name} ÷ ${builds[0]?.name} (same round): server time ${cell(r.server, 3)}; process CPU ${cell(r.process, 3)}`);
