/**
 * The accounts one client host created, held together over two servers on one PostgreSQL (attack round 30):
 * accounts of 127.0.0.9 made and used through either server are refused at two accounts' shares in CRT and
 * UPD with the origin's lines, while an account of 127.0.0.10 still creates and uploads.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../../scripts/embedded-postgres.mjs';
import { startForumServer, type ForumServer } from '../src/forum-server.js';
import { rawClient, rawLogin, sealedExchange, type RawClient } from './raw-client.js';

const SHARE = 100_000;

describe('the accounts of one host over two servers on one database', () => {
  let pg: EmbeddedPostgresHandle | undefined;
  let sql: postgres.Sql | undefined;
  const servers: ForumServer[] = [];
  const clients: RawClient[] = [];
  let keyDir = '';

  beforeAll(async () => {
    pg = await startEmbeddedPostgres();
    keyDir = await mkdtemp(join(tmpdir(), 'forum-cluster-origin-'));
    for (let i = 0; i < 2; i++) {
      servers.push(
        await startForumServer({
          port: 0,
          host: '127.0.0.1',
          dataDir: keyDir,
          identityFile: join(keyDir, 'identity'),
          databaseUrl: pg.url,
          maxDataBytes: 100 * SHARE,
          maxDataBytesPerUser: SHARE,
          maxThreadsPerUser: 2,
          originShares: 2,
          idleTimeoutMs: 10_000,
          transferPort: 0,
          log: () => undefined,
          warn: () => undefined,
        }),
      );
    }
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
  let sent = 0;
  const login = async (i: number, user: string, localAddress: string): Promise<RawClient> => {
    const c = await rawClient(server(i).udpPort, { localAddress });
    clients.push(c);
    expect((await rawLogin(c, user, 'pw')).lines).toEqual(['Welcome to the forum']);
    return c;
  };
  const crt = async (c: RawClient, title: string): Promise<string> => (await c.request(`r${++sent}`, 'CRT', [title])).lines[0] ?? '';
  const upload = async (c: RawClient, through: number, thread: string, file: string, size: number): Promise<string> => {
    const r = await c.request(`r${++sent}`, 'UPD', [thread, file]);
    if (r.data.kind !== 'transfer') return r.lines[0] ?? '';
    return (await sealedExchange(server(through).tcpPort, c, r.data.token, Buffer.concat([Buffer.from(`${size}\n`), Buffer.alloc(size, 7)]))).trim();
  };

  it('CRT and UPD of three accounts of 127.0.0.9 stop at two accounts\' shares over both servers; an account of 127.0.0.10 goes on', async () => {
    const m = [await login(0, 'm0', '127.0.0.9'), await login(1, 'm1', '127.0.0.9'), await login(0, 'm2', '127.0.0.9')];
    const victim = await login(1, 'victim', '127.0.0.10');
    const db = sql;
    if (db === undefined) throw new Error('not started');
    expect(await db`SELECT username, origin FROM accounts ORDER BY username`).toEqual([
      { username: 'm0', origin: '127.0.0.9' },
      { username: 'm1', origin: '127.0.0.9' },
      { username: 'm2', origin: '127.0.0.9' },
      { username: 'victim', origin: '127.0.0.10' },
    ]);
    const [m0, m1, m2] = m as [RawClient, RawClient, RawClient];
    for (const [c, t] of [[m0, 'a0'], [m0, 'a1'], [m1, 'b0'], [m1, 'b1']] as const) expect(await crt(c, t)).toBe(`Thread ${t} created`);
    expect(await crt(m2, 'c0')).toBe('Your account and the others created from the same address have created too many threads (at most 4): remove one of theirs before creating another');
    expect(await crt(victim, 'v')).toBe('Thread v created');

    // 80,000 bytes each: one an account, two the origin's 200,000.
    expect(await upload(m0, 1, 'a0', 'f0', 80_000)).toBe('OK');
    expect(await upload(m1, 0, 'b0', 'f1', 80_000)).toBe('OK');
    expect(await upload(m2, 1, 'a1', 'f2', 80_000)).toBe(
      "ERR Your account and the others created from the same address hold as much of the forum's uploads as one address may: at most 200000 bytes, 40000 are left to them, this file has 80000 (remove threads of theirs to make room)",
    );
    expect(await upload(victim, 0, 'v', 'g', 80_000)).toBe('OK');
  }, 60_000);
});
