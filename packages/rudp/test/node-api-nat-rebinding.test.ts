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

describe('NAT rebinding (Node API)', () => {
  it("the server's connection follows the client to its new port: 'migrate' with the old address, remotePort the new one, messages both ways", async () => {
    const server = await listen({ port: 0, host: '127.0.0.1' });
    open.push(server);
    const nat = await startUdpForwarder(server.address().port);
    open.push(nat);
    const accepted = once(server, 'connection') as Promise<[RudpConnection]>;
    // A short idle timeout: a server that did not follow would make the send after the rebinding fail in 3 s, not hang.
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
    expect(conn.remoteAddress).toBe('127.0.0.1');
    expect(conn.remotePort).toBe(oldPort);
    const migrated = once(conn, 'migrate') as Promise<[{ address: string; port: number }]>;
    const newPort = await nat.rebind();
    // Acknowledged only once the server answers at the new port.
    await client.send('after');
    const [previous] = await migrated;
    expect(previous).toEqual({ address: '127.0.0.1', port: oldPort });
    expect(conn.remotePort).toBe(newPort);
    expect(conn.remoteAddress).toBe('127.0.0.1');
    await client.send('and again');
    while (echoes.length < 3) await once(client, 'message');
    expect(received).toEqual(['before', 'after', 'and again']);
    expect(echoes).toEqual(['echo before', 'echo after', 'echo and again']);
    expect(server.stats()).toMatchObject({ migrations: 1, pathValidations: 1, pathValidationsAbandoned: 0 });
  });

  it("the server's connection follows the client to another IP address (127.0.0.2): 'migrate' with the old address, remoteAddress the new one, messages both ways", async () => {
    const server = await listen({ port: 0, host: '127.0.0.1' });
    open.push(server);
    const nat = await startUdpForwarder(server.address().port);
    open.push(nat);
    const accepted = once(server, 'connection') as Promise<[RudpConnection]>;
    // A short idle timeout: a server that did not follow would make the send after the change fail in 3 s, not hang.
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
    expect(conn.remoteAddress).toBe('127.0.0.1');
    const migrated = once(conn, 'migrate') as Promise<[{ address: string; port: number }]>;
    const newPort = await nat.rebind('127.0.0.2');
    // Acknowledged only once the server answers at the new address.
    await client.send('after');
    const [previous] = await migrated;
    expect(previous).toEqual({ address: '127.0.0.1', port: oldPort });
    expect({ address: conn.remoteAddress, port: conn.remotePort }).toEqual({ address: '127.0.0.2', port: newPort });
    await client.send('and again');
    while (echoes.length < 3) await once(client, 'message');
    expect(received).toEqual(['before', 'after', 'and again']);
    expect(echoes).toEqual(['echo before', 'echo after', 'echo and again']);
    expect(server.stats()).toMatchObject({ migrations: 1, hostMigrations: 1, pathValidations: 1, pathValidationsAbandoned: 0, pathValidationsRefused: 0 });
  });
});
