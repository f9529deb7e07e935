import { parseArgs } from 'node:util';

/** The client's command line, once parsed. */
export interface ClientArgs {
  readonly port: number;
  readonly host: string;
  /** The known-hosts file; `undefined`: the default under the home directory. */
  readonly knownHosts: string | undefined;
}

/** What the command line asks for: run, print help, or fail with a message. */
export type ClientCommand =
  | { readonly kind: 'run'; readonly args: ClientArgs }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

/** The one-line usage message. */
export const USAGE = 'Usage: forum-client <port> [--host HOST] [--known-hosts FILE]';

/** The `--help` text. */
export const HELP = `${USAGE}

Connects to the forum server at HOST:<port> (rudp over UDP) and runs an
interactive session. Reads commands from a terminal or, one per line, from a
pipe; exits at end of input (logging out).

  --host HOST         the server's host (default 127.0.0.1)
  --known-hosts FILE  where the identity keys of servers already met are
                      kept (default ~/.forum-client/known_hosts). A new server's
                      key is recorded on first contact; a server whose key
                      changed is refused
  --help              show this text`;

/** Parses `argv` (without `node` and the script). Never throws. */
export const parseClientArgs = (argv: readonly string[]): ClientCommand => {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: { host: { type: 'string' }, 'known-hosts': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    return { kind: 'error', message: e instanceof Error ? e.message : 'bad arguments' };
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: 'help' };
  if (positionals.length !== 1) return { kind: 'error', message: 'expected exactly one <port>' };
  const text = positionals[0] ?? '';
  const port = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) return { kind: 'error', message: `invalid port: ${text}` };
  const host = values.host ?? '127.0.0.1';
  if (host === '') return { kind: 'error', message: 'empty host' };
  const knownHosts = values['known-hosts'];
  if (knownHosts === '') return { kind: 'error', message: 'empty known-hosts path' };
  return { kind: 'run', args: { port, host, knownHosts } };
};
