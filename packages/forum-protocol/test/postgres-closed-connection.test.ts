/**
 * postgres.js (with patches/postgres@3.4.9.patch) when the database ends a connection that is still busy:
 * an end() of the pool asked for meanwhile returns once it closes, not at its timeout (or never), and a
 * cursor whose callback still runs then fails without throwing anything later into the process.
 */
import { connect, type Socket } from 'node:net';
import postgres, { type Sql } from 'postgres';
import { describe, expect, it, vi } from 'vitest';
import { usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 1 });

/**
 * A pool of one connection of its own (no store), ended after the file's tests. `socket` (postgres.js's,
 * not in its types) makes each connection's socket.
 */
const pool = (options: postgres.Options<Record<string, postgres.PostgresType>> & { readonly socket?: () => Socket } = {}): Sql => pg.connect(options);

/** Waits until the backend `pid` runs `pg_sleep` (seen by `admin`): the statement is in flight there. */
const sleeping = async (admin: Sql, pid: number): Promise<void> => {
  await vi.waitFor(
    async () => {
      const rows = await admin<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ${pid} AND state = 'active' AND query LIKE '%pg_sleep%'`;
      expect(rows[0]?.n).toBe(1);
    },
    { timeout: 5_000, interval: 20 },
  );
};

/** Ends the backend `pid` as an administrator or a fast shutdown would (57P01, then the connection closes). */
const terminate = async (admin: Sql, pid: number): Promise<void> => {
  expect(await admin`SELECT pg_terminate_backend(${pid}) AS ok`).toEqual([{ ok: true }]);
};

describe('postgres.js: a pool ending while a statement runs, whose connection the database then ends', () => {
  it("a store's close() returns once the connection of its transaction is ended, not at its 5 s timeout", async () => {
    const store = await pg.openStore();
    const admin = pool();
    let pid = 0;
    const running = store.sql
      .begin(async (tx) => {
        pid = (await tx<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]?.pid ?? 0;
        return tx`SELECT pg_sleep(30)`;
      })
      .then(
        () => 'answered',
        (e: unknown) => (e as { code?: string }).code,
      );
    await vi.waitFor(() => expect(pid).not.toBe(0));
    await sleeping(admin, pid);
    const started = performance.now();
    const closing = store.close();
    await terminate(admin, pid);
    expect(await running).toBe('57P01');
    await closing;
    // Before: 5,0xx ms. The end() asked for during the statement waited for its ReadyForQuery, which the closed
    // connection never reads, until the store's 5 s timeout destroyed the pool. Half that is far from both.
    expect(performance.now() - started).toBeLessThan(2_500);
  });

  it('an end() without a timeout returns (before, never)', async () => {
    const sql = pool();
    const admin = pool();
    const pid = (await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]?.pid ?? 0;
    const running = sql`SELECT pg_sleep(30)`.then(
      () => 'answered',
      (e: unknown) => (e as { code?: string }).code,
    );
    await sleeping(admin, pid);
    const ending = sql.end().then(() => 'ended');
    await terminate(admin, pid);
    expect(await running).toBe('57P01');
    // A bound only for the old code's failure (it waited for good); ended, it answers in milliseconds.
    let bound: NodeJS.Timeout | undefined;
    const stillWaiting = new Promise<string>((resolve) => (bound = setTimeout(resolve, 3_000, 'still waiting')));
    expect(await Promise.race([ending, stillWaiting])).toBe('ended');
    clearTimeout(bound);
  });
});

describe('postgres.js: a cursor whose callback still runs when the database ends its connection', () => {
  it('fails with the cause, throws nothing once the callback returns, and the pool serves the next statement', async () => {
    let onClose: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => (onClose = resolve));
    const sql = pool({ onclose: () => onClose() });
    const admin = pool();
    const pid = (await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]?.pid ?? 0;
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      let entered: () => void = () => undefined;
      const inCallback = new Promise<void>((resolve) => (entered = resolve));
      let letGo: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (letGo = resolve));
      let batches = 0;
      const cursor = sql`SELECT generate_series(1, 100) AS n`
        .cursor(10, async () => {
          batches += 1;
          entered();
          await held;
        })
        .then(
          () => 'completed',
          (e: unknown) => (e as { code?: string }).code,
        );
      await inCallback;
      await terminate(admin, pid);
      expect(await cursor).toBe('57P01');
      // The socket's error may fail the cursor a moment before its connection is closed: the callback returns after
      // the close. Before, postgres.js then read the connection's statement, forgotten (null) by the close, and threw
      // from a promise nobody awaits (an unhandled rejection, which ends the process).
      await closed;
      letGo();
      // Its continuation and the rejection's report run before the next turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      expect(batches).toBe(1);
      expect(await sql`SELECT 1 AS one`).toEqual([{ one: 1 }]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('postgres.js: a connection closed with a write of its own still to be sent', () => {
  it('connects again for the next statement and sends it, not its startup held behind the write lost with the old socket', async () => {
    const target = new URL(pg.url());
    const sockets: Socket[] = [];
    // Its sockets made here, so that the test can destroy one: postgres.js writes to them as to its own.
    const sql = pool({
      connect_timeout: 2,
      socket: () => {
        const s = connect(Number(target.port), target.hostname);
        sockets.push(s);
        return s;
      },
    });
    expect(await sql`SELECT 1 AS one`).toEqual([{ one: 1 }]);
    // A statement given to the connection in the same turn of the event loop as its socket is destroyed: its
    // bytes wait for the next turn (postgres.js sends small writes together then), and the socket's close
    // comes first, at the end of this one.
    const lost = await new Promise<string | undefined>((resolve) => {
      setImmediate(() => {
        sockets[0]?.destroy();
        sql`SELECT 2`.then(
          () => resolve('answered'),
          (e: unknown) => resolve((e as { code?: string }).code),
        );
      });
    });
    expect(lost).toBe('CONNECTION_CLOSED');
    // Before: the close cancelled the pending send but kept it as pending, so the new connection's startup
    // was never sent: the statement failed with CONNECT_TIMEOUT at connect_timeout (2 s here, 30 s by
    // default), and so did every reconnection's after it.
    const started = performance.now();
    expect(await sql`SELECT 3 AS three`.then((rows) => rows, (e: unknown) => (e as { code?: string }).code)).toEqual([{ three: 3 }]);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(sockets).toHaveLength(2);
  });
});

describe('postgres.js: a statement given to a connection between its socket error and its close', () => {
  it('fails with the close, not dropped unsettled (or answered with no rows by the next session)', async () => {
    const target = new URL(pg.url());
    const sockets: Socket[] = [];
    let onClose: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => (onClose = resolve));
    const sql = pool({
      onclose: () => onClose(),
      socket: () => {
        const s = connect(Number(target.port), target.hostname);
        sockets.push(s);
        return s;
      },
    });
    expect(await sql`SELECT 1 AS one`).toEqual([{ one: 1 }]);
    // The socket fails (a reset) while the connection is idle: its error comes at once, its close at the end of
    // this turn of the event loop, and a statement given to the pool meanwhile goes to that connection.
    let outcome: string | undefined;
    setImmediate(() => {
      sockets[0]?.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
      sql<{ two: number }[]>`SELECT 2 AS two`.then(
        (rows) => (outcome = `answered ${JSON.stringify(rows)}`),
        (e: unknown) => (outcome = (e as { code?: string }).code),
      );
    });
    await closed;
    // Settled by the close, so its reaction has run by the next turn.
    await new Promise((resolve) => setImmediate(resolve));
    // Before: undefined. The close failed what ran only when the socket had no error (with one, the error had
    // failed what ran then, not what came after), and forgot it unsettled for good (postgres.js as patched
    // before c2f1dcf kept it as running, for the next session's first answer to settle).
    expect(outcome).toBe('CONNECTION_CLOSED');
    expect(await sql`SELECT 3 AS three`).toEqual([{ three: 3 }]);
  });
});
