import { parseArgs } from 'node:util';

/** Login throttling as the command line sets it; `false` when turned off (`--login-attempts 0`). */
export type LoginLimitArgs =
  | {
      /** Wrong passwords per account within the window before it is throttled. */
      readonly maxFailuresPerAccount: number;
      /** Wrong passwords per client host (any port) within the window before it is throttled. */
      readonly maxFailuresPerAddress: number;
      /** The sliding window, ms. */
      readonly windowMs: number;
    }
  | false;

/** The server's command line, once parsed. */
export interface ServerArgs {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** PostgreSQL URL (`--store` or `FORUM_DATABASE_URL`): the shared store of several servers; `undefined`: the data directory. */
  readonly databaseUrl: string | undefined;
  readonly idleTimeoutSeconds: number;
  /** TCP port for file transfers; `undefined` means the UDP port's number. */
  readonly transferPort: number | undefined;
  /** The TCP port clients are told to use for transfers (a load balancer's); `undefined`: the one the server listens on. */
  readonly advertisedTransferPort: number | undefined;
  /** Store new (and, on login, existing plain) passwords as scrypt hashes. */
  readonly hashPasswords: boolean;
  readonly loginLimit: LoginLimitArgs;
}

/** What the command line asks for: run, print help, or fail with a message. */
export type ServerCommand =
  | { readonly kind: 'run'; readonly args: ServerArgs }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

/** Defaults of the login throttle (the same figures as forum-protocol's `DEFAULT_LOGIN_RATE_LIMIT`). */
export const LOGIN_DEFAULTS = { attempts: 5, hostAttempts: 20, windowSeconds: 60 } as const;

/** The one-line usage message. */
export const USAGE =
  'Usage: forum-server <port> [--data-dir DIR | --store postgres://…] [--idle-timeout SECONDS] [--host HOST] [--transfer-port PORT] [--advertised-transfer-port PORT]' +
  ' [--hash-passwords] [--login-attempts N] [--login-host-attempts N] [--login-window SECONDS]';

/** The `--help` text. */
export const HELP = `${USAGE}

Runs the forum server: rudp on UDP <port>, file transfers on TCP (same port
number unless --transfer-port is given; port 0 picks free ports for both).

  --data-dir DIR            where credentials.txt, threads and uploads live (default: .)
  --store postgres://…      keep accounts, threads, uploads, sessions and transfer
                            tokens in PostgreSQL instead, shared by every server
                            given the same URL (default: $FORUM_DATABASE_URL if
                            set and --data-dir is not given)
  --idle-timeout SECONDS    log out a client idle this long (default 600)
  --host HOST               address to bind (default 127.0.0.1)
  --transfer-port PORT      TCP port for UPD/DWN (default: the UDP port)
  --advertised-transfer-port PORT
                            the TCP port clients are told to use for UPD/DWN, when
                            they reach the servers through a load balancer (default:
                            the port the server listens on)
  --hash-passwords          store passwords in credentials.txt as scrypt hashes
                            (username scrypt$<salt>$<hash>); plain entries are
                            rewritten hashed on their next login. Default: the
                            spec's plain "username password" lines
  --login-attempts N        wrong passwords per account within the window before
                            further logins of it are refused for a while
                            (default ${LOGIN_DEFAULTS.attempts}; 0 turns login throttling off)
  --login-host-attempts N   the same per client host, any account (default ${LOGIN_DEFAULTS.hostAttempts})
  --login-window SECONDS    the sliding window of those counts (default ${LOGIN_DEFAULTS.windowSeconds})
  --help                    show this text`;

const parsePort = (s: string, allowZero: boolean): number | undefined => {
  if (!/^[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 && (allowZero || n >= 1) ? n : undefined;
};

/** A decimal number of seconds above 0 (fractions allowed, for tests); `undefined` otherwise. */
const parseSeconds = (s: string): number | undefined => {
  const n = Number(s);
  return /^[0-9]+(\.[0-9]+)?$/.test(s) && n > 0 && Number.isFinite(n) ? n : undefined;
};

/** A whole count from `min` to 1,000,000; `undefined` otherwise. */
const parseCount = (s: string, min: number): number | undefined => {
  if (!/^[0-9]{1,7}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= min && n <= 1_000_000 ? n : undefined;
};

const DATABASE_URL = /^postgres(ql)?:\/\/\S+$/;

/** Parses `argv` (without `node` and the script) and `env` (`FORUM_DATABASE_URL`). Never throws. */
export const parseServerArgs = (argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ServerCommand => {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        'data-dir': { type: 'string' },
        store: { type: 'string' },
        'idle-timeout': { type: 'string' },
        host: { type: 'string' },
        'transfer-port': { type: 'string' },
        'advertised-transfer-port': { type: 'string' },
        'hash-passwords': { type: 'boolean' },
        'login-attempts': { type: 'string' },
        'login-host-attempts': { type: 'string' },
        'login-window': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return { kind: 'error', message: e instanceof Error ? e.message : 'bad arguments' };
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: 'help' };
  if (positionals.length !== 1) return { kind: 'error', message: 'expected exactly one <port>' };
  const port = parsePort(positionals[0] ?? '', true);
  if (port === undefined) return { kind: 'error', message: `invalid port: ${positionals[0] ?? ''}` };
  const idleText = values['idle-timeout'] ?? '600';
  const idle = parseSeconds(idleText);
  if (idle === undefined) return { kind: 'error', message: `invalid idle timeout: ${idleText}` };
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
  const host = values.host ?? '127.0.0.1';
  if (host === '') return { kind: 'error', message: 'empty host' };

  const attemptsText = values['login-attempts'] ?? String(LOGIN_DEFAULTS.attempts);
  const attempts = parseCount(attemptsText, 0);
  if (attempts === undefined) return { kind: 'error', message: `invalid login attempts: ${attemptsText}` };
  const hostText = values['login-host-attempts'] ?? String(LOGIN_DEFAULTS.hostAttempts);
  const hostAttempts = parseCount(hostText, 1);
  if (hostAttempts === undefined) return { kind: 'error', message: `invalid login host attempts: ${hostText}` };
  const windowText = values['login-window'] ?? String(LOGIN_DEFAULTS.windowSeconds);
  const windowSeconds = parseSeconds(windowText);
  if (windowSeconds === undefined) return { kind: 'error', message: `invalid login window: ${windowText}` };
  const loginLimit: LoginLimitArgs =
    attempts === 0 ? false : { maxFailuresPerAccount: attempts, maxFailuresPerAddress: hostAttempts, windowMs: Math.max(1, Math.round(windowSeconds * 1000)) };

  return {
    kind: 'run',
    args: {
      port,
      host,
      dataDir: values['data-dir'] ?? process.cwd(),
      databaseUrl,
      idleTimeoutSeconds: idle,
      transferPort,
      advertisedTransferPort,
      hashPasswords: values['hash-passwords'] === true,
      loginLimit,
    },
  };
};
