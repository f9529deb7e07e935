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
import { cancelledText, terminatedText, timedOutText } from 'forum-protocol';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../../scripts/embedded-postgres.mjs';
import { startForumServer, type ForumServer } from '../src/forum-server.js';
import { COMMAND_DEADLINE_MS } from '../src/server-defaults.js';
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

/**
 * A forum-server (in this process) on an embedded PostgreSQL of its own, both started before the calling block's tests
 * and stopped after them; `login` logs a raw client in from a loopback address of its own.
 */
const serverOnPostgres = () => {
  let pg: EmbeddedPostgresHandle | undefined;
  let server: ForumServer | undefined;
  const clients: RawClient[] = [];
  const logs: string[] = [];
  const warnings: string[] = [];
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
      log: (line) => void logs.push(line),
      warn: (line) => void warnings.push(line),
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

  return {
    pg: (): EmbeddedPostgresHandle => {
      if (pg === undefined) throw new Error('not started');
      return pg;
    },
    logs,
    warnings,
    login,
  };
};

/** Makes each statement of `event` on `table` take `seconds` (a slow disk, a busy database), by a statement trigger; returns its removal. */
const slowDown = async (sql: postgres.Sql, table: string, event: 'INSERT' | 'UPDATE', seconds: number): Promise<() => Promise<void>> => {
  const fn = `slow_${table}_${event.toLowerCase()}`;
  await sql.unsafe(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(${seconds}); RETURN NULL; END $$`);
  await sql.unsafe(`CREATE TRIGGER ${fn} BEFORE ${event} ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
  return async () => {
    await sql.unsafe(`DROP TRIGGER ${fn} ON ${table}; DROP FUNCTION ${fn}()`);
  };
};

/**
 * Makes each statement of `event` on `table` wait for advisory lock `key`, which `sql`'s one connection takes
 * first (held, not slowed by a sleep: at load ~11 a 2 s sleep ran out before the cancel landed, the CI failure
 * postgres-command-deadline.test.ts had met before); returns the lock's release and the trigger's removal.
 */
const holdOn = async (sql: postgres.Sql, table: string, event: 'INSERT' | 'UPDATE', key: number): Promise<() => Promise<void>> => {
  const fn = `held_${table}_${event.toLowerCase()}`;
  await sql`SELECT pg_advisory_lock(${key})`;
  await sql.unsafe(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(${key}); RETURN NULL; END $$`);
  await sql.unsafe(`CREATE TRIGGER ${fn} BEFORE ${event} ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
  return async () => {
    await sql`SELECT pg_advisory_unlock(${key})`;
    await sql.unsafe(`DROP TRIGGER ${fn} ON ${table}; DROP FUNCTION ${fn}()`);
  };
};

/**
 * The backend running a statement like `like` (waited for): running, not parsed and waiting for the client's
 * Bind (`ClientRead`, shown as active too), where a cancel is dropped.
 */
const backendOf = async (sql: postgres.Sql, like: string): Promise<number> => {
  const deadline = performance.now() + 5_000;
  for (;;) {
    const [row] = await sql<{ pid: number }[]>`
      SELECT pid FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE ${like}
        AND wait_event_type IS DISTINCT FROM 'Client'`;
    if (row !== undefined) return row.pid;
    if (performance.now() > deadline) throw new Error(`no statement like ${like} runs`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

// Two servers, each on a PostgreSQL of its own, their blocks side by side (describe.concurrent), each block's tests one
// after another (they share its server and tables): the MSG slowed past the command's deadline (6 s of waiting) beside
// the other three (4 s), not after them.
describe('a forum-server on PostgreSQL behind a lock held by a stuck peer', () => {
  describe.concurrent('a server of its own', () => {
    const f = serverOnPostgres();
    const { logs, warnings, login } = f;

    it.sequential("ten MSGs to a thread whose row a stuck peer holds are each answered with the timeout's line, and an honest MSG to another thread is served", async () => {
      const pg = f.pg();
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

    it.sequential('a statement an administrator cancels (pg_cancel_backend) or whose connection it ends (pg_terminate_backend) is answered with a line of its own, logged, and the server serves on', async () => {
      const pg = f.pg();
      const bob = await login('admin', 21);
      expect((await bob.request('c', 'CRT', ['ended'])).lines).toEqual(['Thread ended created']);
      const sql = postgres(pg.url, { max: 1, onnotice: () => undefined });
      const undo = await holdOn(sql, 'entries', 'INSERT', 6161);
      try {
        const cancelled = bob.request('m1', 'MSG', ['ended', 'one']);
        await sql`SELECT pg_cancel_backend(${await backendOf(sql, '%INSERT INTO entries%')})`;
        // Before: the timeout's line, as if the database had been slow.
        expect((await cancelled).lines).toEqual([cancelledText('command')]);
        expect(logs).toContain('Store error: a database administrator cancelled the statement (pg_cancel_backend): canceling statement due to user request');
        const terminated = bob.request('m2', 'MSG', ['ended', 'two']);
        await sql`SELECT pg_terminate_backend(${await backendOf(sql, '%INSERT INTO entries%')})`;
        // Before: the process ended on an uncaught TypeError in postgres.js (its rollback written to a closed socket).
        expect((await terminated).lines).toEqual([terminatedText('command')]);
        expect(logs).toContain("Store error: the database ended the server's connection (pg_terminate_backend, a shutdown): terminating connection due to administrator command");
      } finally {
        await undo();
        await sql.end();
      }
      // The pool serves on (a new connection for the one ended).
      expect((await bob.request('m3', 'MSG', ['ended', 'three'])).lines).toEqual(['Message posted to ended thread']);
      expect((await bob.request('r', 'RDT', ['ended'])).lines).toEqual(['1 admin: three']);
    }, 20_000);

    it.sequential("a sweep of removed uploads' chunks that the database refuses is logged as a warning and tried again, not dropped", async () => {
      const pg = f.pg();
      const sql = postgres(pg.url, { max: 1, onnotice: () => undefined });
      try {
        const carol = await login('carol', 30);
        expect((await carol.request('c', 'CRT', ['swept'])).lines).toEqual(['Thread swept created']);
        const [u] = await sql<{ id: string }[]>`
          INSERT INTO uploads (thread, filename, uploader, size, committed) VALUES ('swept', 'f', 'carol', 3, true) RETURNING id`;
        await sql`INSERT INTO upload_chunks (upload_id, seq, data) VALUES (${u?.id ?? '0'}, 0, '\\x010203'::bytea)`;
        // Every deletion of chunks refused (a disk gone read-only, say) until the test lets it.
        await sql`CREATE FUNCTION fail_delete() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'the disk is gone' USING ERRCODE = 'io_error'; END $$`;
        await sql`CREATE TRIGGER fail_delete BEFORE DELETE ON upload_chunks FOR EACH STATEMENT EXECUTE FUNCTION fail_delete()`;
        expect((await carol.request('r', 'RMV', ['swept'])).lines).toEqual(['Thread swept removed']);
        // Before: nothing said (the failure was dropped), the bytes counted until the next 60 s tick.
        await vi.waitFor(() => expect(warnings.some((w) => w.startsWith("Warning: the sweep of deleted uploads' chunks failed") && w.endsWith('the disk is gone'))).toBe(true), {
          timeout: 5_000,
          interval: 20,
        });
        await sql`DROP TRIGGER fail_delete ON upload_chunks`;
        await vi.waitFor(async () => expect(await sql`SELECT (SELECT count(*)::int FROM upload_chunks) AS chunks, (SELECT bytes::int FROM upload_bytes) AS bytes`).toEqual([{ chunks: 0, bytes: 0 }]), {
          timeout: 8_000,
          interval: 50,
        });
      } finally {
        await sql`DROP TRIGGER IF EXISTS fail_delete ON upload_chunks`;
        await sql.end({ timeout: 1 });
      }
    }, 20_000);
  });

  describe.concurrent('another server of its own', () => {
    const f = serverOnPostgres();
    const { login } = f;

    it.sequential("a MSG whose statements each stay under the limits but together pass the client's 8 s wait is answered at the command's deadline (6 s) with the timeout's line", async () => {
      const pg = f.pg();
      const alice = await login('deadline', 20);
      expect((await alice.request('c', 'CRT', ['slow'])).lines).toEqual(['Thread slow created']);
      const sql = postgres(pg.url, { max: 1, onnotice: () => undefined });
      // MSG: the line's insert, then the thread's size: 3.5 s each, under statement_timeout (5 s); 7 s together.
      const undo = [await slowDown(sql, 'entries', 'INSERT', 3.5), await slowDown(sql, 'threads', 'UPDATE', 3.5)];
      try {
        const started = performance.now();
        const reply = await alice.request('m', 'MSG', ['slow', 'late']);
        const ms = performance.now() - started;
        process.stderr.write(`pg-timeouts: a MSG of two 3.5 s statements answered in ${ms.toFixed(0)} ms\n`);
        // Before: 'Message posted to slow thread' after 7 s (the client, waiting 8 s, was near giving up).
        expect(reply.lines).toEqual([timedOutText('command')]);
        expect(ms).toBeGreaterThanOrEqual(COMMAND_DEADLINE_MS - 5);
        expect(ms).toBeLessThan(COMMAND_DEADLINE_MS + 1_000);
      } finally {
        for (const u of undo) await u();
        await sql.end();
      }
      expect((await alice.request('r', 'RDT', ['slow'])).lines).toEqual(['Thread slow is empty']);
    }, 20_000);
  });
});
