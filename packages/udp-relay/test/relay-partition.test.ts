import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startLossyRelay } from '../src/index.js';
import { until } from './helpers/until.js';
import type { LossyRelay } from '../src/index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A bound loopback socket that counts what it receives and remembers the senders. */
async function endpoint(): Promise<{ socket: dgram.Socket; got: () => number; from: dgram.RemoteInfo[] }> {
  const socket = dgram.createSocket('udp4');
  const from: dgram.RemoteInfo[] = [];
  socket.on('message', (_msg, rinfo) => from.push(rinfo));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => socket.close(() => resolve())));
  return { socket, got: () => from.length, from };
}

async function relayTo(target: dgram.Socket, delayMs = 0): Promise<LossyRelay> {
  const relay = await startLossyRelay({ targetPort: (target.address() as AddressInfo).port, seed: 1, delayMs });
  cleanups.push(() => relay.close());
  return relay;
}

const send = (s: dgram.Socket, port: number, n: number): void => {
  for (let i = 0; i < n; i++) s.send(Buffer.from([i]), port, '127.0.0.1');
};

describe('lossy relay partition', () => {
  it('drops everything both ways while cut, and forwards again once healed', async () => {
    const server = await endpoint();
    const client = await endpoint();
    const relay = await relayTo(server.socket);
    const serverPort = (): number => server.from[0]?.port ?? 0;

    send(client.socket, relay.port, 1);
    await until(() => server.got() === 1);
    expect(relay.partitioned).toBe(false);

    relay.setPartitioned(true);
    expect(relay.partitioned).toBe(true);
    send(client.socket, relay.port, 10);
    await until(() => relay.stats().droppedPartition === 10);
    // The server answers through the client's upstream socket: dropped too.
    send(server.socket, serverPort(), 10);
    await until(() => relay.stats().droppedPartition === 20);
    expect(server.got()).toBe(1);
    expect(client.got()).toBe(0);
    expect(relay.stats().clientToServer.deliveredDatagrams).toBe(1);
    expect(relay.stats().serverToClient.deliveredDatagrams).toBe(0);

    relay.setPartitioned(false);
    send(client.socket, relay.port, 5);
    send(server.socket, serverPort(), 5);
    await until(() => server.got() === 6 && client.got() === 5);
    expect(relay.stats()).toMatchObject({ droppedPartition: 20, clientToServer: { deliveredDatagrams: 6 }, serverToClient: { deliveredDatagrams: 5 } });
  });

  it('drops datagrams that were waiting out their delay when the cut came, without counting them delivered', async () => {
    const server = await endpoint();
    const client = await endpoint();
    const relay = await relayTo(server.socket, 200);
    send(client.socket, relay.port, 5);
    await until(() => relay.stats().pending === 5);
    relay.setPartitioned(true);
    await until(() => relay.stats().pending === 0);
    expect(relay.stats()).toMatchObject({ droppedPartition: 5, clientToServer: { sentDatagrams: 5, deliveredDatagrams: 0 } });
    expect(server.got()).toBe(0);
  });
});
