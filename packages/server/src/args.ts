import { ACCOUNT_SHARE_DIVISOR, BYTES_PER_THREAD_LINE, DEFAULT_DISK_STALL_MS, DEFAULT_POSTGRES_TIMEOUTS as PG_TIMEOUTS, defaultMaxThreadLines, defaultMaxUserThreadBytes, MIN_ACCOUNT_THREAD_LINES, MIN_USER_UPLOAD_BYTES, DEFAULT_MAX_THREAD_BYTES, DEFAULT_THREADS_PER_USER, MAX_THREADS, ORIGIN_SHARES, parseProgramArguments, UPLOAD_SHARE_DIVISOR } from 'forum-protocol';
import { DEFAULT_MIN_FREE_BYTES } from './disk-quota.js';
import { DEFAULT_RATE_IDLE_BELOW } from './event-loop-busy.js';
import { DEFAULT_LARGE_REPLY_BYTES_PER_SECOND, REPLY_FIXED_BYTES } from './large-reply-rate.js';
import { DEFAULT_MAX_REPLY_BYTES, MIN_MAX_REPLY_BYTES } from './reply-budget.js';
import { HOST_RATE_MULTIPLE, WRITE_TURNS } from './request-pacer.js';

/** Login throttling as the command line sets it; `false` when turned off (`--login-attempts 0`). */
export type LoginLimitArgs =
  | {
      /** Wrong passwords per account within the window before it is throttled. */
      readonly maxFailuresPerAccount: number;
      /** Wrong passwords per client host (any port) within the window before it is throttled. */
      readonly maxFailuresPerAddress: number;
      /** Password checks of any outcome per account within the window (each may be a scrypt hash). */
      readonly maxChecksPerAccount: number;
      /** Password checks of any outcome per client host within the window. */
      readonly maxChecksPerAddress: number;
      /** The sliding window, ms. */
      readonly windowMs: number;
    }
  | false;

/** The server's command line, once parsed. */
export interface ServerArgs {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** The identity key file (`--identity-file`); `undefined`: `.forum-server-identity` in the data directory. */
  readonly identityFile: string | undefined;
  /** `--cid-server-id`: this server's id in the QUIC-LB connection ids it hands out (0–255); `undefined`: random ids. */
  readonly cidServerId: number | undefined;
  /** PostgreSQL URL (`--store` or `FORUM_DATABASE_URL`): the shared store of several servers; `undefined`: the data directory. */
  readonly databaseUrl: string | undefined;
  readonly idleTimeoutSeconds: number;
  /** TCP port for file transfers; `undefined` means the UDP port's number. */
  readonly transferPort: number | undefined;
  /** The TCP port clients are told to use for transfers (a load balancer's); `undefined`: the one the server listens on. */
  readonly advertisedTransferPort: number | undefined;
  /** Seconds a transfer connection has to send its whole header (`--transfer-header-timeout`). */
  readonly transferHeaderTimeoutSeconds: number;
  /** Store new (and, on login, existing plain) passwords as scrypt hashes. */
  readonly hashPasswords: boolean;
  readonly loginLimit: LoginLimitArgs;
  /** New accounts per client host per window; `false` when turned off (`--account-limit 0`). */
  readonly accountLimit: { readonly maxPerHost: number; readonly windowMs: number } | false;
  /** Largest upload, bytes. */
  readonly maxUploadBytes: number;
  /** Most bytes the data directory may hold; `undefined`: no quota. */
  readonly maxDataBytes: number | undefined;
  /** Most bytes one account's uploads may hold, in the data directory or with `--store` the database (`--max-data-bytes-per-user`); absent: the default share of `--max-data-bytes`. */
  readonly maxDataBytesPerUser?: number;
  /** Most bytes all thread files may hold (`--max-thread-bytes`). */
  readonly maxThreadBytes: number;
  /** Most bytes of lines one account may hold in the threads (`--max-thread-bytes-per-user`); absent: the store's default share. */
  readonly maxThreadBytesPerUser?: number;
  /** Free bytes an upload must leave on the data directory's file system; 0: none. */
  readonly minFreeBytes: number;
  /** How long a write to the data directory may be under way before new changes are refused (`--disk-stall-ms`), ms. */
  readonly diskStallMs: number;
  /** Resident memory above which new connections are refused, bytes; `undefined`: no budget. */
  readonly memoryBudgetBytes: number | undefined;
  /** Most rudp connections from one client host (`--max-connections-per-host`). */
  readonly maxConnectionsPerHost: number;
  /** Most rudp connections not logged in at once (`--max-connections-before-login`). */
  readonly maxConnectionsBeforeLogin: number;
  /** Handshakes a second one client host may make the server start (`--handshake-rate`); 0: no limit. */
  readonly handshakeRate: number;
  /** Most threads one account may have created and not removed (`--max-threads-per-user`). */
  readonly maxThreadsPerUser: number;
  /** How many accounts' shares the accounts one client host created hold together (`--origin-shares`); 0: no such bound. */
  readonly originShares: number;
  /** Most accounts the data directory holds (`--max-accounts`); 0: no limit. */
  readonly maxAccounts: number;
  /** Requests a second per account (per host before login; a host's accounts share `HOST_RATE_MULTIPLE` times it), bursts of twice that (`--request-rate`); 0: no pacing. */
  readonly requestRate: number;
  /** Unacknowledged reply bytes of all connections (`--max-reply-bytes`); `undefined`: a quarter of the memory budget (server-defaults.ts, `defaultMaxReplyBytes`). */
  readonly maxReplyBytes: number | undefined;
  /**
   * MiB a second of request work the whole server does before requests wait their party's turn (`--large-reply-rate`): each request
   * `requestChargeKib`, a write `WRITE_TURNS` times it, an LST/RDT reply of 2 KiB or more its bytes too; 0: no limit.
   */
  readonly largeReplyRateMib: number;
  /** KiB of that rate each request takes (`--request-charge`); 0: only LST/RDT replies of 2 KiB or more, by their bytes. */
  readonly requestChargeKib: number;
  /** Percent of the event loop busy (last 100 ms) below which that rate counts nothing (`--rate-idle-below`); 0: it always counts. */
  readonly rateIdleBelowPercent: number;
}

/** What the command line asks for: run, print help, or fail with a message. */
export type ServerCommand =
  | { readonly kind: 'run'; readonly args: ServerArgs }
  /** `--show-fingerprint`: print the identity key's fingerprint of `dataDir` (creating the key if absent) and exit. */
  | { readonly kind: 'show-fingerprint'; readonly dataDir: string; readonly identityFile: string | undefined }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

/** Defaults of the login throttle (the same figures as forum-protocol's `DEFAULT_LOGIN_RATE_LIMIT`). */
export const LOGIN_DEFAULTS = { attempts: 5, hostAttempts: 20, checks: 10, hostChecks: 60, windowSeconds: 60 } as const;

/** Defaults of the other resource limits (account creation as forum-protocol's `DEFAULT_ACCOUNT_CREATION_LIMIT`). */
export const LIMIT_DEFAULTS = { accounts: 10, accountWindowSeconds: 600, maxUploadBytes: 1024 ** 3, memoryBudgetMib: 1024, minFreeBytes: DEFAULT_MIN_FREE_BYTES, diskStallMs: DEFAULT_DISK_STALL_MS, maxThreadBytes: DEFAULT_MAX_THREAD_BYTES, connectionsPerHost: 256, connectionsBeforeLogin: 4096, handshakeRate: 64, threadsPerUser: DEFAULT_THREADS_PER_USER, originShares: ORIGIN_SHARES, maxAccounts: 100_000, requestRate: 100, largeReplyRateMib: DEFAULT_LARGE_REPLY_BYTES_PER_SECOND / 1024 / 1024, requestChargeKib: REPLY_FIXED_BYTES / 1024, rateIdleBelowPercent: DEFAULT_RATE_IDLE_BELOW * 100, transferHeaderTimeoutSeconds: 10 } as const;

/** The one-line usage message. */
export const USAGE =
  'Usage: forum-server <port> [--data-dir DIR | --store postgres://…] [--idle-timeout SECONDS] [--host HOST] [--transfer-port PORT] [--advertised-transfer-port PORT] [--transfer-header-timeout SECONDS] [--identity-file FILE] [--cid-server-id N]' +
  ' [--hash-passwords] [--login-attempts N] [--login-host-attempts N] [--login-checks N] [--login-host-checks N] [--login-window SECONDS]' +
  ' [--account-limit N] [--account-window SECONDS] [--max-upload-bytes N] [--max-data-bytes N] [--max-data-bytes-per-user N] [--max-thread-bytes N] [--max-thread-bytes-per-user N] [--min-free-bytes N] [--disk-stall-ms N] [--memory-budget-mib N] [--max-connections-per-host N] [--max-connections-before-login N] [--handshake-rate N] [--max-threads-per-user N] [--origin-shares N] [--max-accounts N] [--request-rate N] [--max-reply-bytes N] [--large-reply-rate MIB] [--request-charge KIB] [--rate-idle-below PERCENT] [--show-fingerprint]';

/**
 * What an argument error prints under its message: the usage's first options and where the rest are. The whole
 * {@link USAGE} is over 1,000 characters, which buried the one line that said what was wrong.
 */
export const SHORT_USAGE = 'Usage: forum-server <port> [--data-dir DIR | --store postgres://…] [options] (forum-server --help lists every option)';

/** The `--help` text. */
export const HELP = `${USAGE}

Runs the forum server: rudp on UDP <port>, file transfers on TCP (same port
number unless --transfer-port is given; port 0 picks free ports for both).

  --data-dir DIR            where credentials.txt, threads and uploads live (default: .);
                            one server per directory (DIR/.forum-server.lock)
  --store postgres://…      keep accounts, threads, uploads, sessions and transfer
                            tokens in PostgreSQL instead, shared by every server
                            given the same URL (default: $FORUM_DATABASE_URL if
                            set and --data-dir is not given). Each connection
                            has statement_timeout ${PG_TIMEOUTS.statementMs / 1000} s, lock_timeout ${PG_TIMEOUTS.lockMs / 1000} s and
                            idle_in_transaction_session_timeout ${PG_TIMEOUTS.idleInTransactionMs / 1000} s; the URL's
                            parameters override them (…/forum?lock_timeout=5s)
  --idle-timeout SECONDS    log out a client idle this long (default 600)
  --host HOST               address to bind (default 127.0.0.1)
  --transfer-port PORT      TCP port for UPD/DWN (default: the UDP port)
  --advertised-transfer-port PORT
                            the TCP port clients are told to use for UPD/DWN, when
                            they reach the servers through a load balancer (default:
                            the port the server listens on)
  --transfer-header-timeout SECONDS
                            a transfer connection that has not sent its whole
                            header (token line, and an upload's size line) this
                            long after connecting is closed, however many bytes
                            it trickled (default ${LIMIT_DEFAULTS.transferHeaderTimeoutSeconds})
  --identity-file FILE      the identity key file (default: DIR/.forum-server-identity,
                            or ./.forum-server-identity with --store). Servers behind
                            one load balancer must share one key: give them the same
                            file (or copies of it). Made if missing (said on stderr),
                            but not in a directory that does not exist: make the key
                            with --show-fingerprint --identity-file FILE
  --cid-server-id N         put server id N (0-255) in every connection id this
                            server hands out, in the QUIC-LB layout (one octet of
                            server id), so a connection-id-aware balancer can
                            route without address affinity (default: random ids)
  --hash-passwords          store passwords in credentials.txt as scrypt hashes
                            (username scrypt$<salt>$<hash>); plain entries are
                            rewritten hashed on their next login. Default: the
                            spec's plain "username password" lines
  --login-attempts N        wrong passwords per account within the window before
                            further logins of it are refused for a while
                            (default ${LOGIN_DEFAULTS.attempts}; 0 turns login throttling off)
  --login-host-attempts N   the same per client host, any account (default ${LOGIN_DEFAULTS.hostAttempts})
  --login-checks N          password checks per account within the window, right
                            or wrong, before further logins of it wait: each
                            check may cost a scrypt hash (default ${LOGIN_DEFAULTS.checks})
  --login-host-checks N     the same per client host, any account (default ${LOGIN_DEFAULTS.hostChecks})
  --login-window SECONDS    the sliding window of those counts (default ${LOGIN_DEFAULTS.windowSeconds})
  --show-fingerprint        print the fingerprint of the server's identity key
                            (DIR/.forum-server-identity, created on first start,
                            mode 0600) and exit; clients show the same on first
                            contact
  --account-limit N         new accounts one client host may create within the
                            account window (default ${LIMIT_DEFAULTS.accounts}; 0 turns the limit off)
  --account-window SECONDS  that window (default ${LIMIT_DEFAULTS.accountWindowSeconds})
  --max-upload-bytes N      largest file UPD accepts (default ${LIMIT_DEFAULTS.maxUploadBytes}, 1 GiB)
  --max-data-bytes N        disk quota: most bytes the data directory may hold;
                            an upload that would pass it is refused (default: none).
                            With --store: most bytes all uploads may hold in the
                            database, over every server (set it: nothing else
                            bounds them there)
  --max-data-bytes-per-user N
                            most bytes one account's uploads may hold of
                            --max-data-bytes, stored and in progress (with
                            --store: over every server); one more is refused,
                            so one account cannot fill the uploads' room for
                            everyone (default 1/${UPLOAD_SHARE_DIVISOR} of --max-data-bytes, at least
                            ${MIN_USER_UPLOAD_BYTES} bytes, at most all of it; none without
                            --max-data-bytes)
  --max-thread-bytes N      most bytes all thread files together may hold (the
                            server keeps them in memory); a MSG, EDT or upload
                            line past it is refused (default ${LIMIT_DEFAULTS.maxThreadBytes}, 256 MiB);
                            and at most one line per ${BYTES_PER_THREAD_LINE} of them (${defaultMaxThreadLines(LIMIT_DEFAULTS.maxThreadBytes)} at
                            the default): a MSG or upload line past it is refused
  --max-thread-bytes-per-user N
                            most bytes one account's messages and upload lines
                            may hold of all threads; one more is refused, so one
                            account cannot fill the forum for everyone (default
                            1/${ACCOUNT_SHARE_DIVISOR} of --max-thread-bytes, at least 1 MiB: ${defaultMaxUserThreadBytes(LIMIT_DEFAULTS.maxThreadBytes)} at
                            the default); and at most 1/${ACCOUNT_SHARE_DIVISOR} of the lines (at least
                            ${MIN_ACCOUNT_THREAD_LINES})
  --min-free-bytes N        free space an upload must leave on the data
                            directory's file system, whoever uploads (default
                            ${LIMIT_DEFAULTS.minFreeBytes}, 1 GiB; 0: none)
  --disk-stall-ms N         once a write to the data directory (its sync) has
                            been under way N ms, the disk is taken as stalled:
                            new changes are refused at once until it returns,
                            reads go on (1 to 1000000; default ${LIMIT_DEFAULTS.diskStallMs})
  --memory-budget-mib N     while the server's resident memory is above N MiB,
                            it holds its connections at their number then: a
                            new one beyond takes the place of the oldest one
                            not logged in (closed with a reason), and is refused
                            if there is none (default ${LIMIT_DEFAULTS.memoryBudgetMib}; 0: no budget)
  --max-connections-per-host N
                            most connections from one client host (an IPv4
                            address or an IPv6 /64, any port; an IPv6 /56
                            may hold 4 times N, a /48 16 times); one more is
                            refused at once. Half of them at most may be not
                            logged in: past that, the host's oldest one not
                            logged in makes room (default ${LIMIT_DEFAULTS.connectionsPerHost})
  --max-connections-before-login N
                            most connections not logged in at once, from all
                            hosts; one more takes the place of the oldest of
                            them, closed with a reason (default ${LIMIT_DEFAULTS.connectionsBeforeLogin})
  --handshake-rate N        new connections a second one client host may
                            start (an IPv6 /56 4 times N, a /48 16 times), in
                            bursts of --max-connections-per-host (at least
                            256); one more is refused at once, before the key
                            exchange (default ${LIMIT_DEFAULTS.handshakeRate}; 0: no limit)
  --max-threads-per-user N  threads one account may have created and not
                            removed; one more CRT is refused (default ${LIMIT_DEFAULTS.threadsPerUser});
                            the forum holds at most ${MAX_THREADS} threads in all,
                            so that LST always fits in one reply
  --origin-shares N         the accounts one client host created (an IPv4
                            address or an IPv6 /64, recorded with each account
                            as it is made) hold together at most N accounts'
                            shares: N times --max-thread-bytes-per-user (and
                            its lines), --max-data-bytes-per-user and
                            --max-threads-per-user; one more is refused, so
                            one address's accounts cannot fill the forum for
                            everyone (default ${LIMIT_DEFAULTS.originShares}; 0: no such bound)
  --max-accounts N          accounts the data directory holds; a new one past
                            it is refused (accounts are never removed, and
                            the server keeps each in memory, about 1 KiB)
                            (default ${LIMIT_DEFAULTS.maxAccounts}; 0: no limit)
  --request-rate N          requests a second each account (each client host
                            before login) is served at, in bursts of up to
                            twice that; more wait their turn; a write (MSG,
                            EDT, DLT, CRT, RMV, UPD) counts ${WRITE_TURNS}, and a reply
                            one more for every 64 KiB it holds; the
                            accounts of one client host share ${HOST_RATE_MULTIPLE} times
                            that (default ${LIMIT_DEFAULTS.requestRate}; 0: no pacing)
  --max-reply-bytes N       most bytes of replies sent and not yet acknowledged,
                            all clients together (at least ${MIN_MAX_REPLY_BYTES}); past it
                            requests wait, those of hosts holding more than a
                            fair share first, and a connection whose replies
                            stay unacknowledged while others wait is closed
                            (default: a quarter of --memory-budget-mib, ${DEFAULT_MAX_REPLY_BYTES / 1024 / 1024} MiB
                            at its default or without one)
  --large-reply-rate MIB    MiB a second of request work all clients
                            together are served: each request counts
                            --request-charge (a write ${WRITE_TURNS} times it), and an
                            LST or RDT reply of 2 KiB or more its bytes too;
                            past it requests wait, the client hosts that
                            asked least first, so many hosts cannot take
                            the server's CPU (default ${LIMIT_DEFAULTS.largeReplyRateMib}; 0: no limit)
  --request-charge KIB      what each request counts of --large-reply-rate,
                            its CPU apart from a reply's bytes (default ${LIMIT_DEFAULTS.requestChargeKib}:
                            ${Math.floor((LIMIT_DEFAULTS.largeReplyRateMib * 1024) / LIMIT_DEFAULTS.requestChargeKib)} cheap requests a second at the default
                            rate; 0: only LST and RDT replies of 2 KiB or
                            more count, by their bytes)
  --rate-idle-below PERCENT while the event loop was busy less than this
                            share of the last 100 ms, --large-reply-rate
                            counts nothing: an idle core serves all asked
                            (default ${LIMIT_DEFAULTS.rateIdleBelowPercent}; 0: the rate always counts)
  --help                    show this text

SIGINT, SIGTERM, SIGHUP (or Ctrl-D at its terminal) stop the server: it prints
"Server shutting down (SIGTERM)" (the signal, or "end of input"), tells every connected client ("The server is
shutting down"), closes their connections and exits 0.`;

const parsePort = (s: string, allowZero: boolean): number | undefined => {
  if (!/^[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 && (allowZero || n >= 1) ? n : undefined;
};

/**
 * The most seconds a duration option takes: 2^31 − 1 ms, about 24.8 days, the longest timer Node
 * can set (a longer one fires after 1 ms, so an idle timeout past it logged everyone out, or spun).
 */
export const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** A decimal number of seconds above 0 and at most {@link MAX_SECONDS} (fractions allowed, for tests); `undefined` otherwise. */
const parseSeconds = (s: string): number | undefined => {
  const n = Number(s);
  return /^[0-9]+(\.[0-9]+)?$/.test(s) && n > 0 && n <= MAX_SECONDS ? n : undefined;
};

/**
 * A duration option's seconds as the server takes them: whole ms, at least 1. Every duration goes
 * through here (the idle timeout, the transfer header's deadline, the login and account windows):
 * before, the idle timeout took `s × 1000` as it came (0.0004 s: a 0.4 ms timer and lease) while the
 * header's deadline was rounded, so one value meant two times.
 */
export const durationMs = (seconds: number): number => Math.max(1, Math.round(seconds * 1000));

/** The message of a duration option's bad value. */
const badSeconds = (what: string, text: string): string => `invalid ${what}: ${text} (seconds, above 0 and at most ${MAX_SECONDS}, about 24 days)`;

/** A whole count from `min` to 1,000,000; `undefined` otherwise. */
const parseCount = (s: string, min: number): number | undefined => {
  if (!/^[0-9]{1,7}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= min && n <= 1_000_000 ? n : undefined;
};

const DATABASE_URL = /^postgres(ql)?:\/\/\S+$/;

/** A whole number of bytes from `min` to 2^53 − 1; `undefined` otherwise. */
const parseBytes = (s: string, min: number): number | undefined => {
  if (!/^[0-9]{1,16}$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) && n >= min ? n : undefined;
};

/** Parses `argv` (without `node` and the script) and `env` (`FORUM_DATABASE_URL`). Never throws. */
export const parseServerArgs = (argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ServerCommand => {
  const parsed = parseProgramArguments(argv, {
    'data-dir': { type: 'string' },
    store: { type: 'string' },
    'idle-timeout': { type: 'string' },
    host: { type: 'string' },
    'transfer-port': { type: 'string' },
    'advertised-transfer-port': { type: 'string' },
    'transfer-header-timeout': { type: 'string' },
    'identity-file': { type: 'string' },
    'cid-server-id': { type: 'string' },
    'hash-passwords': { type: 'boolean' },
    'login-attempts': { type: 'string' },
    'login-host-attempts': { type: 'string' },
    'login-checks': { type: 'string' },
    'login-host-checks': { type: 'string' },
    'login-window': { type: 'string' },
    'show-fingerprint': { type: 'boolean' },
    'account-limit': { type: 'string' },
    'account-window': { type: 'string' },
    'max-upload-bytes': { type: 'string' },
    'max-data-bytes': { type: 'string' },
    'max-data-bytes-per-user': { type: 'string' },
    'min-free-bytes': { type: 'string' },
    'disk-stall-ms': { type: 'string' },
    'max-thread-bytes': { type: 'string' },
    'max-thread-bytes-per-user': { type: 'string' },
    'memory-budget-mib': { type: 'string' },
    'max-connections-per-host': { type: 'string' },
    'max-connections-before-login': { type: 'string' },
    'handshake-rate': { type: 'string' },
    'max-threads-per-user': { type: 'string' },
    'origin-shares': { type: 'string' },
    'max-accounts': { type: 'string' },
    'request-rate': { type: 'string' },
    'max-reply-bytes': { type: 'string' },
    'large-reply-rate': { type: 'string' },
    'request-charge': { type: 'string' },
    'rate-idle-below': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (parsed._tag === 'Left') return { kind: 'error', message: parsed.left };
  const { values, positionals } = parsed.right;
  if (values.help === true) return { kind: 'help' };
  // `--data-dir "$FORUM_DIR"` with the variable unset: resolved, '' was the working directory (a home, /),
  // whose files the server then took as its own (their names taken, its lock and key written there).
  if (values['data-dir'] === '') return { kind: 'error', message: 'empty data directory: give --data-dir a path (leave it out for the working directory)' };
  if (values['show-fingerprint'] === true) {
    if (positionals.length > 1) return { kind: 'error', message: 'expected at most one <port>' };
    return { kind: 'show-fingerprint', dataDir: values['data-dir'] ?? process.cwd(), identityFile: values['identity-file'] };
  }
  if (positionals.length !== 1) return { kind: 'error', message: 'expected exactly one <port>' };
  const port = parsePort(positionals[0] ?? '', true);
  if (port === undefined) return { kind: 'error', message: `invalid port: ${positionals[0] ?? ''}` };
  const idleText = values['idle-timeout'] ?? '600';
  const idle = parseSeconds(idleText);
  if (idle === undefined) return { kind: 'error', message: badSeconds('idle timeout', idleText) };
  let transferPort: number | undefined;
  if (values['transfer-port'] !== undefined) {
    transferPort = parsePort(values['transfer-port'], true);
    if (transferPort === undefined) return { kind: 'error', message: `invalid transfer port: ${values['transfer-port']}` };
  }
  if (values.store !== undefined && values['data-dir'] !== undefined) return { kind: 'error', message: '--store and --data-dir exclude each other' };
  const envUrl = env.FORUM_DATABASE_URL === '' ? undefined : env.FORUM_DATABASE_URL;
  const databaseUrl = values.store ?? (values['data-dir'] === undefined ? envUrl : undefined);
  if (databaseUrl !== undefined && !DATABASE_URL.test(databaseUrl)) {
    return { kind: 'error', message: `invalid store: expected a postgres:// or postgresql:// URL${values.store === undefined ? ' in FORUM_DATABASE_URL' : ''}` };
  }
  let advertisedTransferPort: number | undefined;
  if (values['advertised-transfer-port'] !== undefined) {
    advertisedTransferPort = parsePort(values['advertised-transfer-port'], false);
    if (advertisedTransferPort === undefined) return { kind: 'error', message: `invalid advertised transfer port: ${values['advertised-transfer-port']}` };
  }
  const headerText = values['transfer-header-timeout'] ?? String(LIMIT_DEFAULTS.transferHeaderTimeoutSeconds);
  const transferHeaderTimeoutSeconds = parseSeconds(headerText);
  if (transferHeaderTimeoutSeconds === undefined) return { kind: 'error', message: badSeconds('transfer header timeout', headerText) };
  const host = values.host ?? '127.0.0.1';
  if (host === '') return { kind: 'error', message: 'empty host' };
  if (values['identity-file'] === '') return { kind: 'error', message: 'empty identity file' };
  let cidServerId: number | undefined;
  if (values['cid-server-id'] !== undefined) {
    cidServerId = /^[0-9]{1,3}$/.test(values['cid-server-id']) ? Number(values['cid-server-id']) : Number.NaN;
    if (!(cidServerId <= 255)) return { kind: 'error', message: `invalid cid server id (0 to 255): ${values['cid-server-id']}` };
  }

  const attemptsText = values['login-attempts'] ?? String(LOGIN_DEFAULTS.attempts);
  const attempts = parseCount(attemptsText, 0);
  if (attempts === undefined) return { kind: 'error', message: `invalid login attempts: ${attemptsText}` };
  const hostText = values['login-host-attempts'] ?? String(LOGIN_DEFAULTS.hostAttempts);
  const hostAttempts = parseCount(hostText, 1);
  if (hostAttempts === undefined) return { kind: 'error', message: `invalid login host attempts: ${hostText}` };
  const checksText = values['login-checks'] ?? String(LOGIN_DEFAULTS.checks);
  const checks = parseCount(checksText, 1);
  if (checks === undefined) return { kind: 'error', message: `invalid login checks: ${checksText}` };
  const hostChecksText = values['login-host-checks'] ?? String(LOGIN_DEFAULTS.hostChecks);
  const hostChecks = parseCount(hostChecksText, 1);
  if (hostChecks === undefined) return { kind: 'error', message: `invalid login host checks: ${hostChecksText}` };
  const windowText = values['login-window'] ?? String(LOGIN_DEFAULTS.windowSeconds);
  const windowSeconds = parseSeconds(windowText);
  if (windowSeconds === undefined) return { kind: 'error', message: badSeconds('login window', windowText) };
  const loginLimit: LoginLimitArgs =
    attempts === 0
      ? false
      : {
          maxFailuresPerAccount: attempts,
          maxFailuresPerAddress: hostAttempts,
          maxChecksPerAccount: checks,
          maxChecksPerAddress: hostChecks,
          windowMs: durationMs(windowSeconds),
        };

  const accountText = values['account-limit'] ?? String(LIMIT_DEFAULTS.accounts);
  const accounts = parseCount(accountText, 0);
  if (accounts === undefined) return { kind: 'error', message: `invalid account limit: ${accountText}` };
  const accountWindowText = values['account-window'] ?? String(LIMIT_DEFAULTS.accountWindowSeconds);
  const accountWindow = parseSeconds(accountWindowText);
  if (accountWindow === undefined) return { kind: 'error', message: badSeconds('account window', accountWindowText) };
  const uploadText = values['max-upload-bytes'] ?? String(LIMIT_DEFAULTS.maxUploadBytes);
  const maxUploadBytes = parseBytes(uploadText, 0);
  if (maxUploadBytes === undefined) return { kind: 'error', message: `invalid max upload bytes: ${uploadText}` };
  let maxDataBytes: number | undefined;
  if (values['max-data-bytes'] !== undefined) {
    maxDataBytes = parseBytes(values['max-data-bytes'], 1);
    if (maxDataBytes === undefined) return { kind: 'error', message: `invalid max data bytes: ${values['max-data-bytes']}` };
  }
  const perUserDataText = values['max-data-bytes-per-user'];
  const maxDataBytesPerUser = perUserDataText === undefined ? undefined : parseBytes(perUserDataText, 1);
  if (perUserDataText !== undefined && maxDataBytesPerUser === undefined) return { kind: 'error', message: `invalid max data bytes per user: ${perUserDataText}` };
  if (values['max-thread-bytes'] !== undefined && databaseUrl !== undefined) return { kind: 'error', message: '--max-thread-bytes applies to the data directory, not to --store' };
  const threadBytesText = values['max-thread-bytes'] ?? String(LIMIT_DEFAULTS.maxThreadBytes);
  const maxThreadBytes = parseBytes(threadBytesText, 1);
  if (maxThreadBytes === undefined) return { kind: 'error', message: `invalid max thread bytes: ${threadBytesText}` };
  if (values['max-thread-bytes-per-user'] !== undefined && databaseUrl !== undefined) return { kind: 'error', message: '--max-thread-bytes-per-user applies to the data directory, not to --store' };
  const perUserBytesText = values['max-thread-bytes-per-user'];
  const maxThreadBytesPerUser = perUserBytesText === undefined ? undefined : parseBytes(perUserBytesText, 1);
  if (perUserBytesText !== undefined && maxThreadBytesPerUser === undefined) return { kind: 'error', message: `invalid max thread bytes per user: ${perUserBytesText}` };
  if (values['min-free-bytes'] !== undefined && databaseUrl !== undefined) return { kind: 'error', message: '--min-free-bytes applies to the data directory, not to --store' };
  const minFreeText = values['min-free-bytes'] ?? String(LIMIT_DEFAULTS.minFreeBytes);
  const minFreeBytes = parseBytes(minFreeText, 0);
  if (minFreeBytes === undefined) return { kind: 'error', message: `invalid min free bytes: ${minFreeText}` };
  if (values['disk-stall-ms'] !== undefined && databaseUrl !== undefined) return { kind: 'error', message: '--disk-stall-ms applies to the data directory, not to --store' };
  const stallText = values['disk-stall-ms'] ?? String(LIMIT_DEFAULTS.diskStallMs);
  const diskStallMs = parseCount(stallText, 1);
  if (diskStallMs === undefined) return { kind: 'error', message: `invalid disk stall ms: ${stallText}` };
  const budgetText = values['memory-budget-mib'] ?? String(LIMIT_DEFAULTS.memoryBudgetMib);
  const budgetMib = parseCount(budgetText, 0);
  if (budgetMib === undefined) return { kind: 'error', message: `invalid memory budget: ${budgetText}` };
  const perHostText = values['max-connections-per-host'] ?? String(LIMIT_DEFAULTS.connectionsPerHost);
  const maxConnectionsPerHost = parseCount(perHostText, 1);
  if (maxConnectionsPerHost === undefined) return { kind: 'error', message: `invalid max connections per host: ${perHostText}` };
  const beforeLoginText = values['max-connections-before-login'] ?? String(LIMIT_DEFAULTS.connectionsBeforeLogin);
  const maxConnectionsBeforeLogin = parseCount(beforeLoginText, 1);
  if (maxConnectionsBeforeLogin === undefined) return { kind: 'error', message: `invalid max connections before login: ${beforeLoginText}` };
  const handshakeText = values['handshake-rate'] ?? String(LIMIT_DEFAULTS.handshakeRate);
  const handshakeRate = parseCount(handshakeText, 0);
  if (handshakeRate === undefined) return { kind: 'error', message: `invalid handshake rate: ${handshakeText}` };
  const perUserText = values['max-threads-per-user'] ?? String(LIMIT_DEFAULTS.threadsPerUser);
  const maxThreadsPerUser = parseCount(perUserText, 1);
  if (maxThreadsPerUser === undefined) return { kind: 'error', message: `invalid max threads per user: ${perUserText}` };
  const originSharesText = values['origin-shares'] ?? String(LIMIT_DEFAULTS.originShares);
  const originShares = parseCount(originSharesText, 0);
  if (originShares === undefined) return { kind: 'error', message: `invalid origin shares: ${originSharesText}` };
  if (values['max-accounts'] !== undefined && databaseUrl !== undefined) return { kind: 'error', message: '--max-accounts applies to the data directory, not to --store' };
  const accountsText = values['max-accounts'] ?? String(LIMIT_DEFAULTS.maxAccounts);
  const maxAccounts = parseCount(accountsText, 0);
  if (maxAccounts === undefined) return { kind: 'error', message: `invalid max accounts: ${accountsText}` };
  const rateText = values['request-rate'] ?? String(LIMIT_DEFAULTS.requestRate);
  const requestRate = parseCount(rateText, 0);
  if (requestRate === undefined) return { kind: 'error', message: `invalid request rate: ${rateText}` };
  let maxReplyBytes: number | undefined;
  if (values['max-reply-bytes'] !== undefined) {
    maxReplyBytes = parseBytes(values['max-reply-bytes'], MIN_MAX_REPLY_BYTES);
    if (maxReplyBytes === undefined) return { kind: 'error', message: `invalid max reply bytes (at least ${MIN_MAX_REPLY_BYTES}): ${values['max-reply-bytes']}` };
  }
  const largeRateText = values['large-reply-rate'] ?? String(LIMIT_DEFAULTS.largeReplyRateMib);
  const largeReplyRateMib = parseCount(largeRateText, 0);
  if (largeReplyRateMib === undefined) return { kind: 'error', message: `invalid large reply rate: ${largeRateText}` };
  const chargeText = values['request-charge'] ?? String(LIMIT_DEFAULTS.requestChargeKib);
  const requestChargeKib = parseCount(chargeText, 0);
  if (requestChargeKib === undefined) return { kind: 'error', message: `invalid request charge: ${chargeText}` };
  const rateIdleText = values['rate-idle-below'] ?? String(LIMIT_DEFAULTS.rateIdleBelowPercent);
  const rateIdleBelowPercent = parseCount(rateIdleText, 0);
  if (rateIdleBelowPercent === undefined || rateIdleBelowPercent > 100) return { kind: 'error', message: `invalid rate idle share (0-100): ${rateIdleText}` };

  return {
    kind: 'run',
    args: {
      port,
      host,
      dataDir: values['data-dir'] ?? process.cwd(),
      identityFile: values['identity-file'],
      cidServerId,
      databaseUrl,
      idleTimeoutSeconds: idle,
      transferPort,
      advertisedTransferPort,
      transferHeaderTimeoutSeconds,
      hashPasswords: values['hash-passwords'] === true,
      loginLimit,
      accountLimit: accounts === 0 ? false : { maxPerHost: accounts, windowMs: durationMs(accountWindow) },
      maxUploadBytes,
      maxDataBytes,
      ...(maxDataBytesPerUser === undefined ? {} : { maxDataBytesPerUser }),
      minFreeBytes,
      diskStallMs,
      maxThreadBytes,
      ...(maxThreadBytesPerUser === undefined ? {} : { maxThreadBytesPerUser }),
      memoryBudgetBytes: budgetMib === 0 ? undefined : budgetMib * 1024 * 1024,
      maxConnectionsPerHost,
      maxConnectionsBeforeLogin,
      handshakeRate,
      maxThreadsPerUser,
      originShares,
      maxAccounts,
      requestRate,
      maxReplyBytes,
      largeReplyRateMib,
      requestChargeKib,
      rateIdleBelowPercent,
    },
  };
};
