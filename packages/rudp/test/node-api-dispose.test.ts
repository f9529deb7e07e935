/**
 * `await using` (explicit resource management) on what `connect` and `listen`
 * return: each is closed when its scope ends, as Node's `net.Server` and
 * `dgram.Socket` are.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { type CloseReason, connect, listen, type RudpConnection, type RudpServer } from '../src/index.js';

describe('Symbol.asyncDispose', () => {
  it('`await using` closes a connection gracefully (what it wrote still arrives) and then the server, when each scope ends', async () => {
    let client: RudpConnection | undefined;
    let server: RudpServer | undefined;
    let serverClosed: Promise<unknown> = Promise.resolve();
    let arrived: Promise<unknown[]> = Promise.resolve([]);
    let peerClosed: Promise<unknown[]> = Promise.resolve([]);
    {
      await using s = await listen({ port: 0 });
      server = s;
      serverClosed = once(s, 'close');
      const accepted = once(s, 'connection') as Promise<[RudpConnection]>;
      {
        await using c = await connect({ port: s.address().port });
        client = c;
        const [peer] = await accepted;
        arrived = once(peer, 'message');
        peerClosed = once(peer, 'close');
        // Not awaited: the scope's end closes gracefully, so it is still delivered.
        c.write('last words');
      }
      expect(client.closed).toBe(true);
      expect(String(((await arrived) as [Buffer])[0])).toBe('last words');
      expect(((await peerClosed) as [CloseReason])[0]).toMatchObject({ kind: 'peer', code: 0 });
      expect(server.connections.size).toBe(0);
    }
    await serverClosed;
    expect(() => server?.address()).toThrow();
    // Disposing again (an explicit close() in the scope first) does nothing and does not throw.
    await expect(client[Symbol.asyncDispose]()).resolves.toBeUndefined();
  });
});
