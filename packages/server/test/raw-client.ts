/** A test client speaking the forum protocol directly over rudp, to send what forum-client never would. */
import {
  decodeServerMessage,
  deriveTransferKeys,
  encodeRequest,
  SecureTransferChannel,
  sessionExporter,
  TransferChannelError,
  type Reply,
  type RequestCommand,
  type ServerMessage,
} from 'forum-protocol';
import net from 'node:net';
import { connect, type CloseReason, type ConnectOptions, type RudpConnection } from 'rudpx';

/** A raw forum connection. */
export interface RawClient {
  readonly conn: RudpConnection;
  /** Sends a request with an explicit id and `username` field; resolves with the reply of that id. */
  request(id: string, cmd: RequestCommand, args: readonly string[], username?: string): Promise<Reply>;
  /** Sends arbitrary bytes; resolves with the next message the server sends. */
  sendRaw(bytes: Uint8Array): Promise<ServerMessage>;
  /** Resolves when the connection ends (then pending requests reject). */
  readonly closed: Promise<CloseReason>;
  close(): Promise<void>;
}

/** Connects a raw client to the forum server at `port` (`options`: e.g. the local address to send from). */
export const rawClient = async (port: number, options: Omit<ConnectOptions, 'port'> = {}): Promise<RawClient> => {
  const conn = await connect({ port, ...options });
  const waiting: { readonly resolve: (m: ServerMessage) => void; readonly reject: (e: Error) => void }[] = [];
  conn.on('message', (bytes) => {
    const m = decodeServerMessage(bytes);
    if (m._tag === 'Right') waiting.shift()?.resolve(m.right);
  });
  const closed = new Promise<CloseReason>((resolve) =>
    conn.once('close', (reason) => {
      for (const w of waiting.splice(0)) w.reject(new Error(`connection closed: ${reason.message}`));
      resolve(reason);
    }),
  );
  const next = (): Promise<ServerMessage> => new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  return {
    conn,
    closed,
    request: async (id, cmd, args, username = '') => {
      const reply = next();
      // A send that fails (the connection ended) rejects this call; the reply's rejection then tells the same and must not surface as an unhandled one.
      reply.catch(() => undefined);
      await conn.send(encodeRequest({ id, username, cmd, args }));
      const m = await reply;
      if (m.type !== 'reply') throw new Error(`expected a reply, got ${JSON.stringify(m)}`);
      return m;
    },
    sendRaw: async (bytes) => {
      const reply = next();
      reply.catch(() => undefined);
      await conn.send(bytes);
      return reply;
    },
    close: () => conn.close(),
  };
};

/** Logs `username` in over `client` (creating the account with `password` if new); resolves with the last reply. */
export const rawLogin = async (client: RawClient, username: string, password: string): Promise<Reply> => {
  const first = await client.request(`u-${username}`, 'username', [username]);
  if (first.data.kind !== 'auth') return first;
  const step = first.data.next;
  if (step !== 'password' && step !== 'newPassword') return first;
  return client.request(`p-${username}`, step, [password]);
};

/**
 * Opens TCP to the transfer port, sends `payload`, half-closes (unless `endAfter` is false: a
 * peer that stops talking), and resolves with everything the server answered before closing.
 */
export const tcpExchange = (port: number, payload: Uint8Array, endAfter = true): Promise<string> =>
  new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.write(payload);
    if (endAfter) socket.end();
  });

/**
 * The sealed counterpart of `tcpExchange` for a token of `client`'s session: sends the token
 * line, then `body` sealed with the transfer keys (and the final record, unless `final` is
 * false: a peer that stops talking), and resolves with the opened answer. A refusal the server
 * sends in clear (unknown token) comes back as its line; a broken channel as `<ERR_CODE>`
 * after whatever had been opened.
 */
export const sealedExchange = async (port: number, client: RawClient, token: string, body: Uint8Array | string, final = true): Promise<string> => {
  const r = await sealedTransfer(port, client, token, body, { final });
  return r.opened.toString('utf8') + r.failure;
};

/** What {@link sealedTransfer} got back: the opened bytes, and how the channel failed (`''` if it did not). */
export interface SealedAnswer {
  readonly opened: Buffer;
  readonly failure: string;
}

/**
 * {@link sealedExchange} with the answer's bytes as they came (a download's file), and the TCP
 * connection made from `localAddress` if given (another client host, to a load balancer).
 */
export const sealedTransfer = (
  port: number,
  client: RawClient,
  token: string,
  body: Uint8Array | string,
  options: { readonly final?: boolean; readonly localAddress?: string } = {},
): Promise<SealedAnswer> =>
  new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }) });
    socket.write(`${token}\n`);
    // The keys come from the client's own rudp session, whichever server issued the token or serves it.
    const channel = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(client.conn), token), 'client');
    const chunks: Buffer[] = [];
    let failure = '';
    channel.on('data', (c: Buffer) => chunks.push(c));
    channel.on('error', (e) => {
      if (e instanceof TransferChannelError && e.code === 'ERR_TRANSFER_REFUSED') failure = `ERR ${e.message}\n`;
      // The server stopped the transfer midway, saying why (RMV of its thread).
      else if (e instanceof TransferChannelError && e.code === 'ERR_TRANSFER_ABORTED') failure = `<aborted: ${e.message}>`;
      else failure = `<${e instanceof TransferChannelError ? e.code : e.message}>`;
    });
    channel.on('close', () => resolve({ opened: Buffer.concat(chunks), failure }));
    // Ends when the server's final record arrives; the writable side may still be open.
    channel.on('end', () => channel.destroy());
    if (body.length > 0) channel.write(body);
    if (options.final ?? true) channel.end();
  });
