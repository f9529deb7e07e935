/**
 * A server on PostgreSQL whose statements wait on a lock that another server's stuck transaction holds
 * (here a connection of the test's, holding a thread's row): before, each such request kept one of the
 * server's 10 pool connections until the lock went, and ten of them stalled the server for every
 * client. Now each gives up at `lock_timeout` with a line saying so, and the pool serves the others.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { timedOutText } from 'forum-protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../../scripts/embedded-postgres.mjs';
import { startForumServer, type ForumServer } from '../src/forum-server.js';
import { rawClient, rawLogin, type RawClient } from './raw-client.js';

/** Longer than the default limits (a lock wait 2 s, a row's waiters two waits): a request still waiting then was not given up. */
const HUNG_MS = 6_000;

/** Resolves once `n` statements wait for a lock in the database (or throws after 5 s). */
const untilWaiting = async (sql: postgres.Sql, n: number): Promise<void> => {
  const deadline = performance.now() + 5_000;
  for (;;) {
    const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted`;
    if ((row?.n ?? 0) >= n) return;
    if (performance.now() > deadline) throw new Error(`${row?.n ?? 0} statements wait for a lock, not ${n}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('a forum-server on PostgreSQL behind a lock held by a stuck peer', () => {
  let pg: EmbeddedPostgresHandle | undefined;
  let server: ForumServer | undefined;
  const clients: RawClient[] = [];
  let dir = '';

  beforeAll(async () => {
    pg = await startEmbeddedPostgres();
    dir = await mkdtemp(join(tmpdir(), 'forum-pg-timeouts-'));
    server = await startForumServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: dir,
      identityFile: join(dir, 'identity'),
      databaseUrl: pg.url,
      maxDataBytes: 1024 * 1024,
      idleTimeoutMs: 30_000,
      transferPort: 0,
      log: () => undefined,
      warn: () => undefined,
    });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await server?.close();
    await pg?.stop();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const login = async (name: string, i: number): Promise<RawClient> => {
    if (server === undefined) throw new Error('not started');
    // One host each: the account creations of one host are limited (10 in 10 minutes).
    const c = await rawClient(server.udpPort, { localAddress: `127.0.0.${60 + i}` });
    clients.push(c);
    expect((await rawLogin(c, name, 'pw')).lines).toEqual(['Welcome to the forum']);
    return c;
  };

  it("ten MSGs to a thread whose row a stuck peer holds are each answered with the timeout's line, and an honest MSG to another thread is served", async () => {
    if (pg === undefined) throw new Error('not started');
    const hostile = await Promise.all(Array.from({ length: 10 }, (_, i) => login(`h${i}`, i)));
    const honest = await login('honest', 10);
    expect((await honest.request('c1', 'CRT', ['t'])).lines).toEqual(['Thread t created']);
    expect((await honest.request('c2', 'CRT', ['other'])).lines).toEqual(['Thread other created']);

    const peer = postgres(pg.url, { max: 1, onnotice: () => undefined });
    const watcher = postgres(pg.url, { max: 1, onnotice: () => undefined });
    let release = (): void => undefined;
    let held = (): void => undefined;
    const isHeld = new Promise<void>((resolve) => (held = resolve));
    const holding = peer.begin(async (tx) => {
      await tx`SELECT 1 FROM threads WHERE title = 't' FOR UPDATE`;
      held();
      await new Promise<void>((resolve) => (release = resolve));
    });
    try {
      await isHeld;
      const started = performance.now();
      const timed = <A>(p: Promise<A>): Promise<{ readonly value: A; readonly ms: number } | 'still waiting'> =>
        Promise.race([p.then((value) => ({ value, ms: performance.now() - started })), new Promise<'still waiting'>((r) => setTimeout(() => r('still waiting'), HUNG_MS))]);
      const stuck = hostile.map((c, i) => timed(c.request(`m${i}`, 'MSG', ['t', 'held'])));
      // Sent once the ten wait for the row in the database (each holding a pool connection meanwhile).
      await untilWaiting(watcher, 10);
      const served = await timed(honest.request('m', 'MSG', ['other', 'fine']));
      const answers = await Promise.all(stuck);
      // Before: all 'still waiting' (the ten held the pool until the lock went; the honest MSG waited behind them).
      expect(served).not.toBe('still waiting');
      expect(answers.map((a) => (a === 'still waiting' ? a : a.value.lines))).toEqual(Array.from({ length: 10 }, () => [timedOutText('command')]));
      if (served !== 'still waiting') {
        expect(served.value.lines).toEqual(['Message posted to other thread']);
        process.stderr.write(
          `pg-timeouts: ten MSGs behind a held row answered in ${answers.map((a) => (a === 'still waiting' ? a : a.ms.toFixed(0))).join(', ')} ms; honest MSG to another thread in ${served.ms.toFixed(0)} ms\n`,
        );
      }
    } finally {
      release();
      await holding;
      await peer.end();
      await watcher.end();
    }
    // Nothing of the ten was stored.
    expect((await honest.request('r', 'RDT', ['t'])).lines).toEqual(['Thread t is empty']);
  }, 30_000);
});
