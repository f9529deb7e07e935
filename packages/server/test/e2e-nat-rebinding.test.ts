/**
 * A logged-in forum session across a NAT rebinding: forum-client ↔ relay ↔
 * forum-server, the relay (standing for the client's NAT) moving the
 * client's mapping to a new port mid-session. rudpx follows the client to
 * the new port, so the session goes on without a new login; before, the
 * server dropped every datagram from the new port and the client timed out.
 * Also behind nginx (stream, UDP, as deploy/nginx.conf): nginx opens a new
 * upstream socket for the client's new address, bound to the client's IP
 * address (proxy_bind $remote_addr), so the server sees another port of that
 * address, which it follows the same way, and the hash of the client's IP
 * address keeps it on the same server.
 */
import { startLossyRelayThread, type LossyRelayThread } from 'udp-relay';
import { describe, expect, it } from 'vitest';
import { findNginx, startNginx } from '../../../scripts/cluster.mjs';
import { P, answered, cleanupAfterEach, spawnClient } from './forum-processes.js';

// CI installs nginx (.ci/run); elsewhere the test says why it did not run.
const nginxMissing = findNginx() === undefined && process.env.CI !== 'true';

type Scope = ReturnType<typeof cleanupAfterEach>;

/**
 * A forum-client through `relay` logs in, creates a thread, has its port moved by the relay, creates another
 * and exits: each answered, and the server logged one login and one exit (no second login, nothing timed out).
 */
const sessionAcrossRebinding = async (
  scope: Scope,
  relay: LossyRelayThread,
  cwd: string,
  server: { lines(): readonly string[] },
): Promise<void> => {
    const c = spawnClient(relay.port, cwd);
    scope.stops.push(() => c.child.kill('SIGKILL'));
    c.send('yoda');
    c.send('pw1');
    c.send('CRT before');
    await c.stdout.waitFor('Thread before created\n');
    await relay.rebind();
    c.send('CRT after');
    await c.stdout.waitFor('Thread after created\n');
    c.send('XIT');
    expect(await c.exited).toBe(0);
    expect(c.stdout.text).toBe(P.user + P.newPass + 'Welcome to the forum\n' + answered(['Thread before created'], ['Thread after created'], ['Goodbye']));
    expect(server.lines().filter((l) => /yoda/.test(l) && !/issued|created/.test(l))).toEqual(['yoda successfully logged in', 'yoda exited']);
};

describe('NAT rebinding (real processes through the relay)', () => {
  const scope = cleanupAfterEach();

  it('a logged-in session goes on at the new port: the next command is answered, no second login, nothing timed out', async () => {
    const { server, cwd } = await scope.startInTemp();
    // On a thread of its own, so that synchronous work in this process does not hold the relay.
    const relay = await startLossyRelayThread({ targetPort: server.port, seed: 1 });
    scope.closers.push(() => relay.close());
    await sessionAcrossRebinding(scope, relay, cwd, server);
  });
});

describe.skipIf(nginxMissing)('NAT rebinding behind nginx (real processes: client, relay, nginx, server)', () => {
  const scope = cleanupAfterEach();

  it('a logged-in session goes on when the client\'s port changes in front of nginx: nginx\'s new upstream port is followed, no second login', async () => {
    const { server, cwd } = await scope.startInTemp();
    const nginx = await startNginx({ servers: [server] });
    scope.closers.push(() => nginx.stop());
    const relay = await startLossyRelayThread({ targetPort: nginx.port, seed: 1 });
    scope.closers.push(() => relay.close());
    await sessionAcrossRebinding(scope, relay, cwd, server);
  });
});
