/**
 * On real sockets, a client that writes as soon as `connect()` resolves
 * answers the server's ACCEPT with that request (handshake.ts): the adapter
 * handles its timeouts right after the burst that held the ACCEPT, before
 * the poll that resolves the promise, and that timer turn must not send an
 * empty answer ahead of the request.
 */
import { describe, expect, it } from 'vitest';
import { connect, listen, type RudpConnection } from '../src/index.js';

describe('a client that writes as soon as it is connected', () => {
  it('sends its request as its first packet, with no empty answer ahead of it', async () => {
    const server = await listen({ port: 0, host: '127.0.0.1' });
    // Handshake packets are not counted: the server's count at the first message is the packets that led to it.
    const receivedAtFirst: number[] = [];
    server.on('connection', (c) => {
      c.once('message', () => receivedAtFirst.push(c.stats().packetsReceived));
    });
    try {
      for (let i = 0; i < 5; i++) {
        const conn: RudpConnection = await connect({ port: server.address().port, host: '127.0.0.1' });
        conn.write('request');
        while (receivedAtFirst.length <= i) await new Promise((r) => setTimeout(r, 5));
        await conn.close();
      }
    } finally {
      await server.close();
    }
    // Before the fix: 2 for most connections (a packet of PADDING, then the request).
    expect(receivedAtFirst).toEqual([1, 1, 1, 1, 1]);
  });
});
