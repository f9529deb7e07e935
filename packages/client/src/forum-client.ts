import { changedKeyMessage, deriveTransferKeys, hostId, parseCommandLine, PROMPTS, sessionExporter, type NextStep, type Reply, type RequestCommand } from 'forum-protocol';
import { stat } from 'node:fs/promises';
import { connect, fingerprint, nodeCryptoProvider, ServerKeyMismatchError, type RudpConnection } from 'rudp';
import type { ClientArgs } from './args.js';
import { LineInput } from './line-input.js';
import { defaultKnownHostsPath, loadKnownHosts, trustServerKey } from './known-hosts-file.js';
import { createProgress } from './progress.js';
import { LinkError, ServerLink } from './server-link.js';
import { downloadFile, sweepStaleDownloads, uploadFile, type TransferResult } from './transfer.js';
import { checkTransferReply, type TransferData } from './transfer-direction.js';

/** rudp settings: a dead server is noticed within 10 s even when the client sends nothing. */
export const TRANSPORT = { idleTimeoutMs: 10_000, keepAliveMs: 2_000 } as const;
/** A request with no reply by then means the server is unreachable. */
export const REQUEST_TIMEOUT_MS = 8_000;

/** Exit codes. */
export const EXIT = { ok: 0, unreachable: 1, usage: 2, idleTimeout: 3, hostKey: 4, interrupted: 130 } as const;

/**
 * The identity key the server proved in the handshake.
 * HOOK for the lead: `RudpConnection.serverKey` does not exist until the core runs the
 * secure handshake; until then this is `undefined` and the known-hosts check is skipped.
 */
const serverKeyOf = (conn: RudpConnection): Uint8Array | undefined => conn.serverKey;

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/**
 * Runs one interactive session against the server at `args.host:args.port`
 * and resolves with the process exit code.
 */
export const runClient = async (args: ClientArgs): Promise<number> => {
  const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  let interrupts = 0;
  let transferring = false;
  let deferredExit: (() => void) | undefined;
  let exiting = false;
  let link: ServerLink | undefined;

  const exit = (code: number): void => {
    if (exiting) return;
    exiting = true;
    input.close();
    const done = (): never => process.exit(code);
    if (link === undefined) done();
    else void link.close().finally(done);
  };
  // A fatal event during a download waits for the transfer to clean up its temporary file.
  const fatal = (code: number, report: () => void): void => {
    const go = (): void => {
      if (input.promptPending) process.stdout.write('\n');
      report();
      exit(code);
    };
    if (transferring) deferredExit = go;
    else go();
  };

  const interrupt = (): void => {
    interrupts++;
    if (interrupts > 1) exit(EXIT.interrupted);
    else input.end();
  };
  const input = new LineInput(terminal, interrupt);
  if (!terminal) process.on('SIGINT', interrupt);

  // Downloads of an earlier client here that was killed mid-transfer.
  await sweepStaleDownloads(process.cwd());

  const knownHostsPath = args.knownHosts ?? defaultKnownHostsPath();
  const serverId = hostId(args.host, args.port);
  let pinned: Uint8Array | undefined;
  try {
    pinned = (await loadKnownHosts(knownHostsPath)).hosts.keys.get(serverId);
  } catch (e) {
    console.error(`Cannot read ${knownHostsPath}: ${e instanceof Error ? e.message : String(e)}`);
    input.close();
    return EXIT.hostKey;
  }
  let conn;
  try {
    conn = await connect({ port: args.port, host: args.host, ...TRANSPORT, ...(pinned !== undefined ? { serverKey: pinned } : {}) });
  } catch (e) {
    if (e instanceof ServerKeyMismatchError) {
      const fp = (k: Uint8Array): string => fingerprint(nodeCryptoProvider, k);
      changedKeyMessage(serverId, fp(e.expected), fp(e.offered), knownHostsPath).forEach((l) => console.error(l));
      input.close();
      return EXIT.hostKey;
    }
    console.error(`Unable to reach the server at ${args.host}:${args.port}`);
    input.close();
    return EXIT.unreachable;
  }
  // The pin is checked here too, before any request: the transport's own check is the first line, this the second.
  const offered = serverKeyOf(conn);
  if (offered !== undefined) {
    const trust = await trustServerKey(knownHostsPath, serverId, offered);
    trust.lines.forEach((l) => console.error(l));
    if (!trust.ok) {
      input.close();
      conn.destroy();
      return EXIT.hostKey;
    }
  }
  const serverLink = new ServerLink(conn, REQUEST_TIMEOUT_MS, {
    notice: (n) => fatal(EXIT.idleTimeout, () => out(n.text)),
    lost: (reason) => fatal(EXIT.unreachable, () => console.error(`Server unreachable: ${reason}`)),
  });
  link = serverLink;

  let username = '';
  const request = async (cmd: Parameters<ServerLink['request']>[0], cmdArgs: readonly string[]): Promise<Reply | undefined> => {
    try {
      return await serverLink.request(cmd, cmdArgs, username);
    } catch (e) {
      fatal(EXIT.unreachable, () => console.error(`Server unreachable: ${e instanceof LinkError ? e.message : String(e)}`));
      return undefined;
    }
  };

  const transfer = async (cmd: RequestCommand, data: TransferData, localName: string): Promise<void> => {
    // The direction is the typed command's; a reply that says otherwise is refused before any TCP.
    const check = checkTransferReply(cmd, data);
    if (!check.ok) {
      out(check.message);
      return;
    }
    transferring = true;
    let result: TransferResult;
    try {
      const keys = deriveTransferKeys(sessionExporter(conn), data.token);
      if (check.direction === 'upload') {
        const size = (await stat(localName)).size;
        const progress = createProgress(`Uploading ${localName}`, size);
        result = await uploadFile(args.host, data.port, data.token, keys, localName, size, progress);
        progress.stop();
      } else {
        result = await downloadFile(args.host, data.port, data.token, keys, process.cwd(), localName, (size) => createProgress(`Downloading ${localName}`, size));
      }
    } catch (e) {
      result = { ok: false, reason: e instanceof Error ? e.message : String(e) };
    }
    transferring = false;
    if (result.ok) out(data.completionLine);
    else out(`${check.direction === 'upload' ? 'Upload' : 'Download'} of ${localName} failed: ${result.reason}`);
    deferredExit?.();
  };

  // Fatal events exit from their callbacks; the loop below then just stops.
  const never = (): Promise<number> => new Promise<number>(() => undefined);
  const quit = async (code: number): Promise<number> => {
    exiting = true;
    input.close();
    await serverLink.close();
    return code;
  };

  let next: NextStep = 'username';
  for (;;) {
    const line = await input.ask(PROMPTS[next]);
    if (exiting) return never();
    if (line === undefined) {
      if (next !== 'command') return quit(EXIT.ok);
      if (input.promptPending) process.stdout.write('\n');
      const reply = await request('XIT', []);
      if (reply === undefined) return never();
      reply.lines.forEach(out);
      return quit(EXIT.ok);
    }
    if (next !== 'command') {
      if (next === 'username') username = line;
      const reply = await request(next, [line]);
      if (reply === undefined) return never();
      reply.lines.forEach(out);
      if (reply.data.kind === 'auth') next = reply.data.next;
      continue;
    }
    const parsed = parseCommandLine(line);
    if (parsed._tag === 'Left') {
      out(parsed.left.text);
      continue;
    }
    const { cmd, args: cmdArgs } = parsed.right;
    const localName = cmdArgs[1] ?? '';
    if (cmd === 'UPD') {
      const found = await stat(localName).then((s) => s.isFile(), () => false);
      if (!found) {
        out(`File ${localName} does not exist`);
        continue;
      }
    }
    const reply = await request(cmd, cmdArgs);
    if (reply === undefined) return never();
    reply.lines.forEach(out);
    if (reply.data.kind === 'transfer') await transfer(cmd, reply.data, localName);
    if (reply.data.kind === 'goodbye') return quit(EXIT.ok);
    if (reply.data.kind === 'auth') next = reply.data.next;
  }
};
