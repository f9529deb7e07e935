import type postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { CREATE_SLOTS, createSlot, lockForCreate } from '../src/postgres-store/postgres-create-thread.js';
import { lines, run } from './helpers.js';
import { backToSchema, schemaOf, usePostgres } from './postgres-harness.js';
import { prng } from './seeded-random.js';

const pg = usePostgres({ migrated: 6 });

const FORUM_FULL = /^The forum is full/;
const TOO_MANY = /^You have created too many threads/;

/** The counters CRT reads, and the same counted from the threads themselves: equal when the counters are right. */
const countsAndRecount = async (sql: postgres.Sql): Promise<{ kept: unknown; recounted: unknown }> => {
  const [kept, recounted] = await Promise.all([
    sql`SELECT (SELECT json_agg(json_build_array(stripe, threads) ORDER BY stripe) FROM thread_counts WHERE threads <> 0) AS stripes,
               (SELECT json_agg(json_build_array(creator, threads) ORDER BY creator) FROM creator_thread_counts WHERE threads <> 0) AS creators`,
    sql`SELECT (SELECT json_agg(json_build_array(stripe, n) ORDER BY stripe) FROM (SELECT hashtext(creator) & 63 AS stripe, count(*)::int AS n FROM threads GROUP BY 1) s) AS stripes,
               (SELECT json_agg(json_build_array(creator, n) ORDER BY creator) FROM (SELECT creator, count(*)::int AS n FROM threads GROUP BY 1) c) AS creators`,
  ]);
  return { kept: kept[0], recounted: recounted[0] };
};

const threadCount = async (sql: postgres.Sql): Promise<number> => (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM threads`)[0]?.n ?? -1;

describe('PostgreSQL thread counts (CRT limits)', () => {
  it('CRT takes the counts from the counters, not from counting the threads', async () => {
    const a = await pg.openStore({ threadLimits: { maxThreads: 100, maxThreadsPerUser: 5 } });
    await run(a, 'alice', 'CRT one');
    // Only the counters say alice is at her limit: a CRT that counted the threads would create.
    await a.sql`UPDATE creator_thread_counts SET threads = 5 WHERE creator = 'alice'`;
    expect((await lines(run(a, 'alice', 'CRT two')))[0]).toMatch(TOO_MANY);
    // And only they say the forum is full.
    await a.sql`UPDATE thread_counts SET threads = threads + 99 WHERE stripe = 0`;
    expect((await lines(run(a, 'bob', 'CRT three')))[0]).toMatch(FORUM_FULL);
    expect(await lines(run(a, 'bob', 'LST'))).toEqual(['The list of active threads:', 'one']);
  });

  it('one counter row per CRT slot, so that CRTs of two slots never wait for one row', async () => {
    const a = await pg.openStore();
    expect(await a.sql`SELECT count(*)::int AS n, min(stripe) AS lo, max(stripe) AS hi FROM thread_counts`).toEqual([{ n: CREATE_SLOTS, lo: 0, hi: CREATE_SLOTS - 1 }]);
  });

  it("a CRT in flight, its counters written, holds back no other slot's CRT", async () => {
    const a = await pg.openStore();
    const b = await pg.openPeer(a);
    expect(await createSlot(a.sql, 'alice')).not.toBe(await createSlot(a.sql, 'bob'));
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let inserted = (): void => undefined;
    const isInserted = new Promise<void>((resolve) => (inserted = resolve));
    // Alice's CRT as a server runs it, stopped before its commit: her counter rows are locked by the trigger.
    const held = a.sql.begin(async (tx) => {
      await lockForCreate(tx, 'alice', 'shared');
      await tx`INSERT INTO threads (title, creator) VALUES ('held', 'alice')`;
      inserted();
      await released;
    });
    await isInserted;
    try {
      const bob = lines(run(b, 'bob', 'CRT free'));
      const timeout = new Promise<string[]>((resolve) => setTimeout(() => resolve(['still waiting after 10 s']), 10_000));
      expect(await Promise.race([bob, timeout])).toEqual(['Thread free created']);
    } finally {
      release();
      await held;
    }
    const { kept, recounted } = await countsAndRecount(a.sql);
    expect(kept).toEqual(recounted);
  });

  it('CRTs and RMVs from three servers at once never take the forum or an account past its limit, and the counters stay a recount', async () => {
    const threadLimits = { maxThreads: 70, maxThreadsPerUser: 9 };
    const first = await pg.openStore({ threadLimits });
    const schema = await schemaOf(first.sql);
    const servers = [first, await pg.openPeer(schema, { threadLimits }), await pg.openPeer(schema, { threadLimits })];
    const random = prng(5);
    const users = Array.from({ length: 12 }, (_, i) => `u${i}`);
    let made = 0;
    for (let round = 0; round < 8; round++) {
      const existing = await first.sql<{ title: string; creator: string }[]>`SELECT title, creator FROM threads`;
      const commands = Array.from({ length: 60 }, (_, i) => {
        const server = servers[i % servers.length] ?? first;
        const victim = existing[Math.floor(random() * existing.length)];
        if (random() < 0.3 && victim !== undefined) return run(server, victim.creator, `RMV ${victim.title}`);
        return run(server, users[Math.floor(random() * users.length)] ?? 'u0', `CRT r${round}t${made++}`);
      });
      await Promise.all(commands);
      expect(await threadCount(first.sql)).toBeLessThanOrEqual(threadLimits.maxThreads);
      const perUser = await first.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM threads GROUP BY creator ORDER BY 1 DESC LIMIT 1`;
      expect(perUser[0]?.n ?? 0).toBeLessThanOrEqual(threadLimits.maxThreadsPerUser);
      const { kept, recounted } = await countsAndRecount(first.sql);
      expect(kept).toEqual(recounted);
    }
    // Then many accounts at once take exactly the room left, and no more.
    const room = threadLimits.maxThreads - (await threadCount(first.sql));
    const burst = await Promise.all(Array.from({ length: 150 }, (_, i) => lines(run(servers[i % servers.length] ?? first, `v${i}`, `CRT last${i}`))));
    expect(burst.filter((r) => r[0]?.endsWith(' created'))).toHaveLength(room);
    expect(await threadCount(first.sql)).toBe(threadLimits.maxThreads);
  });

  it('threads inserted and deleted by a server that does not know the counters (schema 3) are counted all the same', async () => {
    const a = await pg.openStore({ threadLimits: { maxThreadsPerUser: 3 } });
    // What a schema 3 server's CRT and RMV write: the thread row, no counter.
    await a.sql.begin(async (tx) => {
      await lockForCreate(tx, 'alice', 'shared');
      await tx`INSERT INTO threads (title, creator) VALUES ('x1', 'alice'), ('x2', 'alice'), ('x3', 'alice'), ('y1', 'bob')`;
    });
    expect((await lines(run(a, 'alice', 'CRT x4')))[0]).toMatch(TOO_MANY);
    await a.sql`DELETE FROM threads WHERE title = 'x1'`;
    expect(await lines(run(a, 'alice', 'CRT x4'))).toEqual(['Thread x4 created']);
    const { kept, recounted } = await countsAndRecount(a.sql);
    expect(kept).toEqual(recounted);
  });

  it('the migration counts the threads a schema 3 server left, per slot and per account', async () => {
    const a = await pg.openStore({ threadLimits: { maxThreadsPerUser: 40 } });
    const schema = await schemaOf(a.sql);
    // Back to schema 3, as a server of that version left it, with threads of 30 accounts.
    await backToSchema(a.sql, 3);
    await a.sql`INSERT INTO threads (title, creator) SELECT 'old' || g, 'user' || (g % 30) FROM generate_series(1, 1000) g`;
    const b = await pg.openPeer(schema, { threadLimits: { maxThreadsPerUser: 40 } });
    const { kept, recounted } = await countsAndRecount(b.sql);
    expect(kept).toEqual(recounted);
    // user1 has 34 threads (1000 / 30, rounded up for the first ten): six more, then no more.
    const crts = await Promise.all(Array.from({ length: 9 }, (_, i) => lines(run(b, 'user1', `CRT more${i}`))));
    expect(crts.filter((r) => r[0]?.endsWith(' created'))).toHaveLength(6);
  });
});
