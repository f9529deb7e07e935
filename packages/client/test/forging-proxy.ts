/**
 * A TCP proxy for tests that forges a refusal, as anyone on the path can (attack round 11, forge-refusal): its
 * first connection passes the client's bytes whole to the server, drops the server's answer (a sealed `OK`, sent
 * only once the upload is committed) and writes `line` to the client in clear in its place. Later connections
 * pass straight through.
 */
import net from 'node:net';

/** A running forging proxy. */
export interface ForgingProxy {
  /** The port clients connect to (a server's `--advertised-transfer-port`). */
  readonly port: number;
  /** Where connections go (the server's TCP port, known once it has started). */
  target(port: number): void;
  /** Whether the server answered the first connection (the answer the forged line replaced). */
  readonly forged: () => boolean;
  close(): Promise<void>;
}

/** Starts the proxy on a loopback port: its first connection's answer is replaced by `line`. */
export const startForgingProxy = async (line: string): Promise<ForgingProxy> => {
  let targetPort = 0;
  let accepted = 0;
  let forged = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => sockets.delete(s));
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    if (++accepted > 1) return void upstream.pipe(client);
    upstream.once('data', () => {
      forged = true;
      upstream.resume();
      client.end(line);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    target: (port) => void (targetPort = port),
    forged: () => forged,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
};
