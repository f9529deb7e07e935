/**
 * A UDP proxy for tests that can stop forwarding the server's datagrams to
 * the client while still forwarding the client's to the server: the client
 * then keeps sending (its retransmissions carry its requests) but never
 * acknowledges anything the server sends, as a peer that stops
 * acknowledging would.
 */
import dgram from 'node:dgram';

/** A running proxy. */
export interface OneWayProxy {
  /** The UDP port clients connect to. */
  readonly port: number;
  /** From now on, datagrams from the server are dropped. */
  silenceServer(): void;
  /** Datagrams dropped so far. */
  dropped(): number;
  close(): Promise<void>;
}

/**
 * Starts a proxy on an ephemeral loopback port that forwards to `127.0.0.1:targetPort`, one upstream socket per
 * client, sending from `fromAddress` (another loopback address, such as 127.0.0.7, is another client host to the server).
 */
export const startOneWayProxy = async (targetPort: number, fromAddress = '127.0.0.1'): Promise<OneWayProxy> => {
  const front = dgram.createSocket('udp4');
  const upstreams = new Map<string, dgram.Socket>();
  let silenced = false;
  let dropped = 0;
  front.on('message', (msg, from) => {
    const key = `${from.address}:${from.port}`;
    let up = upstreams.get(key);
    if (up === undefined) {
      const socket = dgram.createSocket('udp4');
      socket.on('message', (reply) => {
        if (silenced) dropped++;
        else front.send(reply, from.port, from.address);
      });
      socket.on('error', () => undefined);
      socket.bind(0, fromAddress);
      upstreams.set(key, socket);
      up = socket;
    }
    up.send(msg, targetPort, '127.0.0.1');
  });
  front.on('error', () => undefined);
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', () => resolve()));
  return {
    port: front.address().port,
    silenceServer: () => {
      silenced = true;
    },
    dropped: () => dropped,
    close: async () => {
      await Promise.all([...upstreams.values(), front].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
};
