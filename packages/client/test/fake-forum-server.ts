/**
 * A fake forum server for the client's real-process tests: rudpx's listen() and forum-protocol's
 * codec, answering each request as the test says (a hostile or broken server), with a TCP transfer
 * port whose sealed side (keys of the session) the test plays.
 */
import { decode, deriveTransferKeys, encodeServerMessage, SecureTransferChannel, sessionExporter, simpleReply, type Reply, type Request, type ServerMessage } from 'forum-protocol';
import net from 'node:net';
import { listen, type RudpConnection } from 'rudpx';

/** The token every grant of the fake carries. */
export const FAKE_TOKEN = 'cd'.repeat(32);

/** What the fake sends for one request: messages (or raw bytes) in order; none for silence. */
export type FakeAnswer = readonly (ServerMessage | Uint8Array)[];

/** A running fake server. */
export interface FakeForumServer {
  readonly port: number;
  readonly tcpPort: number;
  /** Resolves once a client's connection has closed (the client logged out, or is exiting). */
  readonly sessionClosed: Promise<void>;
  /** Sends `message` on the client's connection; resolves once the client's transport acknowledged it (rejects if it cannot be sent). */
  send(message: ServerMessage): Promise<void>;
  close(): Promise<void>;
}

/** The replies of a login that always succeeds, and of XIT; `undefined` for any other command. */
export const loginReply = (req: Request): Reply | undefined =>
  req.cmd === 'username'
    ? simpleReply(req.id, 'ok', [], { kind: 'auth', next: 'password' })
    : req.cmd === 'password'
      ? simpleReply(req.id, 'ok', ['Welcome to the forum'], { kind: 'auth', next: 'command' })
      : req.cmd === 'XIT'
        ? simpleReply(req.id, 'ok', ['Goodbye'], { kind: 'goodbye' })
        : undefined;

/** A grant of `req` (UPD or DWN) on the fake's TCP port. */
export const grantReply = (req: Request, tcpPort: number, completionLine = 'done'): Reply =>
  simpleReply(req.id, 'ok', [], {
    kind: 'transfer',
    direction: req.cmd === 'UPD' ? 'upload' : 'download',
    thread: req.args[0] ?? 't',
    filename: req.args[1] ?? 'f',
    port: tcpPort,
    token: FAKE_TOKEN,
    size: null,
    completionLine,
  });

/** How the fake answers: `answersLogin`, the test's `answer` gets the login and XIT too. */
export interface FakeServerOptions {
  readonly answersLogin?: boolean;
  /**
   * Told of each request's answer once sent: `acknowledged` resolves when the client's transport has
   * acknowledged every message of it (and when the connection ends first: the test waits on what follows).
   */
  readonly onAnswered?: (req: Request, acknowledged: Promise<void>) => void;
  /** The connection is closed once the answer to a request it returns true for is sent (the real server's refusal of a connection). */
  readonly closesAfter?: (req: Request) => boolean;
  /** The silence after which the fake drops a connection, ms (rudpx's default unless given). */
  readonly idleTimeoutMs?: number;
}

/**
 * Starts the fake. `answer` gets every request {@link loginReply} does not answer (login, XIT); an
 * answer that is a promise is sent when it settles. `onTransfer` gets each transfer connection's
 * sealed channel after its token line.
 */
export const startFakeServer = async (
  answer: (req: Request, tcpPort: number) => FakeAnswer | Promise<FakeAnswer>,
  onTransfer: (channel: SecureTransferChannel, socket: net.Socket) => void = (channel) => void channel.destroy(),
  options: FakeServerOptions = {},
): Promise<FakeForumServer> => {
  let session: RudpConnection | undefined;
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const nl = head.indexOf(0x0a);
      if (nl < 0 || session === undefined) return;
      socket.off('data', onData);
      const channel = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(session), head.subarray(0, nl).toString('latin1')), 'server', undefined, { smallReadHold: false });
      channel.on('error', () => undefined);
      if (head.length > nl + 1) socket.unshift(head.subarray(nl + 1));
      onTransfer(channel, socket);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const tcpPort = (tcp.address() as net.AddressInfo).port;
  const udp = await listen({ port: 0, ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }) });
  let sessionClosed = (): void => undefined;
  const closed = new Promise<void>((resolve) => (sessionClosed = resolve));
  udp.on('connection', (conn) => {
    session = conn;
    conn.on('error', () => undefined);
    conn.once('close', () => sessionClosed());
    conn.on('message', (bytes) => {
      const r = decode(bytes);
      if (r._tag === 'Left') return;
      const login = options.answersLogin === true ? undefined : loginReply(r.right);
      void Promise.resolve(login === undefined ? answer(r.right, tcpPort) : [login]).then((messages) => {
        const sent = messages.map((m) => conn.send(m instanceof Uint8Array ? m : encodeServerMessage(m)).catch(() => undefined));
        options.onAnswered?.(r.right, Promise.all(sent).then(() => undefined));
        if (options.closesAfter?.(r.right) === true) void Promise.all(sent).finally(() => void conn.close());
      });
    });
  });
  return {
    port: udp.address().port,
    tcpPort,
    sessionClosed: closed,
    send: (message) => (session === undefined ? Promise.reject(new Error('no client connected')) : session.send(encodeServerMessage(message))),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      await udp.close();
    },
  };
};
