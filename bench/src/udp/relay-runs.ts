import { setTimeout as sleep } from 'node:timers/promises';
import type { LinkConfig } from '../lib/rudp-imports.js';
import { IntegrityChecker, isClean, sumIntegrity, type IntegrityCounts } from '../integrity/integrity-checker.js';
import { makePayload } from '../integrity/payload.js';
import { KcpEndpoint } from '../peers/kcp-endpoint.js';
import { kcpFast, kcpFlush } from '../peers/kcp-profile.js';
import type { MessageConnection } from '../peers/message-endpoint.js';
import { IP_UDP_HEADER_BYTES } from '../sim/sim-pair.js';
import { summarize } from '../stats/summary.js';
import { createRandom } from '../lib/rudp-imports.js';
import { PayloadDeframer, type UdxConstructor, type UdxSocket } from '../peers/udx-native.js';
import type { RelayHost, HostedRelay, RelaySnapshot } from './relay-host.js';
import { driveOnSocket } from './socket-driver.js';
import { udpSocketDrops } from './socket-drops.js';
import type { RelaySystem, UdpBulkResult, UdpChatResult, UdpDrops } from './udp-results.js';

type RudpApi = typeof import('rudpx');
type Relay = HostedRelay;

/** What the relay runs need loaded: rudp's Node API, the relay process, and udx-native when it loaded. */
export interface RelayDeps {
  readonly api: RudpApi;
  readonly relays: RelayHost;
  readonly udx: UdxConstructor | undefined;
}

/**
 * Kernel receive and send buffer of every relay socket: 4 MiB (Linux caps it
 * at net.core.rmem_max), as rudp asks for its own socket. With the default
 * (about 208 KiB, some 90 full datagrams) a window the sender writes while
 * the relay is descheduled overflows it: drops of the harness, not the link.
 */
export const RELAY_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/** Starts the relay for one run: `link` both ways, in front of `targetPort`. */
function startRelay(deps: RelayDeps, link: LinkConfig, targetPort: number, seed: number): Promise<Relay> {
  return deps.relays.startRelay({ ...link, targetPort, seed, socketBufferBytes: RELAY_SOCKET_BUFFER_BYTES });
}

/** The sender's packet counters; `spurious` is `NaN` when the transport does not count them. */
interface SenderCounters {
  readonly sent: number;
  readonly resent: number;
  readonly spurious: number;
}

/** A client and a server of one system talking through a relay on 127.0.0.1. */
export interface RelayPair {
  /** Sends one message client → server (`up`) or server → client. */
  send(up: boolean, data: Uint8Array): void;
  /** The client's packet counters, when its transport counts them. */
  counters(): SenderCounters | undefined;
  close(): Promise<void>;
}

export type Deliver = (up: boolean, data: Uint8Array) => void;

async function rudpPair(api: RudpApi, deps: RelayDeps, link: LinkConfig, seed: number, deliver: Deliver): Promise<{ pair: RelayPair; relay: Relay } | undefined> {
  const server = await api.listen({ port: 0 });
  const relay = await startRelay(deps, link, server.address().port, seed);
  const accepted = new Promise<import('rudpx').RudpConnection>((resolve) => server.once('connection', resolve));
  const client = await api.connect({ port: relay.port });
  const serverSide = await Promise.race([accepted, sleep(10_000).then(() => undefined)]);
  if (!serverSide) {
    client.destroy();
    await Promise.all([server.close(), relay.close()]);
    return undefined;
  }
  client.on('message', (d) => deliver(false, d));
  serverSide.on('message', (d) => deliver(true, d));
  return {
    relay,
    pair: {
      // Fire and forget, as rudp's README shows such a writer: write(), no promise per message.
      send: (up, data) => void (up ? client : serverSide).write(data),
      counters: () => {
        const s = client.stats();
        return { sent: s.packetsSent, resent: s.packetsRetransmitted, spurious: s.spuriousRetransmissions };
      },
      close: async () => {
        client.destroy();
        await server.close();
        await relay.close();
      },
    },
  };
}

async function kcpPair(system: 'kcp-flush' | 'kcp-fast', deps: RelayDeps, link: LinkConfig, seed: number, deliver: Deliver): Promise<{ pair: RelayPair; relay: Relay }> {
  const profile = system === 'kcp-flush' ? kcpFlush : kcpFast;
  let serverConn: MessageConnection | undefined;
  const server = await driveOnSocket(new KcpEndpoint({ profile, random: createRandom(seed), acceptIncoming: true }), (ev) => {
    if (ev.type === 'incoming') serverConn = ev.connection;
    if (ev.type === 'message') deliver(true, ev.data);
  });
  const relay = await startRelay(deps, link, server.port, seed);
  const client = await driveOnSocket(new KcpEndpoint({ profile, random: createRandom(seed + 1), acceptIncoming: false }), (ev) => {
    if (ev.type === 'message') deliver(false, ev.data);
  });
  const conn = client.endpoint.connect(performance.now(), `127.0.0.1:${relay.port}`);
  client.wake();
  return {
    relay,
    pair: {
      send: (up, data) => {
        if (up) {
          conn.send(data);
          client.wake();
        } else if (serverConn) {
          serverConn.send(data);
          server.wake();
        }
      },
      counters: () => undefined,
      close: async () => {
        await Promise.all([client.close(), server.close(), relay.close()]);
      },
    },
  };
}

/**
 * The port the relay's upstream socket for `client` uses: udx-native connects
 * a stream to a known address, so the server learns it from raw datagrams the
 * client sends through the relay (repeated, as the relay may lose them).
 */
async function upstreamOf(client: UdxSocket, server: UdxSocket, relayPort: number): Promise<{ port: number; host: string } | undefined> {
  return new Promise((resolve) => {
    const hello = Buffer.from('udx-bench-hello');
    const done = (from: { port: number; host: string } | undefined): void => {
      clearInterval(ping);
      clearTimeout(giveUp);
      server.off('message', onMessage);
      resolve(from);
    };
    const onMessage = (msg: Buffer, from: { readonly port: number; readonly host: string }): void => {
      if (msg.equals(hello)) done({ port: from.port, host: from.host });
    };
    server.on('message', onMessage);
    const ping = setInterval(() => client.trySend(hello, relayPort, '127.0.0.1'), 20);
    const giveUp = setTimeout(() => done(undefined), 10_000);
    client.trySend(hello, relayPort, '127.0.0.1');
  });
}

/** One udx-native stream each way through the relay, messages framed by the payloads' own length field. */
async function udxPair(UDX: UdxConstructor, deps: RelayDeps, link: LinkConfig, seed: number, deliver: Deliver): Promise<{ pair: RelayPair; relay: Relay } | undefined> {
  const udx = new UDX();
  const clientSocket = udx.createSocket();
  const serverSocket = udx.createSocket();
  clientSocket.bind(0, '127.0.0.1');
  serverSocket.bind(0, '127.0.0.1');
  const relay = await startRelay(deps, link, serverSocket.address().port, seed);
  const upstream = await upstreamOf(clientSocket, serverSocket, relay.port);
  if (!upstream) {
    await Promise.all([clientSocket.close(), serverSocket.close(), relay.close()]);
    return undefined;
  }
  const client = udx.createStream(1);
  const server = udx.createStream(2);
  client.connect(clientSocket, 2, relay.port, '127.0.0.1');
  server.connect(serverSocket, 1, upstream.port, upstream.host);
  const up = new PayloadDeframer((d) => deliver(true, d));
  const down = new PayloadDeframer((d) => deliver(false, d));
  server.on('data', (d) => up.push(d));
  client.on('data', (d) => down.push(d));
  client.on('error', () => {});
  server.on('error', () => {});
  return {
    relay,
    pair: {
      send: (toServer, data) => void (toServer ? client : server).write(data),
      counters: () => ({ sent: client.packetsTransmitted, resent: client.retransmits, spurious: Number.NaN }),
      close: async () => {
        client.destroy();
        server.destroy();
        await Promise.all([clientSocket.close(), serverSocket.close(), relay.close()]);
      },
    },
  };
}

export function openPair(system: RelaySystem, deps: RelayDeps, link: LinkConfig, seed: number, deliver: Deliver): Promise<{ pair: RelayPair; relay: Relay } | undefined> {
  if (system === 'rudp') return rudpPair(deps.api, deps, link, seed, deliver);
  if (system === 'udx-native') return deps.udx ? udxPair(deps.udx, deps, link, seed, deliver) : Promise.resolve(undefined);
  return kcpPair(system, deps, link, seed, deliver);
}

function clean(integrity: IntegrityCounts): boolean {
  return isClean(integrity) || (integrity.duplicated === 0 && integrity.outOfOrder === 0 && integrity.corrupted === 0);
}

/** One relay chat: 64 B every 20 ms each way for `durationMs`, latency send → delivery. */
export async function relayChat(
  system: RelaySystem,
  deps: RelayDeps,
  variantId: string,
  link: LinkConfig,
  seed: number,
  durationMs: number,
): Promise<UdpChatResult> {
  const messageBytes = 64;
  const intervalMs = 20;
  const toServer = new IntegrityChecker();
  const toClient = new IntegrityChecker();
  const sentUp: number[] = [];
  const sentDown: number[] = [];
  const latencies: number[] = [];
  const record = (up: boolean, data: Uint8Array): void => {
    const v = (up ? toServer : toClient).deliver(data);
    // Message 0 up is the hello that lets a KCP server learn of its client; it is not timed.
    if ((v.kind === 'ok' || v.kind === 'out-of-order') && (v.seq > 0 || !up)) latencies.push(performance.now() - ((up ? sentUp : sentDown)[v.seq] as number));
  };
  const opened = await openPair(system, deps, link, seed, record);
  const n = Math.floor(durationMs / intervalMs);
  if (!opened) {
    return { system, variantId, seed, latency: summarize([]), wirePerPayload: Number.NaN, clean: true, completed: false };
  }
  const { pair, relay } = opened;
  sentUp[toServer.noteSent()] = performance.now();
  pair.send(true, makePayload(0, messageBytes));
  const helloBy = performance.now() + 10_000;
  while (toServer.counts().delivered === 0 && performance.now() < helloBy) await sleep(5);
  const before = await relay.stats();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const wait = t0 + i * intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    sentUp[toServer.noteSent()] = performance.now();
    pair.send(true, makePayload(sentUp.length - 1, messageBytes));
    sentDown[toClient.noteSent()] = performance.now();
    pair.send(false, makePayload(sentDown.length - 1, messageBytes));
  }
  const deadline = performance.now() + 30_000;
  while (toServer.counts().delivered + toClient.counts().delivered < 2 * n + 1 && performance.now() < deadline) await sleep(20);
  const after = await relay.stats();
  const wire = (s: typeof after): number =>
    s.clientToServer.sentBytes + s.serverToClient.sentBytes + (s.clientToServer.sentDatagrams + s.serverToClient.sentDatagrams) * IP_UDP_HEADER_BYTES;
  const integrity = sumIntegrity([toServer.counts(), toClient.counts()]);
  await pair.close();
  return {
    system,
    variantId,
    seed,
    latency: summarize(latencies),
    wirePerPayload: (wire(after) - wire(before)) / (2 * n * messageBytes),
    clean: clean(integrity),
    completed: integrity.delivered === 2 * n + 1,
  };
}

/** Size of each message of a relay bulk transfer. */
const CHUNK_BYTES = 16 * 1024;

/** One relay bulk transfer of `totalBytes` client → server, all handed to the transport at once after a hello. */
export async function relayBulk(
  system: RelaySystem,
  deps: RelayDeps,
  variantId: string,
  link: LinkConfig,
  reorder: boolean,
  seed: number,
  totalBytes: number,
): Promise<UdpBulkResult> {
  const chunks = Math.ceil(totalBytes / CHUNK_BYTES);
  const checker = new IntegrityChecker();
  let doneAt = Number.NaN;
  const opened = await openPair(system, deps, link, seed, (up, data) => {
    if (!up) return;
    checker.deliver(data);
    if (Number.isNaN(doneAt) && checker.counts().delivered === chunks + 1) doneAt = performance.now();
  });
  const loss = link.loss ?? 0;
  const failed: UdpBulkResult = {
    system,
    variantId,
    reorder,
    loss,
    seed,
    totalBytes,
    completionMs: Number.NaN,
    goodputBps: 0,
    resentShare: Number.NaN,
    spuriousShare: Number.NaN,
    drops: NO_DROPS,
    cpuSeconds: Number.NaN,
    relayCpuSeconds: Number.NaN,
    relayLateness: { meanMs: Number.NaN, maxMs: Number.NaN },
    clean: true,
    completed: false,
  };
  if (!opened) return failed;
  const { pair, relay } = opened;
  pair.send(true, makePayload(checker.noteSent(), 64));
  const helloBy = performance.now() + 10_000;
  while (checker.counts().delivered === 0 && performance.now() < helloBy) await sleep(5);
  const relay0 = await relay.stats();
  const ends0 = udpSocketDrops();
  const sender0 = pair.counters();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < chunks; i++) pair.send(true, makePayload(checker.noteSent(), Math.min(CHUNK_BYTES, totalBytes - i * CHUNK_BYTES)));
  const deadline = t0 + 60_000;
  while (Number.isNaN(doneAt) && performance.now() < deadline) await sleep(10);
  const cpu = process.cpuUsage(cpu0);
  const completed = !Number.isNaN(doneAt);
  const elapsed = (completed ? doneAt : performance.now()) - t0;
  // Read before closing: a closed socket takes its drop count with it.
  const relay1 = await relay.stats();
  const ends1 = udpSocketDrops();
  const sender1 = pair.counters();
  await pair.close();
  const sent = sender0 && sender1 ? sender1.sent - sender0.sent : Number.NaN;
  return {
    ...failed,
    completionMs: completed ? elapsed : Number.NaN,
    goodputBps: ((completed ? totalBytes : 0) * 8) / (elapsed / 1000),
    resentShare: sender0 && sender1 && sent > 0 ? (sender1.resent - sender0.resent) / sent : Number.NaN,
    spuriousShare: sender0 && sender1 && sent > 0 ? (sender1.spurious - sender0.spurious) / sent : Number.NaN,
    drops: dropsBetween(relay0, relay1, ends1 - ends0),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    relayCpuSeconds: relay1.cpuSeconds - relay0.cpuSeconds,
    relayLateness: relay1.lateness,
    clean: clean(checker.counts()),
    completed,
  };
}

const NO_DROPS: UdpDrops = { link: Number.NaN, queue: Number.NaN, relayKernel: Number.NaN, endsKernel: Number.NaN };

/** Where datagrams were lost between two relay snapshots, both directions summed. */
function dropsBetween(a: RelaySnapshot, b: RelaySnapshot, endsKernel: number): UdpDrops {
  const both = (s: RelaySnapshot, key: 'droppedLoss' | 'droppedQueue'): number => s.clientToServer[key] + s.serverToClient[key];
  return {
    link: both(b, 'droppedLoss') - both(a, 'droppedLoss'),
    queue: both(b, 'droppedQueue') - both(a, 'droppedQueue'),
    relayKernel: b.kernelDrops - a.kernelDrops,
    endsKernel,
  };
}
