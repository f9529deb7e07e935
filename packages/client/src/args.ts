import { parseProgramArguments } from 'forum-protocol';
import { isIPv6 } from 'node:net';
import { EXIT } from './exit-status.js';
import { DEFAULT_TRANSFER_PACE, type TransferPace } from './transfer-pace.js';

/** The client's command line, once parsed. */
export interface ClientArgs {
  readonly port: number;
  readonly host: string;
  /** The known-hosts file; `undefined`: the default under the home directory. */
  readonly knownHosts: string | undefined;
  /** `--timeout`: seconds to wait for the server to answer the connection (replies and silence scale with it). */
  readonly timeoutSeconds: number;
  /** `--stall-bytes` in `--stall-seconds`: the least a transfer's body must move. */
  readonly pace: TransferPace;
}

/** The default `--timeout`, seconds. */
export const DEFAULT_TIMEOUT_SECONDS = 5;

/** What the command line asks for: run, print help, or fail with a message. */
export type ClientCommand =
  | { readonly kind: 'run'; readonly args: ClientArgs }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

/** The one-line usage message. */
export const USAGE = 'Usage: forum-client <port> [--host HOST] [--known-hosts FILE] [--timeout SECONDS] [--stall-bytes BYTES] [--stall-seconds SECONDS]';

/** The `--help` text. */
export const HELP = `${USAGE}

Connects to the forum server at HOST:<port> (rudp over UDP) and runs an
interactive session. Reads commands from a terminal or, one per line, from a
pipe; exits at end of input (logging out).

  --host HOST         the server's host (default 127.0.0.1); an IPv6 address
                      bare or in brackets, as URLs write it (::1 or [::1])
  --known-hosts FILE  where the identity keys of servers already met are
                      kept (default ~/.forum-client/known_hosts). A new server's
                      key is recorded on first contact; a server whose key
                      changed is refused
  --timeout SECONDS   how long to wait for the server before saying it is
                      unreachable (default ${DEFAULT_TIMEOUT_SECONDS}): connecting waits SECONDS; once
                      connected, a request gets 1.6 × SECONDS for its reply
                      (again while 4 KiB or more of it arrived meanwhile, up
                      to 16 × that) and
                      the connection 2 × SECONDS of silence (8 s and 10 s by
                      default)
  --stall-bytes BYTES, --stall-seconds SECONDS
                      a transfer (UPD, DWN) that moves fewer than BYTES in
                      the last SECONDS fails, nothing kept on either side
                      (default ${DEFAULT_TRANSFER_PACE.minBytes} in ${DEFAULT_TRANSFER_PACE.windowMs / 1000}; --stall-bytes 0: no such limit)
  --help              show this text

At the prompt, \`help\` lists the commands and \`help CMD\` explains one.
DWN keeps a local file of the same name; \`DWN title file --overwrite\`
replaces it. Ctrl-C cancels a running transfer (nothing is kept on either
side); at a prompt it logs out. With the commands read from a file or pipe,
Ctrl-C ends them: a running transfer is cancelled, the session logged out,
the rest not run (status ${EXIT.interrupted}).

Exit status: ${EXIT.ok} after XIT or end of input (also one that ends before its first
line: empty, closed, /dev/null; said, nothing is sent), ${EXIT.unreachable} when the server is unreachable
or the connection was lost (a server restarted under the session: said at once),
${EXIT.usage} on bad arguments or when, read from a file or pipe, standard input holds a line
over 1 MiB (/dev/zero; the rest is not read), ${EXIT.idleTimeout} when the server logged the session out for
inactivity, ${EXIT.serverShutdown} when the server shut down, ${EXIT.hostKey} when its identity key
changed or the known-hosts file cannot be read, ${EXIT.loginFault} when, with the answers read
from a file or pipe, the server could not complete the login three times in a
row (a fault of its own; no command run), ${EXIT.loginRefused} when, with the answers
read from a file or pipe, the login was refused where the next line cannot answer (a
username refused: the next line is its password, not read as a username; a command
after a refused password or an account logged in elsewhere) or the server stayed
busy through 15 s of retries, or the server refused it and closed the connection
(no command run), ${EXIT.internal} on an internal error of the
client, ${EXIT.hangUp} on SIGHUP with commands read from a file or pipe (the rest are
not run; while connecting, the handshake is given up; at a terminal SIGHUP ends
the input: ${EXIT.ok}) or while a reader of the output
that does not read holds the client, ${EXIT.interrupted} on Ctrl-C with commands read
from a file or pipe (at a terminal Ctrl-C at a prompt logs out: ${EXIT.ok}), on Ctrl-C
while connecting, on a second Ctrl-C while logging out, or on Ctrl-C while the
exit waits for a reader of the output that does not read; ${EXIT.terminated} on SIGTERM (a
transfer under way is cancelled, the session logged out, the rest not run).`;

/** `text` as seconds from 0.1 to 3600 (at most three decimals), or `undefined`. */
const seconds = (text: string): number | undefined => {
  const n = /^[0-9]{1,4}(\.[0-9]{1,3})?$/.test(text) ? Number(text) : NaN;
  return n >= 0.1 && n <= 3600 ? n : undefined;
};

/**
 * `--host` as it is connected to: an IPv6 address in brackets, as URLs and `[addr]:port` write it and people
 * copy it (`[::1]`), unbracketed. Before, the brackets went to the resolver: `the host name [::1] does not
 * resolve (getaddrinfo ENOTFOUND)`. Brackets around anything else, or not matched, are refused saying so.
 */
const hostOf = (text: string): { readonly host: string } | { readonly error: string } => {
  if (text === '') return { error: 'empty host' };
  // One colon is never an IPv6 address (it has two at least): a name or IPv4 address with a port, as people
  // copy `host:port`. Before, it went to the resolver: `the host name 127.0.0.1:4000 does not resolve`.
  const hostPort = /^([^:[\]]+):([0-9]*)$/.exec(text);
  if (hostPort?.[1] !== undefined && hostPort[2] !== undefined) {
    return { error: `invalid host: ${text} (the port is the <port> argument, not part of --host: forum-client ${hostPort[2] === '' ? '<port>' : hostPort[2]} --host ${hostPort[1]})` };
  }
  if (!text.includes('[') && !text.includes(']')) return { host: text };
  const inner = /^\[([^[\]]*)\]$/.exec(text)?.[1];
  if (inner !== undefined && isIPv6(inner)) return { host: inner };
  const port = /^\[([^[\]]*)\]:([0-9]+)$/.exec(text);
  if (port?.[1] !== undefined && port[2] !== undefined && isIPv6(port[1])) {
    return { error: `invalid host: ${text} (the port is the <port> argument, not part of --host: forum-client ${port[2]} --host ${port[1]})` };
  }
  return { error: `invalid host: ${text} (brackets are for an IPv6 address only, one pair around all of it: [::1])` };
};

/** Parses `argv` (without `node` and the script). Never throws. */
export const parseClientArgs = (argv: readonly string[]): ClientCommand => {
  const parsed = parseProgramArguments(argv, {
    host: { type: 'string' },
    'known-hosts': { type: 'string' },
    timeout: { type: 'string' },
    'stall-bytes': { type: 'string' },
    'stall-seconds': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (parsed._tag === 'Left') return { kind: 'error', message: parsed.left };
  const { values, positionals } = parsed.right;
  if (values.help === true) return { kind: 'help' };
  if (positionals.length !== 1) return { kind: 'error', message: 'expected exactly one <port>' };
  const text = positionals[0] ?? '';
  const port = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) return { kind: 'error', message: `invalid port: ${text}` };
  const hostArg = hostOf(values.host ?? '127.0.0.1');
  if ('error' in hostArg) return { kind: 'error', message: hostArg.error };
  const { host } = hostArg;
  const knownHosts = values['known-hosts'];
  if (knownHosts === '') return { kind: 'error', message: 'empty known-hosts path' };
  const timeoutText = values.timeout ?? String(DEFAULT_TIMEOUT_SECONDS);
  const timeoutSeconds = seconds(timeoutText);
  if (timeoutSeconds === undefined) return { kind: 'error', message: `invalid timeout (0.1 to 3600 seconds): ${timeoutText}` };
  const stallBytesText = values['stall-bytes'] ?? String(DEFAULT_TRANSFER_PACE.minBytes);
  // Up to 1 TiB: any count a window could need, and exact as a number.
  const minBytes = /^[0-9]{1,13}$/.test(stallBytesText) ? Number(stallBytesText) : NaN;
  if (!(minBytes <= 2 ** 40)) return { kind: 'error', message: `invalid stall-bytes (0 to ${2 ** 40} bytes; 0: no limit): ${stallBytesText}` };
  const stallSecondsText = values['stall-seconds'] ?? String(DEFAULT_TRANSFER_PACE.windowMs / 1000);
  const stallSeconds = seconds(stallSecondsText);
  if (stallSeconds === undefined) return { kind: 'error', message: `invalid stall-seconds (0.1 to 3600 seconds): ${stallSecondsText}` };
  return { kind: 'run', args: { port, host, knownHosts, timeoutSeconds, pace: { minBytes, windowMs: Math.round(stallSeconds * 1000) } } };
};
