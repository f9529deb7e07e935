import { guardStandardStreams, terminalText } from 'forum-protocol';
import { stat } from 'node:fs/promises';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import { durationMs, HELP, parseServerArgs, SHORT_USAGE } from './args.js';
import { abandonDataDirLocks } from './data-dir-lock.js';
import { exitAfterLogs } from './exit-after-logs.js';
import { redactUrl, startForumServer, type ForumServer } from './forum-server.js';
import { createdIdentityNotice, loadOrCreateIdentity } from './identity-key.js';
import { otherIdentityBeside, replacedIdentityWarning } from './identity-replaced.js';
import { lockRenewMs } from './lock-renew.js';
import { isRelayedStop } from './relayed-stop.js';
import { maxLeaseMs } from './session-lease.js';
import { stopGraceMs } from './stop-grace.js';
import { readTerminalInForeground } from './terminal-foreground.js';
import { transportIdle } from './transport-idle.js';

/**
 * The exit status of a server that stopped because another server took its
 * data directory over (its lock lost): a supervisor can tell it from a start
 * refused (1) and a usage error (2).
 */
const EXIT_LOCK_LOST = 3;

/** The signals that stop the server; as it starts, each gives the start up. */
type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

/** The status of a process ended by `signal`, as a shell reports one killed by it: 128 + its number. */
const statusOf = (signal: StopSignal): number => 128 + constants.signals[signal];

const main = async (): Promise<number | undefined> => {
  guardStandardStreams();
  const command = parseServerArgs(process.argv.slice(2), process.env);
  if (command.kind === 'help') {
    console.log(HELP);
    return 0;
  }
  if (command.kind === 'show-fingerprint') {
    try {
      const identity = await loadOrCreateIdentity(resolve(command.dataDir), command.identityFile === undefined ? undefined : resolve(command.identityFile));
      console.log(identity.fingerprint);
      const created = createdIdentityNotice(identity);
      if (created !== undefined) console.error(created);
      return 0;
    } catch (e) {
      console.error(`forum-server: cannot load the identity key: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
  }
  if (command.kind === 'error') {
    console.error(`forum-server: ${command.message}`);
    console.error(SHORT_USAGE);
    return 2;
  }
  const { args } = command;
  // Asked before the first line is printed: a terminal that hangs up once it has shown that line is then
  // this stream's end. Asked after a hangup, Node throws (uv_tty_init: EINVAL); SIGHUP stops the server then.
  const atTerminal = ((): boolean => {
    try {
      return process.stdin.isTTY === true;
    } catch {
      return false;
    }
  })();
  const dataDir = resolve(args.dataDir);
  let server: ForumServer | undefined;
  let stopping = false;
  // Set once a stop signal comes during start-up: the start is given up (`signal` of the options).
  let startStoppedBy: StopSignal | undefined;
  const starting = new AbortController();
  const stop = (running: ForumServer, why: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`Server shutting down (${why})`);
    // Clients are told and given a moment to hear it; a stuck close cannot keep the process alive.
    void running
      .shutdown(stopGraceMs(process.env))
      .then(
        (told) => {
          console.error(`forum-server: stopped${told > 0 ? `, ${told} connected ${told === 1 ? 'client' : 'clients'} told` : ''}`);
          exitAfterLogs(0);
        },
        // Said, and the log still flushed: a rejection left to Node would exit 1 at once, dropping the lines queued before it.
        (e: unknown) => {
          console.error(`forum-server: the stop failed: ${e instanceof Error ? e.message : String(e)}`);
          exitAfterLogs(1);
        },
      );
  };
  // A second SIGINT or SIGTERM while it stops (telling clients, or waiting for a log reader that does not read)
  // ends it at once, as a process killed by that signal: a supervisor's escalation, Ctrl-C twice (not one within
  // RELAYED_STOP_MS of the first: the same Ctrl-C, passed on by a wrapper such as pnpm exec). The lock goes
  // first (the stop that would have released it never ends): left behind, the next start had to judge it, and
  // a restarted container (a new pid namespace) waited up to 30 s for renewals that never come. Not while a write
  // is under way (`ForumServer.abandon`): the exit runs the file operations already queued, and a slow disk's
  // outlives the lock, when a server waiting for it could already be recovering the directory.
  const exitAtOnce = (signal: StopSignal, abandon: () => void): void => {
    abandon();
    // Written before the exit, which a file operation under way holds back (a hung disk): the lock is given up by then.
    console.error(`forum-server: exiting at once (${signal} while stopping)`);
    process.exit(statusOf(signal));
  };
  // Installed before the start takes the data directory's lock (and so before the lines that say it is ready, which
  // a supervisor may answer with SIGTERM at once): a signal with no handler ended the process on the spot, and one
  // during the start (the directory's recovery, a store opening) left the lock behind for the next start to judge
  // (a restarted container waited up to 30 s for renewals that never come; a pid reused by another process refused
  // every start until an operator deleted the file). During the start a signal gives it up: the waits end, what was
  // opened is closed, the lock released, and the status is the signal's. A second one then exits at once, the lock
  // given up first (no server exists yet whose client writes could be under way), unless the directory's recovery
  // is writing under it: the exit runs that write, and one on a hung disk would land after the lock file is gone,
  // beside a server that took the directory (`LockOptions.busy`). What the exit cuts short is the next start's to redo.
  let firstStopAt: number | undefined;
  const onSignal = (signal: StopSignal): void => {
    const now = performance.now();
    if (firstStopAt !== undefined && isRelayedStop(firstStopAt, now)) return;
    firstStopAt ??= now;
    if (server === undefined) {
      if (startStoppedBy === undefined) {
        startStoppedBy = signal;
        console.log(`Stopping during start-up (${signal})`);
        starting.abort();
      } else if (signal !== 'SIGHUP') {
        exitAtOnce(signal, abandonDataDirLocks);
      }
      return;
    }
    const running = server;
    if (signal === 'SIGHUP') stop(running, signal);
    else if (stopping) exitAtOnce(signal, () => running.abandon());
    else stop(running, signal);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  // The terminal it ran at closing (an ssh session dropped) would otherwise kill it on the spot: clients not told, transfers cut.
  process.on('SIGHUP', () => onSignal('SIGHUP'));
  // A data directory that does not exist is made (a first start), and a mistyped path then served an empty
  // second forum where users registered again, with nothing said but the key's `(created …)` (attack round 19).
  const dirExisted = args.databaseUrl !== undefined || (await stat(dataDir).then(() => true, () => false));
  // A new key made at --identity-file beside this one is warned of once the server started (attack round 20).
  const ownKey = args.databaseUrl === undefined ? await otherIdentityBeside(args.identityFile === undefined ? undefined : resolve(args.identityFile), dataDir) : undefined;
  try {
    server = await startForumServer({
      port: args.port,
      host: args.host,
      dataDir,
      ...(args.identityFile === undefined ? {} : { identityFile: resolve(args.identityFile) }),
      ...(args.cidServerId === undefined ? {} : { cidServerId: args.cidServerId }),
      ...(args.databaseUrl === undefined ? {} : { databaseUrl: args.databaseUrl }),
      idleTimeoutMs: durationMs(args.idleTimeoutSeconds),
      transportIdle: transportIdle(process.env),
      maxLeaseMs: maxLeaseMs(process.env),
      lockRenewMs: lockRenewMs(process.env),
      transferPort: args.transferPort,
      ...(args.advertisedTransferPort === undefined ? {} : { advertisedTransferPort: args.advertisedTransferPort }),
      transferHeaderTimeoutMs: durationMs(args.transferHeaderTimeoutSeconds),
      hashPasswords: args.hashPasswords,
      loginRateLimit: args.loginLimit,
      accountCreationLimit: args.accountLimit,
      maxUploadBytes: args.maxUploadBytes,
      ...(args.maxDataBytes === undefined ? {} : { maxDataBytes: args.maxDataBytes }),
      ...(args.maxDataBytesPerUser === undefined ? {} : { maxDataBytesPerUser: args.maxDataBytesPerUser }),
      ...(args.memoryBudgetBytes === undefined ? {} : { memoryBudgetBytes: args.memoryBudgetBytes }),
      maxConnectionsPerHost: args.maxConnectionsPerHost,
      maxConnectionsBeforeLogin: args.maxConnectionsBeforeLogin,
      handshakeRate: args.handshakeRate,
      minFreeBytes: args.minFreeBytes,
      diskStallMs: args.diskStallMs,
      ...(args.databaseUrl === undefined ? { maxThreadBytes: args.maxThreadBytes } : {}),
      ...(args.maxThreadBytesPerUser === undefined ? {} : { maxThreadBytesPerUser: args.maxThreadBytesPerUser }),
      ...(args.databaseUrl === undefined && args.maxAccounts > 0 ? { maxAccounts: args.maxAccounts } : {}),
      maxThreadsPerUser: args.maxThreadsPerUser,
      originShares: args.originShares,
      requestRate: args.requestRate,
      ...(args.maxReplyBytes === undefined ? {} : { maxReplyBytes: args.maxReplyBytes }),
      largeReplyBytesPerSecond: args.largeReplyRateMib * 1024 * 1024,
      requestChargeBytes: args.requestChargeKib * 1024,
      rateIdleBelow: args.rateIdleBelowPercent / 100,
      // Log lines quote clients (a malformed request's parse error quotes its bytes): no control character of theirs reaches the operator's terminal or splits a line.
      log: (line) => console.log(terminalText(line)),
      warn: (line) => console.error(terminalText(line)),
      // Stopped by itself (its data directory's lock lost, said on stderr already): a status of its own.
      onFatal: () => {
        stopping = true;
        console.error(`forum-server: stopped: the data directory lock was lost (exit status ${EXIT_LOCK_LOST})`);
        exitAfterLogs(EXIT_LOCK_LOST);
      },
      signal: starting.signal,
    });
  } catch (e) {
    if (startStoppedBy === undefined) {
      console.error(`forum-server: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
    // A start given up ends with the status of a process killed by the signal, the lock released (nothing left to judge).
    if (!(e instanceof Error && e.name === 'AbortError')) console.error(`forum-server: ${e instanceof Error ? e.message : String(e)}`);
    console.error(`forum-server: stopped during start-up by ${startStoppedBy}`);
    exitAfterLogs(statusOf(startStoppedBy));
    return undefined;
  }
  const running = server;
  // A signal the start did not see (it came after the start's last check): stopped as any other, not ignored.
  if (startStoppedBy !== undefined) {
    stop(running, startStoppedBy);
    return undefined;
  }
  console.log('Waiting for clients');
  console.error(`forum-server: identity key fingerprint ${server.identity.fingerprint} (${server.identity.created ? 'created' : 'from'} ${server.identity.path})`);
  const replaced = replacedIdentityWarning(server.identity, ownKey);
  // A key made beside the data directory's own gets the sharper warning (after the port line, below) alone.
  const createdKey = replaced === undefined ? createdIdentityNotice(server.identity) : undefined;
  if (createdKey !== undefined) console.error(createdKey);
  const where = args.databaseUrl === undefined ? `data directory ${dataDir}` : `database ${redactUrl(args.databaseUrl)}`;
  console.error(`forum-server: UDP ${args.host}:${server.udpPort}, TCP ${server.tcpPort}, ${where}`);
  if (replaced !== undefined) console.error(replaced);
  if (!dirExisted) console.error(`forum-server: created the data directory ${dataDir}: it did not exist (a new, empty forum; if it should hold one, check the path)`);
  // Ctrl-D ends a server run at a terminal; a server started with no terminal (a service) keeps running, and
  // one started in the background of an interactive shell (`&`) reads its terminal only once brought to the
  // foreground (read from the background, it was stopped by SIGTTIN).
  if (atTerminal) {
    process.stdin.on('end', () => stop(running, 'end of input'));
    readTerminalInForeground(process.stdin);
  }
  return undefined;
};

main().then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`forum-server: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  },
);
