import { changedKeyMessage, hostId } from 'forum-protocol';
import { isIPv6 } from 'node:net';
import { connect, fingerprint, nodeCryptoProvider, ServerKeyMismatchError, type RudpConnection } from 'rudpx';
import type { ClientArgs } from './args.js';
import type { ClientState } from './client-state.js';
import { err } from './client-output.js';
import { EXIT } from './exit-status.js';
import { inputEndedBySignal, NO_INPUT_TEXT } from './no-input.js';
import { defaultKnownHostsPath, loadKnownHosts, trustServerKey } from './known-hosts-file.js';
import type { Timings } from './timings.js';
import { unreachableReason } from './unreachable-reason.js';

const hostPort = (host: string, port: number): string => (isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`);

const readFailure = (path: string, e: unknown): string => `Cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`;

/**
 * Connects to the server the arguments name and checks its identity key against the known-hosts file
 * (recording it on first contact). Resolves with the connection, or with the exit status after saying
 * why there is none (the input then closed): the file unreadable or the key changed (5), the server
 * unreachable (1), or the handshake given up by SIGHUP (129 for a script, 0 at a terminal).
 */
export const openServerConnection = async (args: ClientArgs, timings: Timings, state: ClientState): Promise<RudpConnection | number> => {
  const { input } = state;
  const knownHostsPath = args.knownHosts ?? defaultKnownHostsPath();
  const serverId = hostId(args.host, args.port);
  let pinned: Uint8Array | undefined;
  try {
    pinned = (await loadKnownHosts(knownHostsPath)).hosts.keys.get(serverId);
  } catch (e) {
    err(readFailure(knownHostsPath, e));
    input.close();
    return EXIT.hostKey;
  }
  // A person at a terminal sees that something is happening (and what); scripts' output stays as the spec has it.
  const status = process.stderr.isTTY === true;
  if (status) process.stderr.write(`Connecting to ${hostPort(args.host, args.port)}…`);
  let conn: RudpConnection;
  try {
    conn = await connect({ port: args.port, host: args.host, ...timings.transport, signal: state.connecting.signal, ...(pinned !== undefined ? { serverKey: pinned } : {}) });
  } catch (e) {
    if (status) process.stderr.write('\n');
    if (state.connecting.signal.aborted && state.noInput && !inputEndedBySignal(state)) {
      err(NO_INPUT_TEXT);
      input.close();
      // An end of input, which the spec has end cleanly.
      return EXIT.ok;
    }
    if (state.connecting.signal.aborted) {
      // The statuses of a hangup at the username prompt: 129 for a script, whose commands were not run; 0 at a terminal.
      err(`${state.terminated ? 'Terminated (SIGTERM)' : state.hungUp ? 'Hung up (SIGHUP)' : 'End of input'} while connecting: not logged in`);
      input.close();
      return state.terminated ? EXIT.terminated : state.hungUp ? EXIT.hangUp : EXIT.ok;
    }
    if (e instanceof ServerKeyMismatchError) {
      const fp = (k: Uint8Array): string => fingerprint(nodeCryptoProvider, k);
      changedKeyMessage(serverId, fp(e.expected), fp(e.offered), knownHostsPath).forEach(err);
      input.close();
      return EXIT.hostKey;
    }
    // A server at a connection limit says so in the handshake: its reason passed on, as retrying at once would not help.
    err(`Unable to reach the server at ${hostPort(args.host, args.port)}${unreachableReason(e, args.host, args.port)}`);
    input.close();
    return EXIT.unreachable;
  }
  if (status) process.stderr.write('\r\x1b[2K');
  // The pin is checked here too, before any request: the transport's own check is the first line, this the second.
  const offered = conn.serverKey;
  if (offered !== undefined) {
    let trust;
    try {
      trust = await trustServerKey(knownHostsPath, serverId, offered);
    } catch (e) {
      // The file changed since it was read at the start (grown past its limit, made unreadable).
      err(readFailure(knownHostsPath, e));
      trust = { ok: false, lines: [] };
    }
    trust.lines.forEach(err);
    if (!trust.ok) {
      input.close();
      conn.destroy();
      return EXIT.hostKey;
    }
  }
  return conn;
};
