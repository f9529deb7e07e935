/**
 * A TCP proxy for tests in front of a forum-server's transfer port that has the server evict the
 * connections it is told to (its first `evictions`, then as {@link EvictingProxy.evictNext} says), as a burst of a host's connections is evicted: each reaches the server from `from` (a loopback
 * address of its own) and none of its client's bytes pass, so the server holds it as a silent connection of
 * that host; the proxy then opens 16 silent connections of its own from `from`, and the last of them evicts
 * the oldest, the client's, which is told `ERR too many transfers at once …` in clear. Later connections pass
 * straight through. The client's bytes of an evicted connection are read and dropped (`drop`: an upload small
 * enough is then handed over whole, its final record included) or left unread (its sender blocks mid-body).
 */
import net from 'node:net';

/** The transfer port's per-host limit (transfer-server.ts), which the proxy's silent connections fill. */
const PER_HOST = 16;

/** A running evicting proxy. */
export interface EvictingProxy {
  /** The port clients connect to (a server's `--advertised-transfer-port`). */
  readonly port: number;
  /** Where connections go (the server's TCP port, known once it has started). */
  target(port: number): void;
  /** Connections the server evicted so far (each told why: its line reached the client). */
  readonly evicted: () => number;
  /** Connections passed straight through so far. */
  readonly passed: () => number;
  /** The next `n` connections are evicted (those after them pass). */
  evictNext(n: number): void;
  close(): Promise<void>;
}

/** Starts the proxy on a loopback port: its first `evictions` connections are evicted (see the file's comment). */
export const startEvictingProxy = async (from: string, evictions: number, drop = true): Promise<EvictingProxy> => {
  let targetPort = 0;
  let toEvict = evictions;
  let evicted = 0;
  let passed = 0;
  const sockets = new Set<net.Socket>();
  const own = (s: net.Socket): net.Socket => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('close', () => sockets.delete(s));
    return s;
  };
  const connect = (): net.Socket => own(net.connect({ port: targetPort, host: '127.0.0.1', localAddress: from, allowHalfOpen: true }));
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    own(client);
    const upstream = connect();
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    if (toEvict === 0) {
      passed++;
      client.pipe(upstream);
      upstream.pipe(client);
      return;
    }
    toEvict--;
    // None of the client's bytes reach the server: its connection stays silent, the oldest of its host.
    if (drop) client.resume();
    else client.pause();
    upstream.pipe(client);
    upstream.once('connect', () => {
      const silent = Array.from({ length: PER_HOST }, connect);
      // Its line has come (the server ends the evicted connection after it): the host's slots are given back.
      upstream.once('end', () => {
        evicted++;
        for (const s of silent) s.destroy();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    target: (port) => void (targetPort = port),
    evicted: () => evicted,
    passed: () => passed,
    evictNext: (n) => void (toEvict = n),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
};
