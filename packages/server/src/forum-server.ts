import {
  accountPolicy,
  createSessionRegistry,
  createTransferTokens,
  DEFAULT_MAX_THREAD_BYTES,
  defaultMaxUserUploadBytes,
  EncodedLinesCache,
  encodeServerMessage,
  hostLevelsOf,
  hostOf,
  MAX_SERVER_MESSAGE_BYTES,
  memoryThrottleCounts,
  openFileStore,
  shutdownNotice,
  withNameIdentity,
  type ForumStore,
  type SessionRegistry,
  type ThrottleCounts,
  type TransferTokens,
  type UploadSlots,
} from 'forum-protocol';
import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { listen, type RudpConnection, type RudpServer } from 'rudpx';
import { quicLbCidGenerator } from 'rudpx/core';
import { refuseConnection, serveConnection } from './client-connection.js';
import { DEFAULT_MIN_FREE_BYTES, DiskQuota } from './disk-quota.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { STOP_GRACE_MS } from './stop-grace.js';
import { missingDirectories, removeEmptyDirectories } from './start-leftovers.js';
import { fencedStore } from './fenced-store.js';
import { loadOrCreateIdentity, type ServerIdentity } from './identity-key.js';
import { DEFAULT_RATE_IDLE_BELOW, eventLoopBusy } from './event-loop-busy.js';
import { DEFAULT_LARGE_REPLY_BYTES_PER_SECOND, LargeReplyRate, REPLY_FIXED_BYTES } from './large-reply-rate.js';
import { LoginRoom } from './login-room.js';
import { MemoryBudget } from './memory-budget.js';
import { ownerlessThreadsWarnings } from './ownerless-threads.js';
import { plainCredentialsWarning } from './plain-credentials-warning.js';
import { QueueBudget } from './queue-budget.js';
import { MIN_MAX_REPLY_BYTES, REPLY_BUDGET_PER_HOST, ReplyBudget } from './reply-budget.js';
import { LOG_SUMMARY_INTERVAL_MS, LogLimiter } from './log-limiter.js';
import { RequestPacer } from './request-pacer.js';
import { MAX_LEASE_MS } from './session-lease.js';
import { startTransferServer, type TransferServer } from './transfer-server.js';
import { TransferActivity } from './transfer-activity.js';
import { MAX_UPLOADS_PER_USER, UploadsPerUser } from './uploads-per-user.js';
import { untilAborted } from './until-aborted.js';
import { notWritableReason, unwritableFileWarnings } from './unwritable-files.js';
import { within } from './within.js';
import {
  COMMAND_DEADLINE_MS,
  DEFAULT_HANDSHAKE_RATE,
  DEFAULT_MAX_CONNECTIONS_BEFORE_LOGIN,
  DEFAULT_MAX_CONNECTIONS_PER_HOST,
  DEFAULT_MAX_UPLOAD_BYTES,
  DEFAULT_REQUEST_RATE,
  defaultLinesCacheBytes,
  defaultMaxReplyBytes,
  QUEUE_LIMITS,
  QUIC_LB_CONFIG,
  MAX_TRANSPORT_CONNECTIONS,
  TRANSPORT,
  TRANSPORT_RECEIVE_BUDGET,
  UPLOAD_COMMIT_DEADLINE_MS,
} from './server-defaults.js';
// The defaults are part of this module's API as before (the command line and tests read them here).
export * from './server-defaults.js';
import type { ForumServerOptions } from './forum-server-options.js';
export type { ForumServerOptions } from './forum-server-options.js';


/** A running forum server. */
export interface ForumServer {
  /** The identity key of the data directory, or of `identityFile` (created on first start). */
  readonly identity: ServerIdentity;
  readonly udpPort: number;
  readonly tcpPort: number;
  /**
   * Stops at once: connections are cut (clients see the server vanish). A
   * second stop (`close` or `shutdown`), or one after the server stopped by
   * itself (`onFatal`), waits for the first.
   */
  close(): Promise<void>;
  /**
   * Stops politely: every connected client is sent the shutdown notice and its
   * connection closed gracefully (waiting at most `graceMs` for them), then
   * transfers are cut (uploads leave nothing) and the sockets closed.
   * Resolves with how many clients were told.
   */
  shutdown(graceMs?: number): Promise<number>;
  /**
   * For a process about to exit at once, whatever stop is under way (a
   * second stop signal): gives up the data directory's lock synchronously,
   * if it is still this server's and no write to the directory is under way
   * (one under way may still land while the process exits: the lock then
   * stays, for the next start to judge by its pid, as after a crash). What
   * the exit cuts short is the next start's recovery. Nothing more may be
   * asked of the server after it.
   */
  abandon(): void;
  /** Unacknowledged reply bytes charged to the client host of `address` (`host:port` or a bare address) now, reservations of running requests included. */
  replyBytesHeld(address: string): number;
  /** The same over every host: what the server-wide budget (`maxReplyBytes`) bounds. */
  replyBytesHeldInAll(): number;
  /** Bytes of replies sent and not yet acknowledged, over all hosts: {@link replyBytesHeldInAll} without the reservations of requests running. */
  replyBytesSentInAll(): number;
  /** Bytes the cache of encoded thread lines holds now (at most `linesCacheBytes`): memory beside the replies, not counted by the reply budget. */
  linesCachedBytes(): number;
}

/** Longest session lease (session-lease.ts). */
export { MAX_LEASE_MS };

/** Where a server keeps its state: the store, who is logged in, transfer tokens, and how to let go of them. */
interface SharedState {
  readonly store: ForumStore;
  readonly registry: SessionRegistry;
  readonly tokens: TransferTokens;
  /** Where the login throttle and account creation count: the database, shared by its servers, or this process. */
  readonly throttles: ThrottleCounts;
  /** Where each user's uploads in progress are counted: the database, or this process. */
  readonly uploadSlots: UploadSlots;
  /** See `ServerContext.liveSessions`. */
  readonly liveSessions: Map<string, () => void>;
  /** Aborted when the server must stop: the data directory's lock was lost (never with PostgreSQL). */
  readonly lost: AbortSignal | undefined;
  close(): Promise<void>;
  /** Lets go of the data directory's lock at once, synchronously (`DataDirLock.abandon`), unless a write is under way; nothing with PostgreSQL. */
  abandon(): void;
}

/**
 * How long a closing server waits for its writes under way to finish before
 * it lets go of the data directory: a write cut short leaves its undo record,
 * which a server starting then would act on while the write goes on.
 */
const WRITES_GRACE_MS = 30_000;

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

const threadLimits = (options: ForumServerOptions): { readonly maxThreadsPerUser?: number; readonly originShares?: number } => ({
  ...(options.maxThreadsPerUser === undefined ? {} : { maxThreadsPerUser: options.maxThreadsPerUser }),
  ...(options.originShares === undefined ? {} : { originShares: options.originShares }),
});

/** Said at start by a server on PostgreSQL without `--max-data-bytes`: uploads could then fill the database's disk (attack round 12). */
export const UNBOUNDED_UPLOADS_WARNING =
  "with --store nothing bounds the bytes uploads hold in the database but each file's size (--max-upload-bytes): set --max-data-bytes";

/** The data directory's per-account share of uploads: `--max-data-bytes-per-user`, else the default share of `--max-data-bytes`, else none. */
const userUploadShare = (options: ForumServerOptions): { readonly maxUserUploadBytes?: number } => {
  const share = options.maxDataBytesPerUser ?? (options.maxDataBytes === undefined ? undefined : defaultMaxUserUploadBytes(options.maxDataBytes));
  return share === undefined ? {} : { maxUserUploadBytes: share };
};

const openState = async (options: ForumServerOptions, serverId: string, quota: DiskQuota): Promise<SharedState> => {
  const random = (n: number): Uint8Array => randomBytes(n);
  const liveSessions = new Map<string, () => void>();
  if (options.databaseUrl !== undefined) {
    // Loaded here, not at the top: a server on a data directory never needs the driver, and loading it cost
    // every start of one (and every `--help`) its evaluation.
    const { createPostgresSessionRegistry, createPostgresThrottleCounts, createPostgresTransferTokens, createPostgresUploadSlots, openPostgresStore, SCHEMA_VERSION } =
      await import('forum-protocol/postgres');
    // One lease for sessions and pending uploads: a killed server's logins and upload room come back together.
    const leaseMs = Math.min(options.idleTimeoutMs, options.maxLeaseMs ?? MAX_LEASE_MS);
    // Given up at once when the start is (a database that does not answer holds it up to its connect
    // timeout): nothing is held that the process must let go of, and its transactions end with it.
    const opened = await untilAborted(
      openPostgresStore(options.databaseUrl, {
        threadLimits: threadLimits(options),
        ...(options.maxDataBytes === undefined ? {} : { maxStoredUploadBytes: options.maxDataBytes }),
        ...(options.maxDataBytesPerUser === undefined ? {} : { maxUserUploadBytes: options.maxDataBytesPerUser }),
        // A failing sweep leaves removed uploads' bytes counted against --max-data-bytes: said, not silent.
        doomedUploadSweep: { onError: (m) => options.warn(`Warning: ${m}`) },
        // A killed server's pending uploads lapse with its sessions, and their room is taken back (attack round 18).
        uploadLeaseMs: leaseMs,
        onUploadLeaseError: (m) => options.warn(`Warning: ${m}`),
      })(),
      options.signal,
      (late) => {
        if (late._tag === 'Right') void late.right.close().catch(() => undefined);
      },
    );
    if (opened._tag === 'Left') throw new Error(`cannot open database ${redactUrl(options.databaseUrl)}: ${opened.left.message}`);
    const store = opened.right;
    // Said, because the rolling-upgrade notes ask the operator to stop the older servers soon, and this is the one
    // moment the upgrade is seen: nothing else told which schema the database had (attack round 20).
    if (store.schemaFound > 0 && store.schemaFound < SCHEMA_VERSION) {
      options.warn(
        `forum-server: migrated the database from schema ${store.schemaFound} to ${SCHEMA_VERSION}: servers of the older release still running keep working, ` +
          `each as its schema's notes say (forum-protocol README, rolling upgrades); stop them soon, and start none again (a server never starts on a newer schema)`,
      );
    }
    const registry = createPostgresSessionRegistry(store.sql, {
      serverId,
      leaseMs,
      onError: (m) => options.warn(`Warning: ${m}`),
      onLeaseLost: (_username, connectionKey) => liveSessions.get(connectionKey)?.(),
    });
    const uploadSlots = createPostgresUploadSlots(store.sql, {
      serverId,
      perUser: MAX_UPLOADS_PER_USER,
      leaseMs,
      onError: (m) => options.warn(`Warning: ${m}`),
    });
    return {
      store,
      registry,
      tokens: createPostgresTransferTokens(store.sql, { randomBytes: random }),
      throttles: createPostgresThrottleCounts(store.sql),
      uploadSlots,
      liveSessions,
      lost: undefined,
      close: async () => {
        await uploadSlots.close();
        await registry.close();
        await store.close();
      },
      // Its leases expire by themselves (MAX_LEASE_MS, or maxLeaseMs): nothing held that a process exiting could give up.
      abandon: () => undefined,
    };
  }
  // Before the store opens: its crash recovery would undo the writes in flight of a server running on the directory.
  let lock: DataDirLock;
  // The open's recovery writes under the lock: a process told to exit at once meanwhile (a second stop signal
  // during the start) leaves the lock, as a running server's `abandon` does while a write is under way.
  let recovering = false;
  try {
    lock = await lockDataDir(options.dataDir, {
      onWait: options.log,
      busy: () => recovering,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.lockRenewMs === undefined ? {} : { renewMs: options.lockRenewMs }),
    });
  } catch (e) {
    if (options.signal?.aborted === true) throw e;
    const unwritable = notWritableReason(e, options.dataDir);
    throw new Error(
      unwritable === undefined
        ? `cannot open data directory ${options.dataDir}: ${e instanceof Error ? e.message : String(e)}`
        : `cannot open data directory ${options.dataDir}: ${unwritable}; run forum-server as a user that may write there, or give --data-dir another directory`,
    );
  }
  // Expected after a crash, not a fault of the data: the log's line, not a warning.
  if (lock.tookOver !== undefined) options.log(lock.tookOver);
  // Every write checks the lock first: one that lost it writes nothing more (fenced-store.ts).
  let writes: ReturnType<typeof fencedStore> | undefined;
  const letGo = async (): Promise<void> => {
    const idle = writes?.idle();
    if (idle !== undefined && (await within(idle, WRITES_GRACE_MS, 'timeout')) === 'timeout') {
      options.warn(`Warning: writes to ${options.dataDir} still under way after ${WRITES_GRACE_MS / 1000} s; letting go of the directory anyway`);
    }
    await lock.release();
  };
  try {
    recovering = true;
    const opened = await openFileStore(options.dataDir, {
      threadLimits: threadLimits(options),
      onUploadsRemoved: (bytes) => quota.uploadsRemoved(bytes),
      // Each account's share of the quota's room (attack round 27): one account's uploads filled it for everyone.
      ...userUploadShare(options),
      // Asked again just before each change is written, and before a file another program changed is read again.
      owned: () => lock.held(),
      ...(options.maxThreadBytes === undefined ? {} : { maxThreadBytes: options.maxThreadBytes }),
      ...(options.maxThreadBytesPerUser === undefined ? {} : { maxUserThreadBytes: options.maxThreadBytesPerUser }),
      ...(options.diskStallMs === undefined ? {} : { diskStallMs: options.diskStallMs }),
      // Between its steps (its thread files read one by one: seconds for a large directory), never mid-recovery.
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onRecovered: () => {
        recovering = false;
      },
      onWarning: (w) => options.warn(`Warning: ${w}`),
    })();
    recovering = false;
    if (opened._tag === 'Left') {
      options.signal?.throwIfAborted();
      throw new Error(`cannot open data directory ${options.dataDir}: ${opened.left.message}`);
    }
    writes = fencedStore(opened.right, () => lock.held());
    // The name index is kept in this process: right for the data directory (whose names are files, one
    // file on a case-insensitive file system), but several servers sharing a database would each
    // hold a stale copy, so the PostgreSQL store keeps names exact instead.
    const named = await withNameIdentity(writes.store, options.maxAccounts === undefined ? {} : { maxAccounts: options.maxAccounts })();
    if (named._tag === 'Left') throw new Error(`cannot index data directory ${options.dataDir}: ${named.left.kind}`);
    const store = named.right;
    store.warnings.forEach((w) => options.warn(`Warning: ${w}`));
    const titles = await store.listThreads()();
    if (titles._tag === 'Right') (await unwritableFileWarnings(options.dataDir, titles.right)).forEach((w) => options.warn(`Warning: ${w}`));
    const plain = await plainCredentialsWarning(options.dataDir, options.hashPasswords ?? false);
    if (plain !== undefined) options.warn(`Warning: ${plain}`);
    (await ownerlessThreadsWarnings(store)).forEach((w) => options.warn(`Warning: ${w}`));
    // What a crash left and the start put right: said, not done silently.
    store.recovered?.forEach((r) => options.log(`Recovery: ${r}`));
    // Not sooner: the open's recovery writes under the lock, which must not go while it does.
    options.signal?.throwIfAborted();
    return {
      store,
      registry: createSessionRegistry(),
      tokens: createTransferTokens({ randomBytes: random }),
      throttles: memoryThrottleCounts,
      uploadSlots: new UploadsPerUser().slots(),
      liveSessions,
      lost: lock.lost,
      close: letGo,
      // Only with no write under way. process.exit runs every file operation already queued (libuv joins its
      // threads), and one on a slow or hung disk holds the exit until it returns: deleted first, the lock let a
      // server waiting for it (another container's lock, read every 500 ms) recover the directory while these
      // writes still landed, which WRITES_GRACE_MS exists to prevent. Left, it is judged by its pid, dead only
      // once every write of this process has returned (in a restarted container: up to STALE_MS unrenewed).
      abandon: () => {
        if (writes?.busy() !== true) lock.abandon();
      },
    };
  } catch (e) {
    await letGo();
    throw e;
  }
};

/**
 * Connections not logged in one host may hold: half of what rudp lets it
 * hold, so its connections that never log in leave the other half to its
 * logged-in users and newcomers (login-room.ts). A value rudp would refuse is
 * left for rudp to report.
 */
const loginRoomPerHost = (perHost: number): number =>
  Number.isInteger(perHost) && perHost >= 1 ? Math.max(1, Math.floor(perHost / 2)) : Number.POSITIVE_INFINITY;

/** The longest timer Node sets, ms: a longer one fires after 1 ms (every session's idle timer would then spin). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Throws a Node-style `ERR_OUT_OF_RANGE` RangeError unless `ms` (the option `name`) is a number of ms above 0 that a timer can wait. */
const checkTimeout = (name: string, ms: number): void => {
  if (typeof ms === 'number' && ms > 0 && ms <= MAX_TIMER_MS) return;
  const e = new RangeError(`The value of "${name}" is out of range. It must be > 0 and <= ${MAX_TIMER_MS}. Received ${String(ms)}`);
  throw Object.assign(e, { code: 'ERR_OUT_OF_RANGE' });
};

/**
 * Opens the store (data directory or PostgreSQL), then listens on UDP (rudp)
 * and TCP (transfers). Rejects with a readable error, leaving on disk none of
 * what the start made: the directories of the data directory's path it
 * created (once empty), and, with a data directory, the identity key it
 * created there (removed under the directory's lock, before it is released).
 */
export const startForumServer = async (options: ForumServerOptions): Promise<ForumServer> => {
  const made = await missingDirectories(options.dataDir);
  try {
    return await startOnce(options);
  } catch (e) {
    await removeEmptyDirectories(made);
    throw e;
  }
};

/** {@link startForumServer} but for the directories it made, removed when it fails. */
const startOnce = async (options: ForumServerOptions): Promise<ForumServer> => {
  const replyBudgetBytes = options.replyBudgetBytes ?? REPLY_BUDGET_PER_HOST;
  // A request reserves one largest reply before it runs: a smaller budget would let no request run.
  if (!(replyBudgetBytes >= MAX_SERVER_MESSAGE_BYTES + 256)) throw new RangeError(`replyBudgetBytes must be at least ${MAX_SERVER_MESSAGE_BYTES + 256}, got ${replyBudgetBytes}`);
  const maxReplyBytes = options.maxReplyBytes ?? defaultMaxReplyBytes(options.memoryBudgetBytes);
  if (!(maxReplyBytes >= MIN_MAX_REPLY_BYTES)) throw new RangeError(`maxReplyBytes must be at least ${MIN_MAX_REPLY_BYTES}, got ${maxReplyBytes}`);
  // Before anything is opened: a bad value is refused without a store or socket to close.
  checkTimeout('idleTimeoutMs', options.idleTimeoutMs);
  if (options.transferHeaderTimeoutMs !== undefined) checkTimeout('transferHeaderTimeoutMs', options.transferHeaderTimeoutMs);
  const perHost = options.maxConnectionsPerHost ?? DEFAULT_MAX_CONNECTIONS_PER_HOST;
  const loginRoom = new LoginRoom<RudpConnection>(options.maxConnectionsBeforeLogin ?? DEFAULT_MAX_CONNECTIONS_BEFORE_LOGIN, loginRoomPerHost(perHost));
  const serverId = options.serverId ?? randomBytes(6).toString('hex');
  // The store first: a server that cannot reach its store says so, and leaves no key file behind.
  // The quota measures the data directory; with PostgreSQL the database's own limits apply.
  const quota =
    options.databaseUrl === undefined
      ? new DiskQuota(options.dataDir, options.maxDataBytes, options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES)
      : new DiskQuota(options.dataDir, undefined);
  const state = await openState(options, serverId, quota);
  /** Closes what is open (`closers`, in order) and rejects, if the start has been given up (`options.signal`). */
  const closedIfAborted = async (...closers: readonly (() => Promise<unknown>)[]): Promise<void> => {
    if (options.signal?.aborted !== true) return;
    for (const close of closers) await close();
    options.signal.throwIfAborted();
  };
  let identity: ServerIdentity;
  try {
    // A key file given by path is not made in a directory that does not exist (a mistyped path); the data directory's is.
    identity = await loadOrCreateIdentity(options.dataDir, options.identityFile, { makeDirectory: options.identityFile === undefined });
  } catch (e) {
    await state.close();
    throw new Error(`cannot load the identity key: ${e instanceof Error ? e.message : String(e)}`);
  }
  const created = identity;
  /**
   * The store closed (its lock released), the key this start created removed first: with a data directory, its own
   * key, which no other server can have loaded (none loads it without the lock). A key made at `--identity-file`, or
   * with PostgreSQL (no lock), stays: servers started together on one missing key file load the one any of them
   * made, and one that failed took that key away from those running with it.
   */
  const closeState = async (): Promise<void> => {
    if (created.created && options.identityFile === undefined && options.databaseUrl === undefined) await unlink(created.path).catch(() => undefined);
    await state.close();
  };
  await closedIfAborted(closeState);
  const { store, tokens } = state;
  const activity = new TransferActivity();
  const memory = new MemoryBudget(options.memoryBudgetBytes, options.readRss);
  const overBudget = options.databaseUrl === undefined ? memory.threadsMayExceed(options.maxThreadBytes ?? DEFAULT_MAX_THREAD_BYTES) : undefined;
  if (overBudget !== undefined) options.warn(`Warning: ${overBudget}`);
  // The data directory has its free-space floor by default; the database nothing but this opt-in limit.
  if (options.databaseUrl !== undefined && options.maxDataBytes === undefined) options.warn(`Warning: ${UNBOUNDED_UPLOADS_WARNING}`);
  let udp: RudpServer;
  try {
    udp = await listen({
      port: options.port,
      host: options.host,
      identity: identity.keyPair,
      maxConnections: MAX_TRANSPORT_CONNECTIONS,
      maxReceiveBufferBytes: TRANSPORT_RECEIVE_BUDGET,
      maxConnectionsPerHost: perHost,
      handshakesPerHostPerSecond: options.handshakeRate ?? DEFAULT_HANDSHAKE_RATE,
      ...(options.cidServerId === undefined ? {} : { connectionIds: quicLbCidGenerator(QUIC_LB_CONFIG, options.cidServerId) }),
      ...TRANSPORT,
      ...options.transportIdle,
    });
  } catch (e) {
    await closeState();
    throw e;
  }
  await closedIfAborted(() => udp.close(), closeState);
  const udpPort = udp.address().port;
  // Said once at start, not only in each refused upload's log line.
  const short = await quota.freeUnderFloor();
  if (short !== undefined) options.warn(`Warning: the disk of the forum's files has ${short.free} bytes free, under --min-free-bytes ${short.floor}: every upload will be refused`);
  let tcp: TransferServer;
  try {
    // Port 0 asks for any free port: the TCP side then takes any free port too, not the UDP port's
    // number, which a socket in TIME_WAIT may still hold.
    const tcpPort = options.transferPort ?? (options.port === 0 ? 0 : udpPort);
    tcp = await startTransferServer(
      {
        store,
        tokens,
        activity,
        log: options.log,
        maxUploadBytes: options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
        quota,
        overloaded: () => memory.overloaded(),
        uploadSlots: state.uploadSlots,
        // Only a store that keeps deadlines (PostgreSQL): the data directory's would pay for the async context of each for nothing.
        ...(options.databaseUrl === undefined ? {} : { commitDeadlineMs: UPLOAD_COMMIT_DEADLINE_MS, storeDeadlineMs: COMMAND_DEADLINE_MS }),
      },
      tcpPort,
      options.host,
      options.transferHeaderTimeoutMs === undefined ? {} : { headerTimeoutMs: options.transferHeaderTimeoutMs },
    );
  } catch (e) {
    await udp.close();
    await closeState();
    // Node's own words (`listen EADDRINUSE: address already in use 127.0.0.1:4000`) named neither the
    // transfer port nor TCP, beside the UDP port's `cannot listen on …` (attack round 19).
    const where = `${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.transferPort ?? (options.port === 0 ? 0 : udpPort)}`;
    throw Object.assign(new Error(`cannot listen for file transfers on TCP ${where}: ${e instanceof Error ? e.message : String(e)}`, { cause: e }), { code: (e as { code?: unknown }).code });
  }
  // The start's last wait: given up after it, the server has started and is stopped as any other.
  await closedIfAborted(() => tcp.close(), () => udp.close(), closeState);
  const transferPort = tcp.port;
  // One policy per server: the throttle's counts are shared by every connection (and, in PostgreSQL, every server).
  const accounts = accountPolicy({
    hashPasswords: options.hashPasswords ?? false,
    counts: state.throttles,
    rateLimit: options.loginRateLimit ?? {},
    accountCreationLimit: options.accountCreationLimit ?? {},
  });
  const requestRate = options.requestRate ?? DEFAULT_REQUEST_RATE;
  const largeReplyRate = options.largeReplyBytesPerSecond ?? DEFAULT_LARGE_REPLY_BYTES_PER_SECOND;
  // A hostile client wrote a log line per malformed request, as fast as its requests were paced (100 a second).
  const clientLines = new LogLimiter(options.log);
  const summaries = setInterval(() => clientLines.flush(performance.now()), LOG_SUMMARY_INTERVAL_MS);
  summaries.unref();
  const loopBusy = eventLoopBusy(largeReplyRate === 0 ? 0 : (options.rateIdleBelow ?? DEFAULT_RATE_IDLE_BELOW));
  const stopSummaries = (): void => {
    loopBusy.stop();
    clearInterval(summaries);
    clientLines.flush(performance.now());
  };
  const replyBudget = new ReplyBudget({
    perHost: replyBudgetBytes,
    total: maxReplyBytes,
    ...(options.replyStaleAfterMs === undefined ? {} : { staleAfterMs: options.replyStaleAfterMs }),
  });
  const ctx = {
    store,
    registry: state.registry,
    // A random part per process: the server id may be configured, and so be a restarted process's too.
    connectionKeyPrefix: `${serverId}/${randomBytes(6).toString('hex')}`,
    liveSessions: state.liveSessions,
    accounts,
    tokens,
    activity,
    transferPort: options.advertisedTransferPort ?? transferPort,
    idleTimeoutMs: options.idleTimeoutMs,
    ...(options.databaseUrl === undefined ? {} : { commandDeadlineMs: COMMAND_DEADLINE_MS }),
    pacer: requestRate === 0 ? undefined : new RequestPacer(requestRate),
    queueBudget: new QueueBudget(QUEUE_LIMITS),
    replyBudget,
    largeReplies:
      largeReplyRate === 0
        ? undefined
        : new LargeReplyRate({
            bytesPerSecond: largeReplyRate,
            perReplyBytes: options.requestChargeBytes ?? REPLY_FIXED_BYTES,
            now: () => performance.now(),
            busy: loopBusy.busy,
          }),
    linesCache: new EncodedLinesCache(options.linesCacheBytes ?? defaultLinesCacheBytes(options.memoryBudgetBytes)),
    loginRoom,
    log: options.log,
    logFromHost: (address: string, kind: string, line: string) => clientLines.line(hostLevelsOf(address), kind, line, performance.now()),
  };
  let refusedForMemory = 0;
  // Connections being served (not those refused, which linger a few seconds to deliver their refusal):
  // what the memory budget holds at its number when crossed.
  let served = 0;
  udp.on('connection', (conn) => {
    const admission = ctx.loginRoom.admit(conn, (reason) => conn.destroy(reason), memory.overloaded(served), hostLevelsOf(conn.remoteAddress));
    // Each logged once per 100 so a flood of refusals (or of newcomers) cannot flood the log.
    if (admission.kind === 'refused') {
      if (refusedForMemory++ % 100 === 0) options.log(`Connection refused: ${admission.reason}`);
      refuseConnection(conn, admission.reason);
      return;
    }
    if (admission.shed !== undefined && ctx.loginRoom.shed % 100 === 1) {
      options.log(`Closed a connection not logged in to make room: ${admission.shed} (${ctx.loginRoom.shed} so far)`);
    }
    served++;
    conn.once('close', () => served--);
    serveConnection(conn, ctx);
  });
  // One stop, whoever asks first (a signal, a test, the lock lost): a second call waits for it.
  let stopped: Promise<number> | undefined;
  const close = (): Promise<void> =>
    (stopped ??= (async () => {
      await udp.close();
      await tcp.close();
      stopSummaries();
      await state.close();
      return 0;
    })()).then(() => undefined);
  const shutdown = (graceMs = STOP_GRACE_MS): Promise<number> =>
    (stopped ??= (async () => {
      const conns = [...udp.connections];
      const notice = encodeServerMessage(shutdownNotice());
      // The notice goes first on each connection; a graceful close delivers it before the CLOSE.
      const closed = conns.map((conn) => {
        conn.write(notice);
        return conn.close().catch(() => undefined);
      });
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([Promise.all(closed), deadline]);
      await tcp.close();
      await udp.close();
      stopSummaries();
      // Last: the closed connections' session releases above ran against it; this also drops any
      // lease of this server still held (in PostgreSQL), so its users may log in elsewhere at once.
      // With the data directory it waits for the writes under way, then lets go of the lock.
      await state.close();
      return conns.length;
    })());
  const lost = state.lost;
  const onLost = (): void => {
    const error = lost?.reason instanceof Error ? lost.reason : new Error(String(lost?.reason));
    // Said at once: the writes are refused from now on (fenced-store.ts), whatever the stop takes.
    options.warn(`Error: ${error.message}`);
    void shutdown().finally(() => options.onFatal?.(error));
  };
  // Lost while the server started (its lock checked by a write, or a renewal, since openState): stopped at once.
  if (lost?.aborted === true) onLost();
  else lost?.addEventListener('abort', onLost, { once: true });
  return {
    identity,
    udpPort,
    tcpPort: transferPort,
    replyBytesHeld: (address) => replyBudget.bytesOf(hostOf(address)),
    replyBytesHeldInAll: () => replyBudget.bytes,
    replyBytesSentInAll: () => replyBudget.repliesHeld,
    linesCachedBytes: () => ctx.linesCache.bytes,
    close,
    shutdown,
    abandon: () => state.abandon(),
  };
};
