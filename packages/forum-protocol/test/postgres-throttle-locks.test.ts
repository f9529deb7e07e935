/**
 * forum_limit_reserve and forum_limit_settle on the same keys at once, after a step of the clock back left
 * rows dated in the future (migration 9 redates them under the keys' locks). Settle took no lock of the keys
 * (migration 6): it and the redating UPDATE locked the same rows in different orders, and one of the two was
 * ended after deadlock_timeout (a login refused with a store error, or its pending rows left until they expire).
 */
import type postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 2 });

/** The caller's clock (`now_ms`); the rows are dated an hour after it, as a step back of an hour leaves them. */
const NOW = 10_000_000;
const LATER = NOW + 3_600_000;
const WINDOW = 60_000;

type Conn = postgres.ReservedSql;

interface Event {
  readonly attempt: string;
  readonly log: string;
  readonly at: string;
  readonly expires_at: string;
  readonly pending: boolean;
}

const pidOf = async (c: Conn): Promise<number> => (await c<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]?.pid ?? 0;

/** Polls (every 10 ms, for at most 20 s) until `holds`: a wait for the database to reach a state, not for time. */
const until = async (what: string, holds: () => Promise<boolean>): Promise<void> => {
  const deadline = Date.now() + 20_000;
  while (!(await holds())) {
    if (Date.now() > deadline) throw new Error(`still not ${what} after 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

const errorCode = (e: unknown): string => (typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : '');

const blockersOf = async (sql: postgres.Sql, pid: number): Promise<readonly number[]> =>
  (await sql<{ b: number[] }[]>`SELECT pg_blocking_pids(${pid}::integer) AS b`)[0]?.b ?? [];

describe('login throttle: reserve and settle on the same keys after a step of the clock back', () => {
  it('a settle that forgets failures and a reserve redating them, locking rows in opposite orders, both go through', async () => {
    const store = await pg.openStore({ maxConnections: 8 });
    const sql = store.sql;
    // Attempt -1: a counted failure of ann's; attempt -2: ann's login in flight, its two rows pending (the
    // sequence numbers attempts from 1). In the heap and in the reserve's list the failures come first: the
    // redating UPDATE locks attempt -1's row first.
    await sql`INSERT INTO limit_events (attempt, log, key, at, expires_at, pending) VALUES
      (-1, 'login-failures', 'ann', ${LATER}, ${LATER + WINDOW}, false),
      (-2, 'login-failures', 'ann', ${LATER}, ${LATER + WINDOW}, true),
      (-2, 'login-checks', 'ann', ${LATER}, ${LATER + WINDOW}, true)`;
    const [hold0, hold1, settler, reserver] = await Promise.all([sql.reserve(), sql.reserve(), sql.reserve(), sql.reserve()]);
    if (hold0 === undefined || hold1 === undefined || settler === undefined || reserver === undefined) throw new Error('no connection');
    try {
      const [settlerPid, reserverPid] = await Promise.all([pidOf(settler), pidOf(reserver)]);
      // Two transactions hold one row each, so that each function stops where the other can come between.
      await hold0`BEGIN`;
      await hold0`SELECT 1 FROM limit_events WHERE attempt = -2 AND log = 'login-checks' FOR UPDATE`;
      await hold1`BEGIN`;
      await hold1`SELECT 1 FROM limit_events WHERE attempt = -1 FOR UPDATE`;
      // Attempt -2's right password: its check counted, ann's failures forgotten. Stops at its check row (hold0).
      const settled = settler`SELECT forum_limit_settle(-2, ${['login-checks']}::text[], 'login-failures', 'ann')`.then(() => 'settled');
      await until('settle waiting', async () => (await blockersOf(sql, settlerPid)).length > 0);
      // ann's next login. Before: it locked attempt -1's failure row first, and stopped there (hold1).
      const reserved = reserver<{ attempt: string | null }[]>`
        SELECT attempt FROM forum_limit_reserve(${['login-failures', 'login-checks']}::text[], ${['ann', 'ann']}::text[], ${[5, 15]}::integer[],
          ${[WINDOW, WINDOW]}::bigint[], ${[0, 1]}::integer[], ${NOW}::bigint)`.then((rows) => rows[0]?.attempt ?? null);
      await until('reserve waiting', async () => (await blockersOf(sql, reserverPid)).length > 0);
      // Settle goes on to the failures it forgets, attempt -1's among them.
      await hold0`COMMIT`;
      await until('settle waiting for the failures', async () => (await blockersOf(sql, settlerPid)).length > 0);
      // Before: the reserve took attempt -1's row, then waited for attempt -2's, which settle held while
      // waiting for attempt -1's: a deadlock, one of the two ended with 40P01.
      await hold1`COMMIT`;
      const [s, r] = await Promise.allSettled([settled, reserved]);
      const outcome = (p: PromiseSettledResult<unknown>): string => (p.status === 'fulfilled' ? p.status : `${String(p.reason)} (${errorCode(p.reason)})`);
      expect([outcome(s), outcome(r)]).toEqual(['fulfilled', 'fulfilled']);
      const attempt = r.status === 'fulfilled' ? r.value : null;
      expect(attempt).not.toBeNull();
      // One after the other: ann's failures forgotten, attempt -2's check counted and redated to the clock's
      // reading, the new attempt's rows pending from it.
      const rows = await sql<Event[]>`SELECT attempt::text, log, at::text, expires_at::text, pending FROM limit_events ORDER BY attempt, log`;
      expect(rows).toEqual([
        { attempt: '-2', log: 'login-checks', at: `${NOW}`, expires_at: `${NOW + WINDOW}`, pending: false },
        { attempt: attempt, log: 'login-checks', at: `${NOW}`, expires_at: `${NOW + WINDOW}`, pending: true },
        { attempt: attempt, log: 'login-failures', at: `${NOW}`, expires_at: `${NOW + WINDOW}`, pending: true },
      ]);
    } finally {
      for (const c of [hold0, hold1, settler, reserver]) c.release();
    }
  });

  it('a key listed twice with different windows is redated to the longer one, in either order', async () => {
    const store = await pg.openStore();
    const sql = store.sql;
    for (const windows of [
      [WINDOW, 10 * WINDOW],
      [10 * WINDOW, WINDOW],
    ]) {
      await sql`DELETE FROM limit_events`;
      await sql`INSERT INTO limit_events (attempt, log, key, at, expires_at, pending) VALUES (-1, 'login-failures', 'ann', ${LATER}, ${LATER + WINDOW}, false)`;
      // Full (one row allowed): nothing inserted, the row only redated.
      const rows = await sql<{ attempt: string | null; blocked_group: number | null }[]>`
        SELECT attempt, blocked_group FROM forum_limit_reserve(${['login-failures', 'login-failures']}::text[], ${['ann', 'ann']}::text[], ${[1, 1]}::integer[],
          ${windows}::bigint[], ${[0, 0]}::integer[], ${NOW}::bigint)`;
      expect(rows).toEqual([{ attempt: null, blocked_group: 0 }]);
      // The shorter window's expiry would let the sweep take a row the longer window still counts.
      expect(await sql`SELECT at::text, expires_at::text FROM limit_events`).toEqual([{ at: `${NOW}`, expires_at: `${NOW + 10 * WINDOW}` }]);
    }
  });
});
