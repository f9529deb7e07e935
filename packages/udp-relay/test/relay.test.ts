import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startLossyRelay } from '../src/index.js';
import { until } from './helpers/until.js';
import type { LossyRelay, LossyRelayOptions } from '../src/index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function closeSocket(s: dgram.Socket): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()));
}

async function bound(onMessage: (msg: Buffer, rinfo: dgram.RemoteInfo, socket: dgram.Socket) => void): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, rinfo) => onMessage(msg, rinfo, s));
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  cleanups.push(() => closeSocket(s));
  return s;
}

const portOf = (s: dgram.Socket): number => (s.address() as AddressInfo).port;

/** A UDP echo server that records the sender address of every datagram. */
async function echoServer(): Promise<{ socket: dgram.Socket; from: string[] }> {
  const from: string[] = [];
  const socket = await bound((msg, rinfo, s) => {
    from.push(`${rinfo.address}:${rinfo.port}`);
    s.send(msg, rinfo.port, rinfo.address);
  });
  return { socket, from };
}

async function relayTo(server: dgram.Socket, opts: Omit<LossyRelayOptions, 'targetPort'>): Promise<LossyRelay> {
  const relay = await startLossyRelay({ targetPort: portOf(server), ...opts });
  cleanups.push(() => relay.close());
  return relay;
}

const numbered = (i: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(i, 0);
  return b;
};

/** Sends `n` numbered datagrams in small batches so no socket buffer overflows. */
async function sendNumbered(client: dgram.Socket, port: number, n: number, offset = 0): Promise<void> {
  for (let i = 0; i < n; i++) {
    client.send(numbered(offset + i), port, '127.0.0.1');
    if (i % 25 === 24) await new Promise((r) => setTimeout(r, 1));
  }
}

/** Waits until every datagram the client sent has been through the relay and the echo, both ways. */
async function settle(relay: LossyRelay, sent: number, serverGot: () => number, clientGot: () => number): Promise<void> {
  await until(() => {
    const s = relay.stats();
    return (
      s.clientToServer.sentDatagrams === sent &&
      s.pending === 0 &&
      serverGot() === s.clientToServer.deliveredDatagrams &&
      s.serverToClient.sentDatagrams === serverGot() &&
      clientGot() === s.serverToClient.deliveredDatagrams
    );
  });
}

describe('startLossyRelay', () => {
  it('forwards everything both ways with loss 0, one upstream address per client', async () => {
    const server = await echoServer();
    const relay = await relayTo(server.socket, { seed: 1 });
    const got: number[][] = [[], []];
    const clients = await Promise.all([0, 1].map((k) => bound((msg) => got[k]!.push(msg.readUInt32BE(0)))));
    await sendNumbered(clients[0]!, relay.port, 200, 0);
    await sendNumbered(clients[1]!, relay.port, 200, 1000);
    await settle(relay, 400, () => server.from.length, () => got[0]!.length + got[1]!.length);
    expect([...got[0]!].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect([...got[1]!].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => 1000 + i));
    const upstreams = new Set(server.from);
    expect(upstreams.size).toBe(2);
    expect(upstreams.has(`127.0.0.1:${relay.port}`)).toBe(false);
    expect(relay.stats().clients).toBe(2);
  });

  it('loses about half with loss 0.5 per direction', async () => {
    const server = await echoServer();
    const relay = await relayTo(server.socket, { seed: 1, loss: 0.5 });
    let clientGot = 0;
    const client = await bound(() => clientGot++);
    const n = 1000;
    await sendNumbered(client, relay.port, n);
    await settle(relay, n, () => server.from.length, () => clientGot);
    const s = relay.stats();
    // Binomial(1000, 0.5): σ ≈ 16; Binomial(server count, 0.5) on the way back.
    expect(Math.abs(server.from.length - 500)).toBeLessThan(80);
    expect(Math.abs(clientGot - server.from.length / 2)).toBeLessThan(60);
    expect(s.clientToServer.droppedLoss + s.clientToServer.deliveredDatagrams).toBe(n);
  });

  it('duplicates datagrams', async () => {
    const server = await echoServer();
    const relay = await relayTo(server.socket, { seed: 2, duplicate: 0.3 });
    let clientGot = 0;
    const client = await bound(() => clientGot++);
    await sendNumbered(client, relay.port, 300);
    await settle(relay, 300, () => server.from.length, () => clientGot);
    const dup = relay.stats().clientToServer.duplicated;
    expect(dup).toBeGreaterThan(50);
    expect(server.from.length).toBe(300 + dup);
  });

  it('delays each direction by delayMs', async () => {
    const server = await echoServer();
    const relay = await relayTo(server.socket, { seed: 3, delayMs: 30 });
    const rtts: number[] = [];
    let sentAt = 0;
    const client = await bound(() => rtts.push(performance.now() - sentAt));
    for (let i = 0; i < 3; i++) {
      sentAt = performance.now();
      client.send(numbered(i), relay.port, '127.0.0.1');
      await until(() => rtts.length === i + 1);
    }
    for (const rtt of rtts) expect(rtt).toBeGreaterThanOrEqual(59);
    // What the relay added to the model's delay is reported, and is what the round trips show beyond it.
    const { meanMs, maxMs } = relay.stats().lateness;
    expect(meanMs).toBeGreaterThanOrEqual(0);
    expect(maxMs).toBeGreaterThanOrEqual(meanMs);
    expect(maxMs).toBeLessThanOrEqual(Math.max(...rtts) - 60 + 0.5);
  });

  it('reorders with independent jitter and a reorder hold, losing nothing', async () => {
    const server = await echoServer();
    const relay = await relayTo(server.socket, { seed: 5, delayMs: 5, jitterMs: 5, jitterMode: 'independent', reorder: 0.1, reorderHoldMs: 25 });
    const got: number[] = [];
    const client = await bound((msg) => got.push(msg.readUInt32BE(0)));
    const n = 300;
    await sendNumbered(client, relay.port, n);
    await settle(relay, n, () => server.from.length, () => got.length);
    expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    const inversions = got.filter((v, i) => i > 0 && v < got[i - 1]!).length;
    // Each held datagram (about 60 over the two directions) is overtaken by everything sent in its 25 ms.
    expect(relay.stats().clientToServer.reordered + relay.stats().serverToClient.reordered).toBeGreaterThan(20);
    expect(inversions).toBeGreaterThan(10);
  });

  it('bounds clients and expires idle ones', async () => {
    const server = await echoServer();
    const relay = await relayTo(server.socket, { seed: 4, maxClients: 1, idleTimeoutMs: 40 });
    let got = 0;
    const a = await bound(() => got++);
    const b = await bound(() => got++);
    a.send(numbered(1), relay.port, '127.0.0.1');
    await until(() => got === 1);
    b.send(numbered(2), relay.port, '127.0.0.1');
    await until(() => relay.stats().rejectedDatagrams === 1);
    await until(() => relay.stats().clients === 0);
    expect(relay.stats().expiredClients).toBe(1);
    b.send(numbered(3), relay.port, '127.0.0.1');
    await until(() => got === 2);
    expect(relay.stats().clientToServer.deliveredDatagrams).toBe(2);
  });
});
