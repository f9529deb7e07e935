/**
 * Connections per client host, against the built forum-server and
 * forum-client: one machine cannot hold every connection the server can
 * (it held up to the memory budget, and then nobody could connect), and a
 * client over the limit is told why at once instead of timing out.
 */
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, runClient } from './forum-processes.js';
import { rawClient, rawLogin, type RawClient } from './raw-client.js';

describe('connections per client host (real server)', () => {
  const scope = cleanupAfterEach();

  it('--max-connections-per-host 2: a third connection from the host is refused with the reason; another host and a freed place still get in', async () => {
    const { server, cwd } = await scope.startInTemp(['--max-connections-per-host', '2']);
    const held: RawClient[] = [];
    scope.stops.push(() => void Promise.all(held.map((c) => c.close())));
    // Logged in: connections not logged in would make room for the host's newcomer (e2e-login-room.test.ts).
    for (const name of ['alice', 'bob']) {
      const c = await rawClient(server.port, { handshakeTimeoutMs: 30_000 });
      held.push(c);
      expect((await rawLogin(c, name, 'pw')).lines).toEqual(['Welcome to the forum']);
    }

    await expect(rawClient(server.port, { handshakeTimeoutMs: 30_000 })).rejects.toMatchObject({ code: 'ECONNREFUSED', reason: { kind: 'refused' } });
    const run = await runClient(server.port, cwd, ['yoda']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `Unable to reach the server at 127.0.0.1:${server.port}: the server at 127.0.0.1:${server.port} refused the connection: it has too many connections from this address (unauthenticated, sent in clear before the handshake)\n`,
    );

    const other = await rawClient(server.port, { localAddress: '127.0.0.2', handshakeTimeoutMs: 30_000 });
    held.push(other);
    expect((await rawLogin(other, 'obiwan', 'pw')).lines).toEqual(['Welcome to the forum']);

    await (held.shift() as RawClient).close();
    // The host has its place again once the server has seen the CLOSE (not when it has drained).
    let again: RawClient | undefined;
    for (let tries = 0; again === undefined; tries++) {
      again = await rawClient(server.port, { handshakeTimeoutMs: 30_000 }).catch((e: unknown) => {
        if (tries >= 50 || (e as { code?: string }).code !== 'ECONNREFUSED') throw e;
        return new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 200));
      });
    }
    held.push(again);
    expect((await rawLogin(again, 'yoda', 'pw')).lines).toEqual(['Welcome to the forum']);
  }, 60_000);

  it('rejects a bad --max-connections-per-host at start', async () => {
    await expect(scope.startInTemp(['--max-connections-per-host', '0'])).rejects.toThrow(/invalid max connections per host: 0/);
  }, 30_000);
});
