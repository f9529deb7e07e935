/** The settings a forum server starts with (`startForumServer`), each documented where it is declared. */
import type { AccountCreationLimitOptions, LoginRateLimitOptions } from 'forum-protocol';

/** Settings of {@link startForumServer}. */
export interface ForumServerOptions {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** A PostgreSQL URL: keep everything there, shared with the other servers given it, instead of in `dataDir`. */
  readonly databaseUrl?: string;
  /**
   * The identity key file (`--identity-file`); default `dataDir/.forum-server-identity`. Servers
   * behind one balancer share one key file (or copies of it), so a client that pinned the forum's
   * key can be sent to any of them.
   */
  readonly identityFile?: string;
  /** This server's id (0–255) inside every connection id it hands out, in the QUIC-LB layout (`QUIC_LB_CONFIG`). Default: random ids. */
  readonly cidServerId?: number;
  /** Identifies this server among those sharing the database (its session leases). Default: random. */
  readonly serverId?: string;
  readonly idleTimeoutMs: number;
  /** For tests only: the transport's idle timeout and keep-alive, shorter than `TRANSPORT`'s (transport-idle.ts, `FORUM_SERVER_TEST_TRANSPORT_IDLE_MS`). Default `TRANSPORT`'s. */
  readonly transportIdle?: { readonly idleTimeoutMs: number; readonly keepAliveMs: number };
  /** For tests only: the longest session and upload lease on the database, shorter than `MAX_LEASE_MS` (session-lease.ts, `FORUM_SERVER_TEST_LEASE_MS`); with `--store` only. Default `MAX_LEASE_MS`. */
  readonly maxLeaseMs?: number;
  /** For tests only: how often the data directory's lock is renewed, shorter than `RENEW_MS` (lock-renew.ts, `FORUM_SERVER_TEST_LOCK_RENEW_MS`); without `--store` only. Default `RENEW_MS`. */
  readonly lockRenewMs?: number;
  /** TCP port for transfers; `undefined`: the UDP port's number (any free port when `port` is 0); 0: any free port. */
  readonly transferPort: number | undefined;
  /** The TCP port put in UPD/DWN replies (a load balancer's); default: the one listened on. */
  readonly advertisedTransferPort?: number;
  /** How long a transfer connection may take to send its whole header, ms (`--transfer-header-timeout`); default `HEADER_TIMEOUT_MS` (server-defaults.ts). */
  readonly transferHeaderTimeoutMs?: number;
  /** Store passwords as scrypt hashes (`--hash-passwords`); default false, the spec's plain format. */
  readonly hashPasswords?: boolean;
  /**
   * Login throttling per account and per client host; `false` turns it off.
   * Default: forum-protocol's `DEFAULT_LOGIN_RATE_LIMIT` (5 per account, 20 per host, per minute).
   */
  readonly loginRateLimit?: LoginRateLimitOptions | false;
  /** New accounts per client host; `false` turns the limit off. Default: forum-protocol's `DEFAULT_ACCOUNT_CREATION_LIMIT`. */
  readonly accountCreationLimit?: AccountCreationLimitOptions | false;
  /** Largest upload, bytes (`--max-upload-bytes`). Default {@link DEFAULT_MAX_UPLOAD_BYTES}. */
  readonly maxUploadBytes?: number;
  /** Most bytes the data directory may hold (`--max-data-bytes`), or with `databaseUrl` all uploads in the database; `undefined`: no quota. */
  readonly maxDataBytes?: number;
  /**
   * Most bytes one account's uploads may hold (`--max-data-bytes-per-user`): of the data directory's quota, or
   * with `databaseUrl` of the database's uploads. Default forum-protocol's `defaultMaxUserUploadBytes` of
   * `maxDataBytes`; without either, no share.
   */
  readonly maxDataBytesPerUser?: number;
  /** Most bytes all thread files may hold (`--max-thread-bytes`); the data directory only. Default forum-protocol's `DEFAULT_MAX_THREAD_BYTES`. */
  readonly maxThreadBytes?: number;
  /** Most bytes of lines one account may hold in the threads (`--max-thread-bytes-per-user`); the data directory only. Default forum-protocol's `defaultMaxUserThreadBytes`. */
  readonly maxThreadBytesPerUser?: number;
  /** Most accounts the data directory holds (`--max-accounts`): a new one past it is refused; the data directory only. `undefined`: no limit. */
  readonly maxAccounts?: number;
  /** Free bytes an upload must leave on the data directory's file system (`--min-free-bytes`); 0: none. Default 1 GiB. */
  readonly minFreeBytes?: number;
  /** How long a write to the data directory may be under way before new changes are refused (`--disk-stall-ms`), ms; the data directory only. Default forum-protocol's `DEFAULT_DISK_STALL_MS`. */
  readonly diskStallMs?: number;
  /**
   * Resident memory above which a new connection takes the place of the
   * oldest one not logged in, or is refused if every connection has logged
   * in (`--memory-budget-mib`); `undefined`: no budget.
   */
  readonly memoryBudgetBytes?: number;
  /** Reads the process's resident bytes for the memory budget; default `process.memoryUsage.rss`. Tests pass a fake. */
  readonly readRss?: () => number;
  /**
   * Most rudp connections not logged in at once (`--max-connections-before-login`);
   * one more takes the place of the oldest of them, which is closed with a
   * reason. Default {@link DEFAULT_MAX_CONNECTIONS_BEFORE_LOGIN}.
   */
  readonly maxConnectionsBeforeLogin?: number;
  /**
   * Most rudp connections from one client host (`--max-connections-per-host`);
   * one more is refused in the handshake. Default {@link DEFAULT_MAX_CONNECTIONS_PER_HOST}.
   */
  readonly maxConnectionsPerHost?: number;
  /**
   * Handshakes a second one client host may make the server start
   * (`--handshake-rate`; rudp's `handshakesPerHostPerSecond`, in bursts of
   * `maxConnectionsPerHost`, at least 256); one more is refused in the
   * handshake. 0: no limit. Default {@link DEFAULT_HANDSHAKE_RATE}.
   */
  readonly handshakeRate?: number;
  /** Most threads one account may have created and not removed (`--max-threads-per-user`). Default forum-protocol's `DEFAULT_THREADS_PER_USER`. */
  readonly maxThreadsPerUser?: number;
  /**
   * How many accounts' shares the accounts one client host created (their origin: forum-protocol's
   * origin-shares.ts) hold together: of the threads, the threads' bytes and lines, and the uploads' room
   * (`--origin-shares`). 0: no such bound. Default forum-protocol's `ORIGIN_SHARES`.
   */
  readonly originShares?: number;
  /**
   * Requests a second each account (each client host before login) is served
   * at, with bursts of twice that; more wait their turn (`--request-rate`).
   * A write (MSG, EDT, DLT, CRT, RMV, UPD) counts `WRITE_TURNS`; the logged-in
   * accounts of one client host share `HOST_RATE_MULTIPLE` (request-pacer.ts)
   * times it. 0: no pacing. Default {@link DEFAULT_REQUEST_RATE}.
   */
  readonly requestRate?: number;
  /**
   * Unacknowledged reply bytes all connections of one client host may hold
   * (an IPv6 /56 four times, a /48 sixteen times); past it the host's next
   * requests wait. Default {@link REPLY_BUDGET_PER_HOST}; see reply-budget.ts.
   */
  readonly replyBudgetBytes?: number;
  /**
   * Unacknowledged reply bytes all connections of the server may hold
   * (`--max-reply-bytes`); past it requests wait, those of hosts holding more
   * than a fair share first. Default {@link defaultMaxReplyBytes} of the memory
   * budget; see reply-budget.ts.
   */
  readonly maxReplyBytes?: number;
  /**
   * Most bytes the encoded lines of threads read lately may take
   * (`EncodedLinesCache`): an RDT of a thread whose value is cached copies
   * them instead of encoding it. Default {@link defaultLinesCacheBytes} of
   * the memory budget; 0: none.
   */
  readonly linesCacheBytes?: number;
  /**
   * Bytes a second of request work the whole server does before requests
   * wait their party's turn (large-reply-rate.ts): each request counts
   * {@link requestChargeBytes} (a write `WRITE_TURNS` times it), and an LST
   * or RDT reply of 2 KiB or more its bytes too; 0: no limit.
   * Default {@link DEFAULT_LARGE_REPLY_BYTES_PER_SECOND}.
   */
  readonly largeReplyBytesPerSecond?: number;
  /** What each request counts of that rate (`--request-charge`); 0: only LST and RDT replies of 2 KiB or more, by their bytes. Default `REPLY_FIXED_BYTES`. */
  readonly requestChargeBytes?: number;
  /**
   * Share (0–1) of the event loop busy over the last 100 ms below which that rate counts nothing (`--rate-idle-below`,
   * event-loop-busy.ts); 0: it always counts. Default {@link DEFAULT_RATE_IDLE_BELOW}.
   */
  readonly rateIdleBelow?: number;
  /** How long a reply may stay unacknowledged (and 1 ms per KiB of it) before a waiting request may close its connection. Tests shorten it. */
  readonly replyStaleAfterMs?: number;
  readonly log: (line: string) => void;
  readonly warn: (line: string) => void;
  /**
   * Called once the server has stopped by itself because it can no longer
   * run safely: its data directory's lock was lost (`error.code`
   * `ERR_DATA_DIR_LOCK_LOST`, the message names what holds it now), so it
   * refused every write from then on, told its clients, closed its sockets
   * and let its writes under way finish. The process should exit non-zero.
   * (The error is also given to `warn` as it is found.)
   */
  readonly onFatal?: (error: Error) => void;
  /**
   * Gives the start up (a stop signal during start-up): a wait for another
   * container's lock, or for the database, ends at once; the data
   * directory's open stops before its next thread file, a recovery under
   * way (writing under the lock) being let finish. What was opened is then
   * closed, the lock released, and `startForumServer` rejects with an
   * `AbortError`. No effect once started.
   */
  readonly signal?: AbortSignal;
}
