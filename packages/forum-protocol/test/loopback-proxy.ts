import { createServer, connect, type Socket } from 'node:net';

/** A TCP proxy on loopback in front of a database, as {@link loopbackProxy} makes it. */
export interface LoopbackProxy {
  /** The database's URL with its host and port replaced by the proxy's. */
  readonly url: string;
  /** Ends every connection and stops listening. */
  close(): Promise<void>;
}

/** What a `join` of {@link loopbackProxy} may return: to be told of its client's close, which then leaves the upstream open. */
export interface ProxyJoin {
  clientClosed(): void;
}

/**
 * A TCP proxy on loopback in front of the database at `url`: each client connection gets a connection
 * to the database, and `join` moves the bytes between the two (and may watch, hold or cut them).
 * Either socket's close ends the other, unless `join` takes the client's ({@link ProxyJoin}).
 */
export const loopbackProxy = async (url: string, join: (client: Socket, upstream: Socket) => void | ProxyJoin): Promise<LoopbackProxy> => {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    const joined = join(client, upstream);
    client.on('close', () => (typeof joined === 'object' ? joined.clientClosed() : upstream.destroy()));
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(address.port);
  return {
    url: proxied.toString(),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

/** What a test gets from {@link byteCountingProxy}. */
export interface ByteCountingProxy extends LoopbackProxy {
  /** Bytes the database has sent through the proxy so far, to every connection. */
  received(): number;
}

/**
 * A proxy in front of the database at `url` that counts the bytes coming back: how much of a table a
 * store read, seen from outside it.
 */
export const byteCountingProxy = async (url: string): Promise<ByteCountingProxy> => {
  let bytes = 0;
  const proxy = await loopbackProxy(url, (client, upstream) => {
    upstream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    client.pipe(upstream).pipe(client);
  });
  return { ...proxy, received: () => bytes };
};
