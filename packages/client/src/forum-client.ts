import { changedKeyMessage, deriveTransferKeys, hostId, PROMPTS, sessionExporter, terminalText, type NextStep, type Notice, type Reply, type RequestCommand } from 'forum-protocol';
import { lstat, stat } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import { connect, fingerprint, nodeCryptoProvider, RudpError, ServerKeyMismatchError } from 'rudpx';
import type { ClientArgs } from './args.js';
import { EXIT } from './exit-status.js';
import { exitAfterOutput } from './exit-after-output.js';
import { helpLines, OVERWRITE_FLAG } from './command-help.js';
import { interpretLine } from './command-line.js';
import { defaultKnownHostsPath, loadKnownHosts, trustServerKey } from './known-hosts-file.js';
import { LineInput } from './line-input.js';
import { createProgress } from './progress.js';
import { LinkError, ServerLink } from './server-link.js';
import { downloadFile, sweepStaleDownloads, uploadFile, type TransferResult } from './transfer.js';
import { checkTransferReply, type TransferData } from './transfer-direction.js';
import { transferFailureLine } from './transfer-refusal.js';
import { uploadSourceProblem } from './upload-source.js';

/** How long the client waits on the server, all from `--timeout`. */
export interface Timings {
  /** rudp settings: the handshake limit, and the silence after which the connection is dead (noticed even when the client sends nothing). */
  readonly transport: { readonly handshakeTimeoutMs: number; readonly idleTimeoutMs: number; readonly keepAliveMs: number };
  /** A request with no reply by then means the server is unreachable. */
  readonly requestTimeoutMs: number;
}

/** The timings for `--timeout SECONDS`: connecting waits SECONDS, a reply 1.6 × and silence 2 × (5, 8 and 10 s by default). */
export const timingsFor = (timeoutSeconds: number): Timings => {
  const ms = Math.round(timeoutSeconds * 1000);
  return {
    transport: { handshakeTimeoutMs: ms, idleTimeoutMs: 2 * ms, keepAliveMs: Math.min(2_000, Math.max(50, Math.round(ms / 2))) },
    requestTimeoutMs: Math.round(1.6 * ms),
  };
};

const exitFor = (notice: Notice): number => (notice.kind === 'shutdown' ? EXIT.serverShutdown : EXIT.idleTimeout);

// lstat: a symbolic link of that name is a local file too, even when it leads nowhere.
const localFileExists = (name: string): Promise<boolean> => lstat(name).then(() => true, () => false);

const hostPort = (host: string, port: number): string => (isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`);

// Every line printed goes through terminalText: most carry the server's words, or other users'.
const out = (line: string): void => {
  process.stdout.write(`${terminalText(line)}\n`);
};
const err = (line: string): void => {
  process.stderr.write(`${terminalText(line)}\n`);
};
/** A reply's lines in one write (a write each cost some 200 bytes of queue apiece while the reader was behind). */
const outLines = (lines: readonly string[]): void => {
  if (lines.length > 0) process.stdout.write(`${lines.map(terminalText).join('\n')}\n`);
};

/**
 * Resolves once standard output has taken what was written (at once unless it is behind), so the next
 * command waits for a reader that is slow or stopped, as a program writing to a pipe does. Writes to a
 * pipe do not block in Node: a client whose output was not read sent command after command and queued
 * every answer, 1,418 MiB resident after 20 answers of 650,000 lines in 20 s (attack round 11,
 * attack/slow-reader.ts), without end.
 */
const outputTaken = (): Promise<void> =>
  !process.stdout.writableNeedDrain || process.stdout.destroyed
    ? Promise.resolve()
    : new Promise((resolve) => {
        const done = (): void => {
          process.stdout.off('drain', done).off('close', done).off('error', done);
          resolve();
        };
        process.stdout.on('drain', done).on('close', done).on('error', done);
      });

/**
 * Runs one interactive session against the server at `args.host:args.port`
 * and resolves with the process exit code.
 */
export const runClient = async (args: ClientArgs): Promise<number> => {
  const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  // Commands read from a file or pipe, not typed: standard input alone decides (typed with the output piped,
  // `| tee log`, none is cut short), for Ctrl-C as for SIGHUP.
  const scripted = process.stdin.isTTY !== true;
  const timings = timingsFor(args.timeoutSeconds);
  let interrupts = 0;
  let transferring = false;
  /** Aborts the running UPD/DWN transfer (Ctrl-C). */
  let cancelTransfer: AbortController | undefined;
  let deferredExit: (() => void) | undefined;
  let exiting = false;
  let link: ServerLink | undefined;
  /** Aborted by SIGHUP before there is a session: the handshake is given up rather than waited for. */
  const connecting = new AbortController();
  /**
   * Aborted by a signal while the connection closes (at most 1 s, waiting for the server to acknowledge):
   * the connection is dropped at once. Such a SIGHUP or Ctrl-C was lost: the client waited out the close
   * and exited 0. `closeCutStatus` is what it makes of an exit that would have been 0.
   */
  const closeCut = new AbortController();
  let closingLink = false;
  let closeCutStatus: number | undefined;
  const closeLink = async (l: ServerLink): Promise<void> => {
    closingLink = true;
    await l.close(undefined, closeCut.signal);
    // Then the exit waits for standard output, and exitAfterOutput's own handlers take the signals.
    closingLink = false;
  };
  const cutClose = (status: number): void => {
    closeCutStatus ??= status;
    closeCut.abort();
  };
  // A fatal event's status stands: it ended the session before the signal came.
  const statusAfterClose = (code: number): number => (code === EXIT.ok ? (closeCutStatus ?? code) : code);

  const exit = (code: number): void => {
    if (exiting) return;
    exiting = true;
    input.close();
    // What was printed reaches a pipe whole before the process ends (process.exit drops queued writes),
    // except on a second Ctrl-C, which is to end the client at once, even with a reader that reads nothing.
    // So does a hangup while a reader that takes nothing holds the next command back: no one will read it now.
    const done = (final: number): void => (final === EXIT.interrupted || final === EXIT.hangUp ? process.exit(final) : exitAfterOutput(final));
    if (link === undefined) done(code);
    else void closeLink(link).finally(() => done(statusAfterClose(code)));
  };
  // A fatal event during a download waits for the transfer to clean up its temporary file. The first
  // one is what happened: the server's shutdown notice, not the connection's close that follows it.
  const fatal = (code: number, report: () => void): void => {
    const go = (): void => {
      if (input.promptPending) process.stdout.write('\n');
      report();
      exit(code);
    };
    if (transferring) deferredExit ??= go;
    else go();
  };

  // Ctrl-C: during a transfer it cancels the transfer (back to the prompt); otherwise it logs out
  // (XIT, `Goodbye`), and a second one while that is under way exits at once. A script's Ctrl-C is
  // the end of the script, as a shell's script ends on it: a transfer under way is cancelled all the
  // same, then the session is logged out, the rest not run, and the exit is 130 (it was 0, and a
  // script cut short read as one that ran to its end; a cancelled transfer went on to the next command).
  const interrupt = (): void => {
    // Still connecting: nothing to log out of, so no reason to wait for the handshake.
    if (link === undefined) {
      if (process.stderr.isTTY === true) process.stderr.write('\n');
      exit(EXIT.interrupted);
      return;
    }
    if (closingLink) {
      interrupts++;
      // The second, as while logging out: at once. A script's first: the close cut short, and 130.
      if (interrupts > 1) process.exit(EXIT.interrupted);
      if (scripted) err('Interrupted (SIGINT) while closing the connection');
      cutClose(scripted ? EXIT.interrupted : EXIT.ok);
      return;
    }
    if (cancelTransfer !== undefined) {
      cancelTransfer.abort();
      if (!scripted) return;
    }
    interrupts++;
    if (interrupts > 1) exit(EXIT.interrupted);
    else input.end();
  };
  const input = new LineInput(terminal, interrupt);
  if (!terminal) process.on('SIGINT', interrupt);
  // SIGHUP (an ssh session dropped; its shell sends its jobs SIGHUP): a command under way (a transfer too)
  // finishes, then the session is logged out (XIT) so the server frees it at once. From a terminal no one is
  // left to type: the end of input, exit 0. A script's remaining commands are not run: exit 129, so that a
  // script cut short does not read as one that ran to its end (Node undoes nohup's ignoring of SIGHUP).
  let hungUp = false;
  // True while the loop waits for standard output to take the last answer (outputTaken).
  let awaitingOutput = false;
  process.on('SIGHUP', () => {
    // The commands' source decides, not the output's: typed at a terminal whose output is piped (`| tee log`), none was cut short.
    hungUp = scripted;
    // Still connecting (a handshake waits up to --timeout): given up now, as Ctrl-C gives it up; it was
    // waited for, and only then did the end of input take effect.
    if (link === undefined) {
      connecting.abort();
      input.end();
      return;
    }
    // Closing after the logout or a fatal event: the server has the XIT (or ended the session itself), and
    // only its acknowledgement of the close is awaited: not waited for any longer.
    if (closingLink) {
      if (hungUp) err('Hung up (SIGHUP) while closing the connection');
      cutClose(hungUp ? EXIT.hangUp : EXIT.ok);
      return;
    }
    // A reader that takes nothing would hold the logout back for ever: the connection is closed (the session with
    // it) and the client exits now. Before, SIGHUP was ignored there and the client stayed until SIGTERM or SIGKILL.
    if (awaitingOutput && !exiting && hungUp) {
      err('Hung up (SIGHUP) while the output was not being read: the commands after this point were not run');
      exit(EXIT.hangUp);
      return;
    }
    input.end();
  });

  // Downloads of an earlier client here that was killed mid-transfer.
  await sweepStaleDownloads(process.cwd());

  // A person at a terminal sees that something is happening (and what); scripts' output stays as the spec has it.
  const knownHostsPath = args.knownHosts ?? defaultKnownHostsPath();
  const serverId = hostId(args.host, args.port);
  let pinned: Uint8Array | undefined;
  try {
    pinned = (await loadKnownHosts(knownHostsPath)).hosts.keys.get(serverId);
  } catch (e) {
    err(`Cannot read ${knownHostsPath}: ${e instanceof Error ? e.message : String(e)}`);
    input.close();
    return EXIT.hostKey;
  }
  const status = process.stderr.isTTY === true;
  if (status) process.stderr.write(`Connecting to ${hostPort(args.host, args.port)}…`);
  let conn;
  try {
    conn = await connect({ port: args.port, host: args.host, ...timings.transport, signal: connecting.signal, ...(pinned !== undefined ? { serverKey: pinned } : {}) });
  } catch (e) {
    if (status) process.stderr.write('\n');
    if (connecting.signal.aborted) {
      // The statuses of a hangup at the username prompt: 129 for a script, whose commands were not run; 0 at a terminal.
      err(`${hungUp ? 'Hung up (SIGHUP)' : 'End of input'} while connecting: not logged in`);
      input.close();
      return hungUp ? EXIT.hangUp : EXIT.ok;
    }
    if (e instanceof ServerKeyMismatchError) {
      const fp = (k: Uint8Array): string => fingerprint(nodeCryptoProvider, k);
      changedKeyMessage(serverId, fp(e.expected), fp(e.offered), knownHostsPath).forEach(err);
      input.close();
      return EXIT.hostKey;
    }
    // A server at a connection limit says so in the handshake: pass its reason on, as retrying at once would not help.
    const refusal = e instanceof RudpError && e.reason?.kind === 'refused' ? `: ${e.reason.message}` : '';
    err(`Unable to reach the server at ${args.host}:${args.port}${refusal}`);
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
      err(`Cannot read ${knownHostsPath}: ${e instanceof Error ? e.message : String(e)}`);
      trust = { ok: false, lines: [] };
    }
    trust.lines.forEach(err);
    if (!trust.ok) {
      input.close();
      conn.destroy();
      return EXIT.hostKey;
    }
  }
  const serverLink = new ServerLink(conn, timings.requestTimeoutMs, {
    notice: (n) => fatal(exitFor(n), () => out(n.text)),
    lost: (reason) => fatal(EXIT.unreachable, () => err(`Server unreachable: ${reason}`)),
  });
  link = serverLink;

  let username = '';
  /** The reply; `'unsent'` (said why, the session goes on) or `undefined` (fatal, the client is exiting). */
  const request = async (cmd: Parameters<ServerLink['request']>[0], cmdArgs: readonly string[]): Promise<Reply | 'unsent' | undefined> => {
    try {
      return await serverLink.request(cmd, cmdArgs, username);
    } catch (e) {
      if (e instanceof LinkError && e.kind === 'unsent') {
        out(`Not sent: ${e.message}`);
        return 'unsent';
      }
      fatal(EXIT.unreachable, () => err(`Server unreachable: ${e instanceof LinkError ? e.message : String(e)}`));
      return undefined;
    }
  };

  const transfer = async (cmd: RequestCommand, data: TransferData, localName: string, overwrite: boolean, title: string): Promise<void> => {
    // The direction is the typed command's; a reply that says otherwise is refused before any TCP.
    const check = checkTransferReply(cmd, data);
    if (!check.ok) {
      out(check.message);
      return;
    }
    // Checked once the server granted the download, so its answers (no such thread, no such file)
    // come first as the spec has them. The unused token simply expires.
    if (check.direction === 'download' && !overwrite && (await localFileExists(localName))) {
      out(`File ${localName} already exists here; to replace it: DWN ${title} ${localName} ${OVERWRITE_FLAG}`);
      return;
    }
    transferring = true;
    const cancel = new AbortController();
    cancelTransfer = cancel;
    let result: TransferResult;
    try {
      const keys = deriveTransferKeys(sessionExporter(conn), data.token);
      if (check.direction === 'upload') {
        const size = (await stat(localName)).size;
        const progress = createProgress(`Uploading ${localName}`, size);
        result = await uploadFile(args.host, data.port, data.token, keys, localName, size, progress, { signal: cancel.signal, pace: args.pace });
        progress.stop();
      } else {
        const progress = (size: number) => createProgress(`Downloading ${localName}`, size);
        result = await downloadFile(args.host, data.port, data.token, keys, process.cwd(), localName, progress, { overwrite, signal: cancel.signal, pace: args.pace });
      }
    } catch (e) {
      result = { ok: false, cancelled: false, reason: e instanceof Error ? e.message : String(e) };
    }
    cancelTransfer = undefined;
    transferring = false;
    const what = `${check.direction === 'upload' ? 'Upload' : 'Download'} of ${localName}`;
    if (result.ok) out(data.completionLine);
    else if (result.cancelled) out(`${what} cancelled`);
    else out(transferFailureLine(check.direction, localName, data.thread, result.reason));
    deferredExit?.();
  };

  // Fatal events exit from their callbacks; the loop below then just stops.
  const never = (): Promise<number> => new Promise<number>(() => undefined);
  const quit = async (code: number): Promise<number> => {
    exiting = true;
    input.close();
    await closeLink(serverLink);
    return statusAfterClose(code);
  };

  const interruptedScript = (): boolean => scripted && interrupts > 0;
  /** The status of a session ended at its input's end: a hangup's or a script's Ctrl-C, or 0. */
  const endStatus = (): number => (hungUp ? EXIT.hangUp : interruptedScript() ? EXIT.interrupted : EXIT.ok);

  let next: NextStep = 'username';
  for (;;) {
    awaitingOutput = true;
    await outputTaken();
    awaitingOutput = false;
    if (exiting) return never();
    const line = await input.ask(PROMPTS[next], { hidden: next === 'password' || next === 'newPassword' });
    if (exiting) return never();
    if (line === undefined) {
      if (next !== 'command') {
        // Ctrl-C before logging in: no session to end, but the same farewell as XIT.
        if (interrupts > 0) {
          if (input.promptPending) process.stdout.write('\n');
          out('Goodbye');
          if (interruptedScript()) err(`Interrupted (SIGINT) at the ${next === 'username' ? 'username' : 'password'} prompt: not logged in`);
        } else {
          // End of input (a script's answers ran out): said, as nothing else shows that no one logged in.
          // Standard output stays the exchange (its last prompt, unanswered); a terminal's line is ended.
          if (input.promptPending && process.stdout.isTTY === true) process.stdout.write('\n');
          err(`${hungUp ? 'Hung up (SIGHUP)' : 'End of input'} at the ${next === 'username' ? 'username' : 'password'} prompt: not logged in`);
        }
        return quit(endStatus());
      }
      if (input.promptPending) process.stdout.write('\n');
      const reply = await request('XIT', []);
      if (reply === undefined) return never();
      // Not sent: closing the connection ends the session all the same.
      if (reply !== 'unsent') outLines(reply.lines);
      if (hungUp) err('Hung up (SIGHUP): the commands after this point were not run');
      else if (interruptedScript()) err('Interrupted (SIGINT): the commands after this point were not run');
      return quit(endStatus());
    }
    if (next !== 'command') {
      if (next === 'username') username = line;
      const reply = await request(next, [line]);
      if (reply === undefined) return never();
      if (reply === 'unsent') continue;
      outLines(reply.lines);
      if (reply.data.kind === 'auth') next = reply.data.next;
      continue;
    }
    const typed = interpretLine(line);
    if (typed.kind === 'help') {
      helpLines(typed.topic).forEach(out);
      continue;
    }
    if (typed.kind === 'refused') {
      typed.lines.forEach(out);
      continue;
    }
    const { cmd, args: cmdArgs } = typed.command;
    const localName = cmdArgs[1] ?? '';
    if (cmd === 'UPD') {
      const problem = await uploadSourceProblem(localName);
      if (problem !== undefined) {
        out(terminalText(problem));
        continue;
      }
    }
    const reply = await request(cmd, cmdArgs);
    if (reply === undefined) return never();
    if (reply === 'unsent') continue;
    outLines(reply.lines);
    if (reply.data.kind === 'transfer') {
      await transfer(cmd, reply.data, localName, typed.overwrite, cmdArgs[0] ?? '');
      // A fatal event deferred during the transfer is exiting now: no prompt after its line.
      if (exiting) return never();
    }
    if (reply.data.kind === 'goodbye') return quit(EXIT.ok);
    if (reply.data.kind === 'auth') next = reply.data.next;
  }
};
