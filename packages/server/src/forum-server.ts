import { accountPolicy, createSessionRegistry, createTransferTokens, encodeServerMessage, openFileStore, shutdownNotice, type LoginRateLimitOptions } from 'forum-protocol';
import { randomBytes } from 'node:crypto';
import { listen, type RudpServer } from 'rudp';
import { serveConnection } from './client-connection.js';
import { startTransferServer, type TransferServer } from './transfer-server.js';
import { TransferActivity } from './transfer-activity.js';

/** Settings of {@link startForumServer}. */
export interface ForumServerOptions {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly idleTimeoutMs: number;
  /** TCP port for transfers; `undefined`: the UDP port's number (any free port when `port` is 0); 0: any free port. */
  readonly transferPort: number | undefined;
  /** Store passwords as scrypt hashes (`--hash-passwords`); default false, the spec's plain format. */
  readonly hashPasswords?: boolean;
  /**
   * Login throttling per account and per client host; `false` turns it off.
   * Default: forum-protocol's `DEFAULT_LOGIN_RATE_LIMIT` (5 per account, 20 per host, per minute).
   */
  readonly loginRateLimit?: LoginRateLimitOptions | false;
  readonly log: (line: string) => void;
  readonly warn: (line: string) => void;
}

/** A running forum server. */
export interface ForumServer {
  readonly udpPort: number;
  readonly tcpPort: number;
  /** Stops at once: connections are cut (clients see the server vanish). */
  close(): Promise<void>;
  /**
   * Stops politely: every connected client is sent the shutdown notice and its
   * connection closed gracefully (waiting at most `graceMs` for them), then
   * transfers are cut (uploads leave nothing) and the sockets closed.
   * Resolves with how many clients were told.
   */
  shutdown(graceMs?: number): Promise<number>;
}

/** rudp settings: a vanished client is noticed within 10 s, far below the forum's idle timeout. */
export const TRANSPORT = { idleTimeoutMs: 10_000, keepAliveMs: 2_000 } as const;

/** Opens the data directory, then listens on UDP (rudp) and TCP (transfers). Rejects with a readable error. */
export const startForumServer = async (options: ForumServerOptions): Promise<ForumServer> => {
  const opened = await openFileStore(options.dataDir)();
  if (opened._tag === 'Left') throw new Error(`cannot open data directory ${options.dataDir}: ${opened.left.message}`);
  const store = opened.right;
  store.warnings.forEach((w) => options.warn(`Warning: ${w}`));
  const tokens = createTransferTokens({ randomBytes: (n) => randomBytes(n) });
  const activity = new TransferActivity();
  const udp: RudpServer = await listen({ port: options.port, host: options.host, ...TRANSPORT });
  const udpPort = udp.address().port;
  let tcp: TransferServer;
  try {
    // Port 0 asks for any free port: the TCP side then takes any free port too, not the UDP port's
    // number, which a socket in TIME_WAIT may still hold.
    const tcpPort = options.transferPort ?? (options.port === 0 ? 0 : udpPort);
    tcp = await startTransferServer({ store, tokens, activity, log: options.log }, tcpPort, options.host);
  } catch (e) {
    await udp.close();
    throw e;
  }
  const transferPort = tcp.port;
  // One policy per server: the throttle's counts are shared by every connection.
  const accounts = accountPolicy({ hashPasswords: options.hashPasswords ?? false, rateLimit: options.loginRateLimit ?? {} });
  const ctx = {
    store,
    registry: createSessionRegistry(),
    accounts,
    tokens,
    activity,
    transferPort,
    idleTimeoutMs: options.idleTimeoutMs,
    log: options.log,
  };
  udp.on('connection', (conn) => serveConnection(conn, ctx));
  return {
    udpPort,
    tcpPort: transferPort,
    close: async () => {
      await udp.close();
      await tcp.close();
    },
    shutdown: async (graceMs = 2_000) => {
      const conns = [...udp.connections];
      const notice = encodeServerMessage(shutdownNotice());
      // The notice goes first on each connection; a graceful close delivers it before the CLOSE.
      const closed = conns.map((conn) => {
        conn.send(notice).catch(() => undefined);
        return conn.close().catch(() => undefined);
      });
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([Promise.all(closed), deadline]);
      await tcp.close();
      await udp.close();
      return conns.length;
    },
  };
};
