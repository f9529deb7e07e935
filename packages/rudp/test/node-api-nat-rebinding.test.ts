/**
 * NAT rebinding and an IP address change through the Node API, on real
 * loopback sockets: a forwarder stands for the client's NAT and moves its
 * mapping to a new port mid connection, or to a port of 127.0.0.2 (Linux
 * routes all of 127/8 to the loopback). The server's `RudpConnection`
 * follows (`remoteAddress`, `remotePort`, a `'migrate'` event) and messages
 * keep flowing both ways.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, listen, type RudpConnection } from '../src/index.js';
import { startUdpForwarder } from './helpers/udp-forwarder.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

describe('NAT rebinding and an IP address change (Node API)', () => {
  it.each([
    ['its new port', undefined, '127.0.0.1', { migrations: 1, hostMigrations: 0 }],
    ['another IP address (127.0.0.2)', '127.0.0.2', '127.0.0.2', { migrations: 1, hostMigrations: 1 }],
  ] as const)("the server's connection follows the client to %s: 'migrate' with the old address, remoteAddress/remotePort the new one, messages both ways", async (_what, newHost, expectedAddress, moves) => {
    const server = await listen({ port: 0, host: '127.0.0.1' });
    open.push(server);
    const nat = await startUdpForwarder(server.address().port);
    open.push(nat);
    const accepted = once(server, 'connection') as Promise<[RudpConnection]>;
    // A short idle timeout: a server that did not follow would make the send after the move fail in 3 s, not hang.
    const client = await connect({ port: nat.port, host: '127.0.0.1', idleTimeoutMs: 3_000 });
    open.push({ close: () => client.close() });
    const [conn] = await accepted;
    const received: string[] = [];
    conn.on('message', (m) => {
      received.push(m.toString());
      conn.write(`echo ${m.toString()}`);
    });
    const echoes: string[] = [];
    client.on('message', (m) => echoes.push(m.toString()));
    const oldPort = nat.sourcePort;
    await client.send('before');
    expect({ address: conn.remoteAddress, port: conn.remotePort }).toEqual({ address: '127.0.0.1', port: oldPort });
    const migrated = once(conn, 'migrate') as Promise<[{ address: string; port: number }]>;
    const newPort = await nat.rebind(newHost);
    // Acknowledged only once the server answers at the new address.
    await client.send('after');
    const [previous] = await migrated;
    expect(previous).toEqual({ address: '127.0.0.1', port: oldPort });
    expect({ address: conn.remoteAddress, port: conn.remotePort }).toEqual({ address: expectedAddress, port: newPort });
    await client.send('and again');
    while (echoes.length < 3) await once(client, 'message');
    expect(received).toEqual(['before', 'after', 'and again']);
    expect(echoes).toEqual(['echo before', 'echo after', 'echo and again']);
    expect(server.stats()).toMatchObject({ ...moves, pathValidations: 1, pathValidationsAbandoned: 0, pathValidationsRefused: 0 });
  });
});
