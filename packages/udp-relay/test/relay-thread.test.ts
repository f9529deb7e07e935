import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
// The build, as the forum's tests load it: the relay thread runs dist/relay-thread-worker.js.
import { startLossyRelayThread } from 'udp-relay';
import { until } from './helpers/until.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A bound loopback socket that remembers the senders of what it receives. */
async function endpoint(): Promise<{ socket: dgram.Socket; from: dgram.RemoteInfo[] }> {
  const socket = dgram.createSocket('udp4');
  const from: dgram.RemoteInfo[] = [];
  socket.on('message', (_msg, rinfo) => from.push(rinfo));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => socket.close(() => resolve())));
  return { socket, from };
}

const send = (socket: dgram.Socket, port: number): Promise<void> =>
  new Promise((resolve, reject) => socket.send(Buffer.from('x'), port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));

/** Holds this thread's event loop for `ms`, as long synchronous work in a test does. */
const hold = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
};

describe('startLossyRelayThread', () => {
  it("forwards on time while the caller's event loop is held", async () => {
    const target = await endpoint();
    const client = await endpoint();
    const relay = await startLossyRelayThread({ targetPort: target.socket.address().port, seed: 1, delayMs: 100 });
    cleanups.push(() => relay.close());
    for (let i = 0; i < 5; i++) await send(client.socket, relay.port);
    // Sent (in the kernel) before the hold; due 100 ms on. A relay on this thread would read them only after it.
    hold(1_500);
    const stats = await relay.stats();
    expect(stats.clientToServer.deliveredDatagrams).toBe(5);
    expect(stats.pending).toBe(0);
    await until(() => target.from.length === 5);
  });

  it('partition, rebind and stats reach the relay; close ends the thread', async () => {
    const target = await endpoint();
    const client = await endpoint();
    const relay = await startLossyRelayThread({ targetPort: target.socket.address().port, seed: 1 });
    cleanups.push(() => relay.close());
    await send(client.socket, relay.port);
    await until(() => target.from.length === 1);
    await relay.setPartitioned(true);
    expect(relay.partitioned).toBe(true);
    await send(client.socket, relay.port);
    for (let i = 0; (await relay.stats()).droppedPartition === 0; i++) {
      if (i > 500) throw new Error('nothing dropped at the partition');
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(target.from.length).toBe(1);
    await relay.setPartitioned(false);
    expect(relay.partitioned).toBe(false);
    const before = target.from[0]?.port;
    await relay.rebind();
    await send(client.socket, relay.port);
    await until(() => target.from.length === 2);
    expect(target.from[1]?.port).not.toBe(before);
    const stats = await relay.stats();
    expect({ clients: stats.clients, droppedPartition: stats.droppedPartition, delivered: stats.clientToServer.deliveredDatagrams }).toEqual({
      clients: 1,
      droppedPartition: 1,
      delivered: 2,
    });
    await relay.close();
    await expect(relay.stats()).rejects.toThrow(/relay thread exited/);
    await relay.close();
  });

  it('rejects when the relay cannot start (its port taken)', async () => {
    const taken = await endpoint();
    await expect(startLossyRelayThread({ targetPort: 9, seed: 1, listenPort: taken.socket.address().port })).rejects.toThrow(/EADDRINUSE/);
  });

  it('the CommonJS build starts its own worker file', async () => {
    const target = await endpoint();
    const client = await endpoint();
    const cjs = createRequire(import.meta.url)('udp-relay') as typeof import('udp-relay');
    const relay = await cjs.startLossyRelayThread({ targetPort: target.socket.address().port, seed: 1 });
    cleanups.push(() => relay.close());
    await send(client.socket, relay.port);
    await until(() => target.from.length === 1);
  });
});
