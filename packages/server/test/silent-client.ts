/**
 * A logged-in client that acknowledges nothing the server sends: its own
 * proxy (one-way-proxy.ts) forwards its datagrams and, once the login is
 * answered, drops the server's. The reply-budget tests hold replies with it.
 */
import { encodeRequest } from 'forum-protocol';
import { connect, type RudpConnection } from 'rudpx';
import { startOneWayProxy, type OneWayProxy } from './one-way-proxy.js';

/** Polls `ready` every 10 ms; rejects after `ms` with `what`. */
export const until = async (ready: () => boolean, ms: number, what: string): Promise<void> => {
  const end = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** A silenced client and its proxy (both for the caller to close). */
export interface SilentClient {
  readonly proxy: OneWayProxy;
  readonly conn: RudpConnection;
}

/**
 * Logs `user` (password `pw`) in to the server at `serverPort` through a new proxy sending from `fromAddress`
 * (another loopback address is another client host), then silences the server: from then on nothing it
 * sends this client is acknowledged.
 */
export const silentLogin = async (serverPort: number, user: string, fromAddress?: string): Promise<SilentClient> => {
  const proxy = await startOneWayProxy(serverPort, fromAddress);
  const conn = await connect({ port: proxy.port, handshakeTimeoutMs: 30_000, idleTimeoutMs: 120_000 });
  let replies = 0;
  conn.on('message', () => replies++);
  await conn.send(encodeRequest({ id: 'u', username: '', cmd: 'username', args: [user] }));
  await conn.send(encodeRequest({ id: 'p', username: '', cmd: 'password', args: ['pw'] }));
  await until(() => replies >= 2, 10_000, `${user}'s login`);
  proxy.silenceServer();
  return { proxy, conn };
};
