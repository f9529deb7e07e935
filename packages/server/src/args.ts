import { parseArgs } from 'node:util';

/** The server's command line, once parsed. */
export interface ServerArgs {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly idleTimeoutSeconds: number;
  /** TCP port for file transfers; `undefined` means the UDP port's number. */
  readonly transferPort: number | undefined;
}

/** What the command line asks for: run, print help, or fail with a message. */
export type ServerCommand =
  | { readonly kind: 'run'; readonly args: ServerArgs }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

/** The one-line usage message. */
export const USAGE =
  'Usage: forum-server <port> [--data-dir DIR] [--idle-timeout SECONDS] [--host HOST] [--transfer-port PORT]';

/** The `--help` text. */
export const HELP = `${USAGE}

Runs the forum server: rudp on UDP <port>, file transfers on TCP (same port
number unless --transfer-port is given; 0 picks a free one).

  --data-dir DIR            where credentials.txt, threads and uploads live (default: .)
  --idle-timeout SECONDS    log out a client idle this long (default 600)
  --host HOST               address to bind (default 127.0.0.1)
  --transfer-port PORT      TCP port for UPD/DWN (default: the UDP port)
  --help                    show this text`;

const parsePort = (s: string, allowZero: boolean): number | undefined => {
  if (!/^[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 && (allowZero || n >= 1) ? n : undefined;
};

/** Parses `argv` (without `node` and the script). Never throws. */
export const parseServerArgs = (argv: readonly string[]): ServerCommand => {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        'data-dir': { type: 'string' },
        'idle-timeout': { type: 'string' },
        host: { type: 'string' },
        'transfer-port': { type: 'string' },
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
  const idle = Number(idleText);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(idleText) || !(idle > 0)) return { kind: 'error', message: `invalid idle timeout: ${idleText}` };
  let transferPort: number | undefined;
  if (values['transfer-port'] !== undefined) {
    transferPort = parsePort(values['transfer-port'], true);
    if (transferPort === undefined) return { kind: 'error', message: `invalid transfer port: ${values['transfer-port']}` };
  }
  const host = values.host ?? '127.0.0.1';
  if (host === '') return { kind: 'error', message: 'empty host' };
  return {
    kind: 'run',
    args: { port, host, dataDir: values['data-dir'] ?? process.cwd(), idleTimeoutSeconds: idle, transferPort },
  };
};
