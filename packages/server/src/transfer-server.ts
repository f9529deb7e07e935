import type { ForumStore, TransferGrant, TransferTokens } from 'forum-protocol';
import { commandErrorText } from 'forum-protocol';
import { once } from 'node:events';
import net from 'node:net';
import { pipeline } from 'node:stream/promises';
import { readHeaderLines } from 'forum-protocol';
import type { TransferActivity } from './transfer-activity.js';

/** What the TCP side needs from the rest of the server. */
export interface TransferServerDeps {
  readonly store: ForumStore;
  readonly tokens: TransferTokens;
  readonly activity: TransferActivity;
  readonly log: (line: string) => void;
}

/**
 * A connection that has not sent its whole header (token line, and for an upload the size line)
 * this long after connecting is closed: a deadline, not an idle timer, so a byte now and then
 * does not keep it open.
 */
const HEADER_TIMEOUT_MS = 10_000;
/** Connections one client host may hold at once; more are closed at once, so one host cannot take every slot. */
const MAX_CONNECTIONS_PER_HOST = 16;
/** A transfer that moves no byte for this long is abandoned (and leaves nothing behind). */
const STALL_TIMEOUT_MS = 30_000;
const TOKEN = /^[0-9a-f]{64}$/;
const SIZE = /^[0-9]{1,15}$/;

const refuse = (socket: net.Socket, reason: string): void => {
  socket.end(`ERR ${reason}\n`);
};

const receiveUpload = async (deps: TransferServerDeps, socket: net.Socket, grant: TransferGrant, headerDone: () => void): Promise<void> => {
  const sizeLine = await readHeaderLines(socket, 1, 32);
  const sizeText = sizeLine?.[0];
  if (sizeText === undefined || !SIZE.test(sizeText)) return refuse(socket, 'bad size line');
  headerDone();
  const size = Number(sizeText);
  const begun = await deps.store.beginUpload(grant.thread, grant.filename, grant.username)();
  if (begun._tag === 'Left') return refuse(socket, commandErrorText(begun.left));
  const writer = begun.right;
  let received = 0;
  try {
    // destroyOnReturn: false keeps the socket open to send the status line.
    for await (const chunk of socket.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > size) break;
      if (!writer.stream.write(chunk)) await once(writer.stream, 'drain');
    }
  } catch {
    await writer.abort();
    socket.destroy();
    return;
  }
  if (received !== size) {
    await writer.abort();
    return refuse(socket, received > size ? `more than ${size} bytes sent` : `only ${received} of ${size} bytes arrived`);
  }
  const committed = await writer.commit();
  if (committed._tag === 'Left') return refuse(socket, commandErrorText(committed.left));
  deps.log(`${grant.username} uploaded ${grant.filename} to ${grant.thread} thread`);
  socket.end('OK\n');
};

const sendDownload = async (deps: TransferServerDeps, socket: net.Socket, grant: TransferGrant): Promise<void> => {
  const opened = await deps.store.openDownload(grant.thread, grant.filename)();
  if (opened._tag === 'Left') return refuse(socket, commandErrorText(opened.left));
  const { stream, size } = opened.right;
  socket.write(`OK ${size}\n`);
  try {
    await pipeline(stream, socket);
    deps.log(`${grant.username} downloaded ${grant.filename} from ${grant.thread} thread`);
  } catch {
    stream.destroy();
    socket.destroy();
  }
};

const serve = async (deps: TransferServerDeps, socket: net.Socket): Promise<void> => {
  socket.on('error', () => undefined);
  const deadline = setTimeout(() => socket.destroy(), HEADER_TIMEOUT_MS);
  socket.once('close', () => clearTimeout(deadline));
  const headerDone = (): void => clearTimeout(deadline);
  const header = await readHeaderLines(socket, 1, 80);
  const token = header?.[0];
  if (token === undefined || !TOKEN.test(token)) return void socket.destroy();
  const redeemed = await deps.tokens.redeem(token, Date.now())();
  if (redeemed._tag === 'Left') return refuse(socket, commandErrorText(redeemed.left));
  const grant = redeemed.right;
  if (grant._tag === 'None') return refuse(socket, 'invalid or expired token');
  socket.setTimeout(STALL_TIMEOUT_MS, () => socket.destroy());
  const g = grant.value;
  deps.activity.start(g.username);
  try {
    if (g.direction === 'upload') {
      await receiveUpload(deps, socket, g, headerDone);
    } else {
      headerDone();
      await sendDownload(deps, socket, g);
    }
  } finally {
    deps.activity.finish(g.username, Date.now());
  }
};

/** The running TCP transfer server. */
export interface TransferServer {
  /** The port it listens on. */
  readonly port: number;
  /** Stops listening and cuts every transfer (uploads in progress leave nothing). */
  close(): Promise<void>;
}

/**
 * Starts the TCP side of UPD/DWN. A client sends its token line (64 hex
 * characters and `\n`); for an upload then `SIZE\n` and exactly SIZE bytes,
 * and half-closes; the server answers `OK` or `ERR reason`. For a download
 * the server answers `OK SIZE\n` and the bytes, or `ERR reason`. Anything
 * without a valid token is closed at once; a failed upload leaves no file.
 */
export const startTransferServer = async (deps: TransferServerDeps, port: number, host: string): Promise<TransferServer> => {
  const sockets = new Set<net.Socket>();
  const perHost = new Map<string, number>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const host = socket.remoteAddress ?? '';
    const held = perHost.get(host) ?? 0;
    if (held >= MAX_CONNECTIONS_PER_HOST) return void socket.destroy();
    perHost.set(host, held + 1);
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      const n = (perHost.get(host) ?? 1) - 1;
      if (n <= 0) perHost.delete(host);
      else perHost.set(host, n);
    });
    serve(deps, socket).catch((e: unknown) => {
      deps.log(`Transfer error: ${e instanceof Error ? e.message : String(e)}`);
      socket.destroy();
    });
  });
  server.maxConnections = 512;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => deps.log(`Transfer server error: ${e.message}`));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
};
