/**
 * Two server processes with one configured server id (`serverId`) on one PostgreSQL: the one restarted in the
 * other's place while the old one's session leases still stand (they live up to 15 s), or two started so by
 * mistake. The second is loaded as a module graph of its own (`vi.resetModules`), as a process of its own
 * would be: its connections are numbered from 1 again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../../scripts/embedded-postgres.mjs';
import { startForumServer, type ForumServer, type ForumServerOptions } from '../src/forum-server.js';
import { rawClient, rawLogin, type RawClient } from './raw-client.js';

describe('two server processes with one server id', () => {
  let pg: EmbeddedPostgresHandle | undefined;
  let keyDir = '';
  const servers: ForumServer[] = [];
  const clients: RawClient[] = [];

  const options = (url: string): ForumServerOptions => ({
    port: 0,
    host: '127.0.0.1',
    dataDir: keyDir,
    identityFile: join(keyDir, 'identity'),
    databaseUrl: url,
    serverId: 'forum-1',
    idleTimeoutMs: 8000,
    transferPort: 0,
    log: () => undefined,
    warn: () => undefined,
  });

  beforeAll(async () => {
    pg = await startEmbeddedPostgres();
    keyDir = await mkdtemp(join(tmpdir(), 'forum-same-id-'));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    for (const s of servers) await s.close().catch(() => undefined);
    await pg?.stop();
    if (keyDir !== '') await rm(keyDir, { recursive: true, force: true });
  }, 60_000);

  it("neither takes over the other's sessions, and one's stop frees only its own", async () => {
    if (pg === undefined) throw new Error('not started');
    const first = await startForumServer(options(pg.url));
    servers.push(first);
    vi.resetModules();
    const fresh = (await import('../src/forum-server.js')) as typeof import('../src/forum-server.js');
    const second = await fresh.startForumServer(options(pg.url));
    servers.push(second);
    const connect = async (server: ForumServer): Promise<RawClient> => {
      const c = await rawClient(server.udpPort);
      clients.push(c);
      return c;
    };

    // Each process's first connection: by the server id and a count alone, both had the key `forum-1/c1`.
    const alice = await connect(first);
    expect((await rawLogin(alice, 'alice', 'pw')).lines).toEqual(['Welcome to the forum']);
    const intruder = await connect(second);
    // Before: the lease of `forum-1/c1` was this connection's own, and the login took it over (a second live session of alice).
    expect((await intruder.request('u', 'username', ['alice'])).lines).toEqual(['alice has already logged in']);
    expect((await rawLogin(intruder, 'bob', 'pw')).lines).toEqual(['Welcome to the forum']);

    // The first process stops gracefully: bob's lease is the second's, and stays.
    await first.close();
    servers.splice(servers.indexOf(first), 1);
    const other = await connect(second);
    expect((await other.request('u', 'username', ['bob'])).lines).toEqual(['bob has already logged in']);
    // bob's session goes on.
    expect((await intruder.request('l', 'LST', [])).lines).toEqual(['No threads to list']);
  }, 60_000);
});
