/**
 * Network partition between a client and the server (issue 7): forum-client ↔
 * lossy relay ↔ forum-server, the relay cut both ways for longer than the
 * server's idle timeout (and, in the second case, the transport's), then
 * healed. Both sides must end cleanly with clear messages, and the server
 * must go on serving, the same account included.
 */
import { startLossyRelayThread, type LossyRelayThread } from 'udp-relay';
import { describe, expect } from 'vitest';
import { MIN_TEST_STOP_GRACE_MS, STOP_GRACE_ENV } from '../src/stop-grace.js';
import { answered, cleanup, itWithFixture, P, runClient, spawnClient, startServer, tempDir, withoutFirstContact, type ServerProc } from './forum-processes.js';

/** The server's --idle-timeout here, in seconds. */
const IDLE_S = 2;
/**
 * The --timeout of the client that waits out the partition in the second test: its transport gives up on a
 * silent server after twice that (timingsFor in client timings.ts; 10 s at the default 5), still well past
 * the server's idle timeout. Not the default: the wait is the test's longest, and the rule is the same.
 */
const CLIENT_TIMEOUT_S = 2;
/** forum-client's transport gives up on a silent server after this long at {@link CLIENT_TIMEOUT_S} (timingsFor(2).transport.idleTimeoutMs: 4 s, twice IDLE_S). */
const CLIENT_TRANSPORT_IDLE_MS = 2 * CLIENT_TIMEOUT_S * 1000;

/** Resolves once the relay has dropped a datagram at the cut, checked every 10 ms; rejects after `timeoutMs`. */
const droppedByPartition = async (relay: LossyRelayThread, timeoutMs = 5_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while ((await relay.stats()).droppedPartition === 0) {
    if (Date.now() > deadline) throw new Error(`nothing dropped at the partition within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** One test's server, relay, client stops and directories; each test has its own, so the two run at once. */
const fixture = () => {
  const dirs: string[] = [];
  const servers: ServerProc[] = [];
  const relays: LossyRelayThread[] = [];
  const stops: (() => void)[] = [];
  return {
    stops,
    start: async (): Promise<{ server: ServerProc; relay: LossyRelayThread; cwd: string }> => {
      const data = await tempDir('data');
      const cwd = await tempDir('cwd');
      dirs.push(data, cwd);
      // Its stop after the test waits 100 ms (FORUM_SERVER_TEST_STOP_GRACE_MS), not 2 s, for the connection of a client
      // that gave up: the transport keeps it until its idle timeout.
      const server = await startServer(data, ['--idle-timeout', String(IDLE_S), '--transfer-port', '0'], undefined, { [STOP_GRACE_ENV]: String(MIN_TEST_STOP_GRACE_MS) });
      servers.push(server);
      // On a thread of its own, so that synchronous work in this process does not hold the relay.
      const relay = await startLossyRelayThread({ targetPort: server.port, seed: 1 });
      relays.push(relay);
      return { server, relay, cwd };
    },
    end: async (): Promise<void> => {
      stops.splice(0).forEach((s) => s());
      // Every relay closes, and the servers stop, even if one rejects (its thread failed: said at its close).
      const closed = await Promise.allSettled(relays.splice(0).map((r) => r.close()));
      await Promise.all(servers.splice(0).map((s) => s.stop()));
      await cleanup(...dirs.splice(0));
      const failed = closed.find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    },
  };
};

/** `it` with a fixture of its own (`f`), ended after the test. */
const it = itWithFixture(fixture);

// Concurrent: each test is mostly waiting out idle timeouts (2 s, then the client's 4 s), each on a server and relay of its own.
describe.concurrent('partition between client and server, then healing (real processes through the relay)', () => {
  /** A client logged in as yoda through the relay, then cut off from the server at once. */
  const loggedInThenCut = async (stops: (() => void)[], relay: LossyRelayThread, cwd: string, clientArgs: readonly string[] = []) => {
    const c = spawnClient(relay.port, cwd, clientArgs);
    stops.push(() => c.child.kill('SIGKILL'));
    let exitedAt: number | undefined;
    void c.exited.then(() => (exitedAt = Date.now()));
    c.send('yoda');
    c.send('pw1');
    await c.stdout.waitFor('Welcome to the forum\n');
    await relay.setPartitioned(true);
    return { c, cutAt: Date.now(), exitedAt: () => exitedAt };
  };

  /** After healing: the server still serves, and yoda can log in again through the same relay. */
  const yodaLogsInAgain = async (server: ServerProc, relay: LossyRelayThread, cwd: string): Promise<void> => {
    const again = await runClient(relay.port, cwd, ['yoda', 'pw1', 'CRT after', 'XIT']);
    expect(again.stdout).toBe(P.user + P.pass + 'Welcome to the forum\n' + answered(['Thread after created'], ['Goodbye']));
    expect(again.code).toBe(0);
    expect(server.lines().filter((l) => /error/i.test(l))).toEqual([]);
    expect(server.child.exitCode).toBeNull();
  };

  it('longer than the server idle timeout: the server logs yoda out; after healing the client is told, says so and exits 3', async ({ f, expect }) => {
    const { server, relay, cwd } = await f.start();
    const { c, exitedAt } = await loggedInThenCut(f.stops, relay, cwd);
    await server.stdout.waitFor('yoda timed out\n');
    // The notice went into the cut: the client cannot have heard of it yet. (The server logs before it
    // sends, and the relay reads on its own thread: its count can lag the log line; failed once under load.)
    await droppedByPartition(relay);
    expect(exitedAt()).toBeUndefined();
    await relay.setPartitioned(false);
    expect(await c.exited).toBe(3);
    expect(c.stdout.text).toBe(P.user + P.newPass + 'Welcome to the forum\n' + P.cmd + `\nSession timed out after ${IDLE_S} seconds of inactivity\n`);
    expect(withoutFirstContact(c.stderr.text)).toBe('');
    await yodaLogsInAgain(server, relay, cwd);
  });

  it('longer than the transport idle timeout too: the client reports the server unreachable and exits 1; after healing yoda logs in again', async ({ f, expect }) => {
    const { server, relay, cwd } = await f.start();
    const { c, cutAt } = await loggedInThenCut(f.stops, relay, cwd, ['--timeout', String(CLIENT_TIMEOUT_S)]);
    await server.stdout.waitFor('yoda timed out\n');
    // Still cut when the client gives up: it finds out by itself, within a bound.
    expect(await c.exited).toBe(1);
    const after = Date.now() - cutAt;
    expect(after).toBeGreaterThanOrEqual(CLIENT_TRANSPORT_IDLE_MS - 2_500);
    expect(after).toBeLessThan(CLIENT_TRANSPORT_IDLE_MS + 5_000);
    expect(c.stdout.text).toBe(P.user + P.newPass + 'Welcome to the forum\n' + P.cmd + '\n');
    // The silence the client waited out: its idle timeout, longer if a message restarted the count or the
    // timer ran late.
    const told = new RegExp(`^Server unreachable: connection lost \\(no packet from 127\\.0\\.0\\.1:${relay.port} for (\\d+) ms( \\(data sent \\d+ ms ago unanswered\\))?\\)\n$`).exec(withoutFirstContact(c.stderr.text));
    expect(told, c.stderr.text).not.toBeNull();
    expect(Number(told?.[1])).toBeGreaterThanOrEqual(CLIENT_TRANSPORT_IDLE_MS);
    expect(Number(told?.[1])).toBeLessThan(CLIENT_TRANSPORT_IDLE_MS + 5_000);
    await relay.setPartitioned(false);
    await yodaLogsInAgain(server, relay, cwd);
    expect(server.lines().filter((l) => l.startsWith('yoda '))).toEqual([
      'yoda successfully logged in',
      'yoda timed out',
      'yoda successful login',
      'yoda issued CRT command',
      'yoda issued XIT command',
      'yoda exited',
    ]);
  });
});
