/**
 * A server killed (SIGKILL) and started again on its port and data directory under a logged-in client
 * (attack round 20, section 8), as the real binaries on loopback. The new process knows nothing of the
 * old one's connections; before, it dropped the client's packets, and the client's next command waited
 * out the whole request timeout (8 s) and said `Server unreachable: no reply within 8 seconds`. Now the
 * new process, which holds the same identity key, answers with a stateless reset, and the client says at
 * once that the server no longer knows its session, status 1 (a lost connection). The client reaches the
 * server through a relay (udp-gate.ts), so no ICMP "port unreachable" from the dead port reaches it while
 * the server is down: what ends it is the new process's answer, not the gap.
 */
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, spawnClient, spawnServer, startServer, tempDir, withoutFirstContact, type Proc, type TestScope } from '../../server/test/forum-processes.js';
import { loggedInWithThread } from './client-processes.js';
import { startUdpGate } from './udp-gate.js';

/** Waits for `promise`, failing after `ms` with `what` (the test's bound, not a sleep). */
const within = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);

/** How many times the restart binds its ports before giving up, and the pause between tries, ms. */
const RESTART_TRIES = 10;
const RESTART_PAUSE_MS = 300;

/** The MSG's datagram is at least this long; the client's keep-alives and acknowledgements are shorter. */
const MSG_DATAGRAM_BYTES = 80;

/**
 * Starts forum-server again on `udpPort` and `tcpPort` in `data`, waiting for `Waiting for clients`. Between the kill
 * and this start another process can take a freed port (an ephemeral one, on a busy machine) for a moment: a start
 * refused with EADDRINUSE is tried again on the same ports, a few times; any other failure is the test's.
 */
const restartOn = async (scope: TestScope, data: string, udpPort: number, tcpPort: number): Promise<Proc> => {
  for (let attempt = 1; ; attempt++) {
    const proc = spawnServer([String(udpPort), '--data-dir', data, '--transfer-port', String(tcpPort)]);
    scope.stops.push(() => proc.child.kill('SIGKILL'));
    const ready = await Promise.race([proc.stdout.waitFor('Waiting for clients\n').then(() => true), proc.exited.then(() => false)]);
    if (ready) return proc;
    if (!proc.stderr.text.includes('EADDRINUSE') || attempt === RESTART_TRIES) {
      throw new Error(`forum-server did not start again (try ${attempt}): ${proc.stderr.text.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, RESTART_PAUSE_MS));
  }
};

describe('forum-client when its server is killed and started again', () => {
  const scope = cleanupAfterEach();

  it('the next command ends at once: the server no longer knows the session (exit 1), not a request timeout', async () => {
    const data = await tempDir('data');
    const cwd = await tempDir('cwd');
    scope.dirs.push(data, cwd);
    const first = await startServer(data);
    const gate = await startUdpGate(first.port);
    scope.closers.push(() => gate.close());
    const c = spawnClient(gate.port, cwd);
    scope.stops.push(() => c.child.kill('SIGKILL'));
    await loggedInWithThread(c);

    // The client's keep-alives wait at the gate until its MSG has left: answered by the new process before the MSG
    // was sent, a keep-alive ended the session first, and the client rightly said nothing of a MSG (CI at load 15).
    gate.holdFromClient();
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    // The same UDP and TCP port, the same data directory (so the same identity key).
    await restartOn(scope, data, first.port, first.tcpPort);

    const sent = Date.now();
    c.send('MSG t after the restart');
    await within(gate.droppedFromClient(MSG_DATAGRAM_BYTES), 5_000, 'the MSG did not leave the client');
    gate.releaseFromClient();
    const code = await within(c.exited, 6_000, 'the client did not exit');
    const took = Date.now() - sent;
    expect(code).toBe(1);
    // Unacknowledged, the MSG may have reached the process that was killed before it could answer: said so.
    expect(withoutFirstContact(c.stderr.text)).toBe('Server unreachable: connection lost (the server no longer knows this session: it was restarted, or lost it; log in again); the MSG may or may not have reached the server: check before sending it again\n');
    // A round trip on loopback (or the next keep-alive's, at most 2 s after the restart), not the 8 s request timeout:
    // bounded between the two, with room for a loaded machine's stalls (3 s left one second).
    expect(took).toBeLessThan(5_000);
  });
});
