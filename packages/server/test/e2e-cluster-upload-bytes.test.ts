/**
 * `--max-data-bytes` with `--store`: the bytes all uploads hold in the database, over every server.
 * Before, nothing bounded them with PostgreSQL but each file's size (1 GiB by default), so one account
 * uploading to any number of threads, through any server, filled the database's disk (attack round 12).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../../scripts/embedded-postgres.mjs';
import { startForumServer, type ForumServer } from '../src/forum-server.js';
import { rawClient, rawLogin, sealedExchange, type RawClient } from './raw-client.js';

const LIMIT = 1024 * 1024;

describe('bytes of uploads over two servers on one database (--max-data-bytes with --store)', () => {
  let pg: EmbeddedPostgresHandle | undefined;
  const servers: ForumServer[] = [];
  const clients: RawClient[] = [];
  let keyDir = '';

  beforeAll(async () => {
    pg = await startEmbeddedPostgres();
    keyDir = await mkdtemp(join(tmpdir(), 'forum-cluster-bytes-'));
    for (let i = 0; i < 2; i++) {
      servers.push(
        await startForumServer({
          port: 0,
          host: '127.0.0.1',
          dataDir: keyDir,
          identityFile: join(keyDir, 'identity'),
          databaseUrl: pg.url,
          maxDataBytes: LIMIT,
          idleTimeoutMs: 10_000,
          transferPort: 0,
          log: () => undefined,
          warn: () => undefined,
        }),
      );
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    for (const s of servers) await s.close();
    await pg?.stop();
    if (keyDir !== '') await rm(keyDir, { recursive: true, force: true });
  }, 60_000);

  const server = (i: number): ForumServer => {
    const s = servers[i];
    if (s === undefined) throw new Error('not started');
    return s;
  };

  it('an upload through one server, then one through the other that would pass the limit: refused with a line; room back after RMV', async () => {
    const c = await rawClient(server(0).udpPort);
    clients.push(c);
    expect((await rawLogin(c, 'mallory', 'pm')).lines).toEqual(['Welcome to the forum']);
    expect((await c.request('c', 'CRT', ['m'])).lines).toEqual(['Thread m created']);
    const upload = async (id: string, file: string, through: number): Promise<string> => {
      const r = await c.request(id, 'UPD', ['m', file]);
      if (r.data.kind !== 'transfer') throw new Error(`expected a grant, got ${JSON.stringify(r)}`);
      const bytes = randomBytes((3 * LIMIT) / 4);
      return sealedExchange(server(through).tcpPort, c, r.data.token, Buffer.concat([Buffer.from(`${bytes.length}\n`), bytes]));
    };
    expect(await upload('u0', 'f0', 0)).toBe('OK\n');
    // Each server on its own would have had room for it.
    expect(await upload('u1', 'f1', 1)).toBe(`ERR The forum's uploads are full: they hold at most ${LIMIT} bytes (remove threads to make room)\n`);
    expect((await c.request('r', 'RMV', ['m'])).lines).toEqual(['Thread m removed']);
    expect((await c.request('c2', 'CRT', ['m'])).lines).toEqual(['Thread m created']);
    expect(await upload('u2', 'f2', 1)).toBe('OK\n');
  }, 30_000);
});
