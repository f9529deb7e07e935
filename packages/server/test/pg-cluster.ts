/**
 * Forum servers in this process on one embedded PostgreSQL, shared by the tests of a describe block: started
 * before them, stopped (with the clients they made) after. The cluster tests' set-up, written once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, expect } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../../scripts/embedded-postgres.mjs';
import { startForumServer, type ForumServer, type ForumServerOptions } from '../src/forum-server.js';
import { rawClient, rawLogin, type RawClient } from './raw-client.js';

/** What a block's tests reach of its cluster. */
export interface PgCluster {
  /** Server `i` of the block's (modulo their number). */
  server(i: number): ForumServer;
  /** A connection to the database. */
  sql(): postgres.Sql;
  /** A raw client from `localAddress` to server `to` (an index of the block's, or another server), closed after the block. */
  connect(to: number | ForumServer, localAddress: string): Promise<RawClient>;
  /** `connect`, then logs in as `user` with `password` (default `pw`; refused: the test fails). */
  login(to: number | ForumServer, user: string, localAddress: string, password?: string): Promise<RawClient>;
  /**
   * Another server on the database, not among the block's (whose index tests take modulo their number), with
   * `options` over the shared ones only (not the block's own); the caller closes it.
   */
  startAnother(options?: Partial<ForumServerOptions>): Promise<ForumServer>;
}

/** Registers the block's cluster: `count` servers with `options` over the shared ones, their key file in a folder named from `name`. */
export const pgClusterForBlock = (count: number, name: string, options: Partial<ForumServerOptions>): PgCluster => {
  let pg: EmbeddedPostgresHandle | undefined;
  let sql: postgres.Sql | undefined;
  let keyDir = '';
  const servers: ForumServer[] = [];
  const clients: RawClient[] = [];

  const startAnother = (extra: Partial<ForumServerOptions> = {}): Promise<ForumServer> => {
    if (pg === undefined) throw new Error('not started');
    return startForumServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: keyDir,
      identityFile: join(keyDir, 'identity'),
      databaseUrl: pg.url,
      idleTimeoutMs: 10_000,
      transferPort: 0,
      log: () => undefined,
      warn: () => undefined,
      ...extra,
    });
  };

  beforeAll(async () => {
    pg = await startEmbeddedPostgres();
    keyDir = await mkdtemp(join(tmpdir(), `forum-${name}-`));
    for (let i = 0; i < count; i++) servers.push(await startAnother(options));
    sql = postgres(pg.url, { max: 1, onnotice: () => undefined });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    for (const s of servers) await s.close();
    await sql?.end();
    await pg?.stop();
    if (keyDir !== '') await rm(keyDir, { recursive: true, force: true });
  }, 60_000);

  const server = (i: number): ForumServer => {
    const s = servers[i % servers.length];
    if (s === undefined) throw new Error('not started');
    return s;
  };
  const connect = async (to: number | ForumServer, localAddress: string): Promise<RawClient> => {
    const c = await rawClient((typeof to === 'number' ? server(to) : to).udpPort, { localAddress });
    clients.push(c);
    return c;
  };
  return {
    server,
    sql: () => {
      if (sql === undefined) throw new Error('not started');
      return sql;
    },
    connect,
    login: async (to, user, localAddress, password = 'pw') => {
      const c = await connect(to, localAddress);
      expect((await rawLogin(c, user, password)).lines).toEqual(['Welcome to the forum']);
      return c;
    },
    startAnother,
  };
};
