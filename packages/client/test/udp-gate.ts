/**
 * A UDP relay for one client in front of a server on loopback, which can stop passing the client's
 * datagrams on: the server then hears nothing more from it (its acknowledgements, its close), while
 * the server's still reach it; or the server's, the other way round.
 */
import dgram from 'node:dgram';

/** A running gate. */
export interface UdpGate {
  /** The port the client sends to. */
  readonly port: number;
  /** From now on the client's datagrams are dropped. */
  dropFromClient(): void;
  /** From now on the server's datagrams are dropped: the client hears nothing more (replies, acknowledgements). */
  dropToClient(): void;
  /** Resolves once a datagram of `minBytes` or more from the client has been dropped or held (a message sent; acknowledgements and keep-alives are small). */
  droppedFromClient(minBytes: number): Promise<void>;
  /** From now on the client's datagrams are held, in order, until {@link releaseFromClient}: the server hears them later, all at once. */
  holdFromClient(): void;
  /** Passes the held datagrams on, in the order they came, and the client's next ones as they come. */
  releaseFromClient(): void;
  close(): Promise<void>;
}

/** Starts a gate on a loopback port in front of the server at 127.0.0.1:`serverPort`. */
export const startUdpGate = async (serverPort: number): Promise<UdpGate> => {
  const front = dgram.createSocket('udp4');
  const back = dgram.createSocket('udp4');
  let client: dgram.RemoteInfo | undefined;
  let dropping = false;
  let held: Buffer[] | undefined;
  let droppingBack = false;
  const dropWatchers: { minBytes: number; resolve: () => void }[] = [];
  front.on('message', (msg, from) => {
    client = from;
    if (!dropping && held === undefined) back.send(msg, serverPort, '127.0.0.1');
    else {
      held?.push(msg);
      for (const w of dropWatchers.filter((x) => msg.length >= x.minBytes)) {
        dropWatchers.splice(dropWatchers.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  back.on('message', (msg) => {
    if (client !== undefined && !droppingBack) front.send(msg, client.port, client.address);
  });
  for (const s of [front, back]) s.on('error', () => undefined);
  await Promise.all([front, back].map((s) => new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve))));
  return {
    port: front.address().port,
    dropFromClient: () => void (dropping = true),
    dropToClient: () => void (droppingBack = true),
    droppedFromClient: (minBytes) => new Promise<void>((resolve) => dropWatchers.push({ minBytes, resolve })),
    holdFromClient: () => void (held ??= []),
    releaseFromClient: () => {
      const queued = held ?? [];
      held = undefined;
      for (const msg of queued) back.send(msg, serverPort, '127.0.0.1');
    },
    close: () => Promise.all([front, back].map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined),
  };
};
