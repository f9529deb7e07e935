import { createServer, connect, type Socket } from 'node:net';

/** What a test gets from {@link byteCountingProxy}. */
export interface ByteCountingProxy {
  /** `url` with its host and port replaced by the proxy's. */
  readonly url: string;
  /** Bytes the database has sent through the proxy so far, to every connection. */
  received(): number;
  close(): Promise<void>;
}

/**
 * A TCP proxy on loopback in front of the database at `url` that counts the
 * bytes coming back: how much of a table a store read, seen from outside it.
 */
export const byteCountingProxy = async (url: string): Promise<ByteCountingProxy> => {
  const target = new URL(url);
  let bytes = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    upstream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
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
    received: () => bytes,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
