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
    // At the server's first message: the packets it had received (handshake packets are not counted), and
    // those the client had sent since its write. Both ends share this process, so under load the request's
    // own resends (a late probe timer) may be read in the batch that delivers it: they are in both counts,
    // and only a packet sent before the write (the empty answer) makes the first larger.
    const atFirst: { readonly received: number; readonly sentSinceWrite: number }[] = [];
    let client: { readonly conn: RudpConnection; readonly sentAtWrite: number } | undefined;
    server.on('connection', (c) => {
      c.once('message', () => {
        const sentSinceWrite = client === undefined ? 0 : client.conn.stats().packetsSent - client.sentAtWrite;
        atFirst.push({ received: c.stats().packetsReceived, sentSinceWrite });
      });
    });
    try {
      for (let i = 0; i < 5; i++) {
        const conn: RudpConnection = await connect({ port: server.address().port, host: '127.0.0.1' });
        client = { conn, sentAtWrite: conn.stats().packetsSent };
        conn.write('request');
        while (atFirst.length <= i) await new Promise((r) => setTimeout(r, 5));
        await conn.close();
      }
    } finally {
      await server.close();
    }
    // Before the fix: 2 received for most connections (a packet of PADDING, then the request), 1 sent since the write.
    for (const { received, sentSinceWrite } of atFirst) {
      expect(sentSinceWrite, JSON.stringify(atFirst)).toBeGreaterThanOrEqual(1);
      expect(received, JSON.stringify(atFirst)).toBeLessThanOrEqual(sentSinceWrite);
    }
  });
});
