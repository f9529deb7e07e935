import {
  accountPolicy,
  createSessionRegistry,
  createTransferTokens,
  openFileStore,
  type ForumStore,
  type LoginRateLimitOptions,
  type SessionRegistry,
  type TransferTokens,
} from 'forum-protocol';
import { createPostgresSessionRegistry, createPostgresTransferTokens, openPostgresStore } from 'forum-protocol/postgres';
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
  /** A PostgreSQL URL: keep everything there, shared with the other servers given it, instead of in `dataDir`. */
  readonly databaseUrl?: string;
  /** Identifies this server among those sharing the database (its session leases). Default: random. */
  readonly serverId?: string;
  readonly idleTimeoutMs: number;
  /** TCP port for transfers; `undefined`: the UDP port's number (any free port when `port` is 0); 0: any free port. */
  readonly transferPort: number | undefined;
  /** The TCP port put in UPD/DWN replies (a load balancer's); default: the one listened on. */
  readonly advertisedTransferPort?: number;
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
  close(): Promise<void>;
}

/** rudp settings: a vanished client is noticed within 10 s, far below the forum's idle timeout. */
export const TRANSPORT = { idleTimeoutMs: 10_000, keepAliveMs: 2_000 } as const;

/** Longest session lease: a crashed server's accounts are free again this long after it died (or the idle timeout, if shorter). */
export const MAX_LEASE_MS = 15_000;

/** Where a server keeps its state: the store, who is logged in, transfer tokens, and how to let go of them. */
interface SharedState {
  readonly store: ForumStore;
  readonly registry: SessionRegistry;
  readonly tokens: TransferTokens;
  /** See `ServerContext.liveSessions`. */
  readonly liveSessions: Map<string, () => void>;
  close(): Promise<void>;
}

/** `postgres://user@host:port/db`: the URL without its password, for logs. */
export const redactUrl = (url: string): string => {
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
};

const openState = async (options: ForumServerOptions, serverId: string): Promise<SharedState> => {
  const random = (n: number): Uint8Array => randomBytes(n);
  const liveSessions = new Map<string, () => void>();
  if (options.databaseUrl !== undefined) {
    const opened = await openPostgresStore(options.databaseUrl)();
    if (opened._tag === 'Left') throw new Error(`cannot open database ${redactUrl(options.databaseUrl)}: ${opened.left.message}`);
    const store = opened.right;
    const registry = createPostgresSessionRegistry(store.sql, {
      serverId,
      leaseMs: Math.min(options.idleTimeoutMs, MAX_LEASE_MS),
      onError: (m) => options.warn(`Warning: ${m}`),
      onLeaseLost: (_username, connectionKey) => liveSessions.get(connectionKey)?.(),
    });
    return {
      store,
      registry,
      tokens: createPostgresTransferTokens(store.sql, { randomBytes: random }),
      liveSessions,
      close: async () => {
        await registry.close();
        await store.close();
      },
    };
  }
  const opened = await openFileStore(options.dataDir)();
  if (opened._tag === 'Left') throw new Error(`cannot open data directory ${options.dataDir}: ${opened.left.message}`);
  opened.right.warnings.forEach((w) => options.warn(`Warning: ${w}`));
  return { store: opened.right, registry: createSessionRegistry(), tokens: createTransferTokens({ randomBytes: random }), liveSessions, close: async () => undefined };
};

/** Opens the store (data directory or PostgreSQL), then listens on UDP (rudp) and TCP (transfers). Rejects with a readable error. */
export const startForumServer = async (options: ForumServerOptions): Promise<ForumServer> => {
  const serverId = options.serverId ?? randomBytes(6).toString('hex');
  const state = await openState(options, serverId);
  const { store, tokens } = state;
  const activity = new TransferActivity();
  let udp: RudpServer;
  try {
    udp = await listen({ port: options.port, host: options.host, ...TRANSPORT });
  } catch (e) {
    await state.close();
    throw e;
  }
  const udpPort = udp.address().port;
  let tcp: TransferServer;
  try {
    // Port 0 asks for any free port: the TCP side then takes any free port too, not the UDP port's
    // number, which a socket in TIME_WAIT may still hold.
    const tcpPort = options.transferPort ?? (options.port === 0 ? 0 : udpPort);
    tcp = await startTransferServer({ store, tokens, activity, log: options.log }, tcpPort, options.host);
  } catch (e) {
    await udp.close();
    await state.close();
    throw e;
  }
  const transferPort = tcp.port;
  // One policy per server: the throttle's counts are shared by every connection.
  const accounts = accountPolicy({ hashPasswords: options.hashPasswords ?? false, rateLimit: options.loginRateLimit ?? {} });
  const ctx = {
    store,
    registry: state.registry,
    serverId,
    liveSessions: state.liveSessions,
    accounts,
    tokens,
    activity,
    transferPort: options.advertisedTransferPort ?? transferPort,
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
      await state.close();
    },
  };
};
