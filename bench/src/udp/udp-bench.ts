import dgram from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { IntegrityChecker, isClean, sumIntegrity } from '../integrity/integrity-checker.js';
import { makePayload } from '../integrity/payload.js';
import { BASE_LINK } from '../scenarios/link-variants.js';
import { IP_UDP_HEADER_BYTES } from '../sim/sim-pair.js';
import { collectGarbage } from '../run/many-run.js';
import { summarize, type Summary } from '../stats/summary.js';

/** One connection's throughput against raw dgram for one message size. */
export interface UdpThroughput {
  readonly messageBytes: number;
  readonly rawMessagesPerSec: number;
  readonly rudpMessagesPerSec: number;
  readonly rawMBps: number;
  readonly rudpMBps: number;
  /** Median over the rounds of rudp ÷ raw messages per second (each round measures both). */
  readonly ratio: number;
}

/** Chat through the lossy relay on loopback. */
export interface UdpChatResult {
  readonly system: string;
  readonly loss: number;
  readonly latency: Summary;
  readonly wirePerPayload: number;
  readonly clean: boolean;
  readonly completed: boolean;
}

/** What the real-UDP part measured. */
export interface UdpReport {
  readonly throughput: UdpThroughput[];
  readonly chat: UdpChatResult[];
}

type RudpApi = typeof import('rudp');
type RelayApi = typeof import('udp-relay');

/** Alternating raw/rudp rounds per message size in a full run (medians reported). */
export const UDP_ROUNDS = 3;

/** Most messages a sender keeps outstanding (raw: not yet received; rudp: not yet acknowledged). */
const WINDOW = 256;
/**
 * Time both senders run before counting starts. Without it a short run
 * measures JIT warm-up (rudp's hot path is far larger than a bare
 * `send`/`'message'` pair) and the congestion controller's start, not the
 * steady rate.
 */
export const UDP_WARMUP_MS = 300;
/** Messages per second `received()` counts over `durationMs`, after the warm-up. */
async function steadyRate(received: () => number, durationMs: number): Promise<number> {
  await sleep(UDP_WARMUP_MS);
  const t0 = performance.now();
  const before = received();
  await sleep(durationMs);
  return ((received() - before) * 1000) / (performance.now() - t0);
}

/**
 * Raw dgram windows tried; the better result counts, so the baseline is the
 * best raw dgram managed here (too large a window overflows the receive
 * buffer with 1 KB datagrams, too small starves the pipe).
 */
const RAW_WINDOWS = [32, 128];

/**
 * Raw dgram with ideal flow control: sender and receiver share a counter in
 * this process, so the sender never has more than `window` datagrams
 * unreceived (blasting without it overflows the socket buffer and measures
 * drops, not throughput). Datagrams that never arrive are written off after
 * 5 ms without progress so a drop cannot stall the sender.
 */
export async function rawThroughput(size: number, durationMs: number, window: number): Promise<number> {
  const rx = dgram.createSocket('udp4');
  const tx = dgram.createSocket('udp4');
  rx.bind(0, '127.0.0.1');
  await once(rx, 'listening');
  const port = rx.address().port;
  const msg = Buffer.alloc(size, 7);
  let sent = 0;
  let received = 0;
  let writtenOff = 0;
  let stop = false;
  let scheduled = false;
  const pump = (): void => {
    scheduled = false;
    while (!stop && sent - received - writtenOff < window) {
      sent++;
      tx.send(msg, port, '127.0.0.1');
    }
  };
  rx.on('message', () => {
    received++;
    if (!scheduled && sent - received - writtenOff < window / 2) {
      scheduled = true;
      setImmediate(pump);
    }
  });
  let lastReceived = -1;
  const watchdog = setInterval(() => {
    if (received === lastReceived) {
      writtenOff = sent - received;
      pump();
    }
    lastReceived = received;
  }, 5);
  pump();
  const rate = await steadyRate(() => received, durationMs);
  stop = true;
  clearInterval(watchdog);
  tx.close();
  rx.close();
  return rate;
}

async function rudpThroughput(api: RudpApi, size: number, durationMs: number): Promise<number> {
  const server = await api.listen({ port: 0 });
  let received = 0;
  server.on('connection', (c) => c.on('message', () => received++));
  const client = await api.connect({ port: server.address().port });
  const msg = new Uint8Array(size).fill(7);
  let outstanding = 0;
  let stop = false;
  const pump = (): void => {
    while (!stop && outstanding < WINDOW) {
      outstanding++;
      client.send(msg).then(
        () => {
          outstanding--;
          if (outstanding < WINDOW / 2) pump();
        },
        () => {
          outstanding--;
        },
      );
    }
  };
  pump();
  const rate = await steadyRate(() => received, durationMs);
  stop = true;
  client.destroy();
  await server.close();
  return rate;
}

async function relayChat(api: RudpApi, relayApi: RelayApi, loss: number, seed: number, durationMs: number): Promise<UdpChatResult> {
  const messageBytes = 64;
  const intervalMs = 20;
  const server = await api.listen({ port: 0 });
  const relay = await relayApi.startLossyRelay({ ...BASE_LINK, loss, targetPort: server.address().port, seed });
  const toServer = new IntegrityChecker();
  const toClient = new IntegrityChecker();
  const sentUp: number[] = [];
  const sentDown: number[] = [];
  const latencies: number[] = [];
  const serverConn = new Promise<import('rudp').RudpConnection>((resolve) => server.once('connection', resolve));
  const client = await api.connect({ port: relay.port });
  const serverSide = await Promise.race([serverConn, sleep(10_000).then(() => undefined)]);
  const record = (checker: IntegrityChecker, sent: number[], data: Uint8Array): void => {
    const v = checker.deliver(data);
    if (v.kind === 'ok' || v.kind === 'out-of-order') latencies.push(performance.now() - (sent[v.seq] as number));
  };
  client.on('message', (d) => record(toClient, sentDown, d));
  serverSide?.on('message', (d) => record(toServer, sentUp, d));
  const n = Math.floor(durationMs / intervalMs);
  const t0 = performance.now();
  const swallow = (): void => undefined;
  for (let i = 0; i < n && serverSide; i++) {
    const wait = t0 + i * intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    sentUp[toServer.noteSent()] = performance.now();
    client.send(makePayload(sentUp.length - 1, messageBytes)).catch(swallow);
    sentDown[toClient.noteSent()] = performance.now();
    serverSide.send(makePayload(sentDown.length - 1, messageBytes)).catch(swallow);
  }
  const deadline = performance.now() + 30_000;
  while (toServer.counts().delivered + toClient.counts().delivered < 2 * n && performance.now() < deadline) await sleep(50);
  const stats = relay.stats();
  const wire =
    stats.clientToServer.sentBytes + stats.serverToClient.sentBytes + (stats.clientToServer.sentDatagrams + stats.serverToClient.sentDatagrams) * IP_UDP_HEADER_BYTES;
  const integrity = sumIntegrity([toServer.counts(), toClient.counts()]);
  client.destroy();
  await server.close();
  await relay.close();
  return {
    system: 'rudp',
    loss,
    latency: summarize(latencies),
    wirePerPayload: wire / (2 * n * messageBytes),
    clean: isClean(integrity) || (integrity.duplicated === 0 && integrity.outOfOrder === 0 && integrity.corrupted === 0),
    completed: serverSide !== undefined && integrity.delivered === 2 * n,
  };
}

/**
 * The real-UDP part: one rudp connection's throughput against raw dgram,
 * then chat through rudp's lossy relay on 127.0.0.1. A string explains why
 * it was skipped.
 */
export async function runUdp(quick: boolean, seed: number): Promise<UdpReport | string> {
  let api: RudpApi;
  let relayApi: RelayApi;
  try {
    api = await import('rudp');
    relayApi = await import('udp-relay');
  } catch (e) {
    return `real UDP part skipped: rudp's Node adapter could not be loaded (${e instanceof Error ? e.message : String(e)}).`;
  }
  const throughputMs = quick ? 1_000 : 3_000;
  const rounds = quick ? 1 : UDP_ROUNDS;
  const throughput: UdpThroughput[] = [];
  // Heap left by the simulated scenarios would otherwise tax rudp's collections, not raw dgram's.
  collectGarbage();
  for (const size of [64, 1024]) {
    // Raw and rudp alternate, and each round's ratio pairs measurements taken seconds apart: this
    // 2-core VM's speed drifts by tens of percent between runs, and the medians keep one slow round out.
    const raws: number[] = [];
    const rudps: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      let raw = 0;
      for (const w of RAW_WINDOWS) raw = Math.max(raw, await rawThroughput(size, throughputMs / rounds / RAW_WINDOWS.length, w));
      const rudp = await rudpThroughput(api, size, throughputMs / rounds);
      raws.push(raw);
      rudps.push(rudp);
      ratios.push(rudp / raw);
    }
    const raw = summarize(raws).p50;
    const rudp = summarize(rudps).p50;
    throughput.push({
      messageBytes: size,
      rawMessagesPerSec: raw,
      rudpMessagesPerSec: rudp,
      rawMBps: (raw * size) / 1e6,
      rudpMBps: (rudp * size) / 1e6,
      ratio: summarize(ratios).p50,
    });
  }
  const chat: UdpChatResult[] = [];
  for (const loss of quick ? [0.1] : [0.1, 0.2]) chat.push(await relayChat(api, relayApi, loss, seed, quick ? 5_000 : 20_000));
  return { throughput, chat };
}
