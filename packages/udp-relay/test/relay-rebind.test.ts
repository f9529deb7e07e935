/**
 * `rebind()`: the relay as a NAT that gives its clients new ports. The
 * target sees a client's datagrams come from a new port, and what it sends
 * to the old one no longer reaches the client.
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startLossyRelay } from '../src/index.js';
import { until } from './helpers/until.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A bound loopback socket that remembers what it receives, and from where. */
async function endpoint(): Promise<{ socket: dgram.Socket; got: { data: number; port: number }[] }> {
  const socket = dgram.createSocket('udp4');
  const got: { data: number; port: number }[] = [];
  socket.on('message', (msg, rinfo) => got.push({ data: msg[0] as number, port: rinfo.port }));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => socket.close(() => resolve())));
  return { socket, got };
}

describe('lossy relay rebind', () => {
  it("moves each client's upstream port; the target's datagrams to the old port are dropped, to the new one delivered", async () => {
    const server = await endpoint();
    const client = await endpoint();
    const relay = await startLossyRelay({ targetPort: (server.socket.address() as AddressInfo).port, seed: 1 });
    cleanups.push(() => relay.close());
    client.socket.send(Buffer.from([1]), relay.port, '127.0.0.1');
    await until(() => server.got.length === 1);
    const oldPort = (server.got[0] as { port: number }).port;

    await relay.rebind();
    client.socket.send(Buffer.from([2]), relay.port, '127.0.0.1');
    await until(() => server.got.length === 2);
    const newPort = (server.got[1] as { port: number }).port;
    expect(newPort).not.toBe(oldPort);

    // To the old port first, then to the new: only the new port's reach the client.
    for (const n of [10, 11, 12]) server.socket.send(Buffer.from([n]), oldPort, '127.0.0.1');
    for (const n of [20, 21]) server.socket.send(Buffer.from([n]), newPort, '127.0.0.1');
    await until(() => client.got.length === 2);
    expect(client.got.map((g) => g.data)).toEqual([20, 21]);
    expect(relay.stats()).toMatchObject({ clients: 1, clientToServer: { deliveredDatagrams: 2 }, serverToClient: { deliveredDatagrams: 2 } });
  });
});
