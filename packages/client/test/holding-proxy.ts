/**
 * A TCP proxy for tests that forwards a transfer's first bytes from the
 * client and then holds the rest until told: the server has begun the
 * upload, and the test decides what happens (RMV, CRT) before any more
 * arrives. The server's bytes always pass straight through.
 */
import net from 'node:net';

/** A running holding proxy. */
export interface HoldingProxy {
  /** The port clients connect to (a server's `--advertised-transfer-port`). */
  readonly port: number;
  /** Where connections go from now on (the server's TCP port, known once it has started). */
  target(port: number): void;
  /** Forwards what was held, and everything after it. */
  release(): void;
  close(): Promise<void>;
}

/** Starts a proxy on a loopback port that forwards each client connection's bytes until `limit` have gone, then holds. */
export const startHoldingProxy = async (limit: number): Promise<HoldingProxy> => {
  let targetPort = 0;
  let released = false;
  const waiting: (() => void)[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => sockets.delete(s));
    }
    upstream.pipe(client);
    let forwarded = 0;
    const held: Buffer[] = [];
    let clientEnded = false;
    const flush = (): void => {
      for (const b of held.splice(0)) upstream.write(b);
      if (clientEnded) upstream.end();
      client.resume();
    };
    client.on('data', (b: Buffer) => {
      // Whole chunks: the first always goes (it carries the token line), then more while under the limit.
      if (released || forwarded < limit) {
        forwarded += b.length;
        upstream.write(b);
        return;
      }
      held.push(b);
      client.pause();
      waiting.push(flush);
    });
    client.on('end', () => {
      clientEnded = true;
      if (held.length === 0) upstream.end();
    });
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    target: (port) => void (targetPort = port),
    release: () => {
      released = true;
      for (const go of waiting.splice(0)) go();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
};
