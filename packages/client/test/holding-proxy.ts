/**
 * A TCP proxy for tests that forwards a transfer's first bytes one way and
 * then holds the rest until told: the server has begun the upload (or the
 * download, or has not yet seen the token line), and the test decides what
 * happens (RMV, CRT) before any more arrives. The other way always passes
 * straight through.
 */
import net from 'node:net';

/** Which way the proxy holds bytes: the client's to the server (an upload), or the server's to the client (a download). */
export type HeldDirection = 'toServer' | 'toClient';

/** A running holding proxy. */
export interface HoldingProxy {
  /** The port clients connect to (a server's `--advertised-transfer-port`). */
  readonly port: number;
  /** Where connections go from now on (the server's TCP port, known once it has started). */
  target(port: number): void;
  /** Resolves once the proxy has held bytes of some connection (it is then waiting for {@link release}). */
  readonly holding: Promise<void>;
  /** Forwards what was held, and everything after it. */
  release(): void;
  close(): Promise<void>;
}

/**
 * Starts a proxy on a loopback port that forwards each connection's bytes in
 * `direction` (default the client's) until `limit` have gone, then holds
 * them; whole chunks, so the chunk that reaches the limit goes whole (with a
 * limit of 0 nothing goes, not even the token line).
 */
export const startHoldingProxy = async (limit: number, direction: HeldDirection = 'toServer'): Promise<HoldingProxy> => {
  let targetPort = 0;
  let released = false;
  const waiting: (() => void)[] = [];
  const sockets = new Set<net.Socket>();
  let held = (): void => undefined;
  const holding = new Promise<void>((resolve) => (held = resolve));
  /**
   * Forwards `from` to `to`, holding once `limit` bytes have gone; its end goes after what was held.
   * Closed without an end (a reset), `to` is destroyed too.
   */
  const holdingRelay = (from: net.Socket, to: net.Socket): void => {
    let forwarded = 0;
    const kept: Buffer[] = [];
    let ended = false;
    const flush = (): void => {
      for (const b of kept.splice(0)) to.write(b);
      if (ended) to.end();
      from.resume();
    };
    from.on('data', (b: Buffer) => {
      if (released || forwarded < limit) {
        forwarded += b.length;
        to.write(b);
        return;
      }
      kept.push(b);
      from.pause();
      waiting.push(flush);
      held();
    });
    from.on('end', () => {
      ended = true;
      if (kept.length === 0) to.end();
    });
    from.on('close', () => {
      if (!ended) to.destroy();
    });
  };
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => sockets.delete(s));
    }
    if (direction === 'toServer') {
      upstream.pipe(client);
      holdingRelay(client, upstream);
      upstream.on('close', () => client.destroy());
    } else {
      // The server's bytes, an abort record at their end maybe, reach the client whole before its end.
      client.pipe(upstream);
      holdingRelay(upstream, client);
    }
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    target: (port) => void (targetPort = port),
    holding,
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
