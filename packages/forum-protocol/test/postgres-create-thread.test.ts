import type postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { CREATE_LOCK_CLASS, CREATE_SLOTS, createSlot, GATE_KEY_OID, lockForCreate, type CreateMode } from '../src/postgres-store/postgres-create-thread.js';
import { lines, run } from './helpers.js';
import { schemaOf, usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 4 });

/** A raw connection (not a store) for holding a CRT's locks, closed after the file. */
const rawConnection = (): postgres.Sql => pg.connect({ max: 2 });

/** Holds the locks a CRT by `creator` holds, in an open transaction, until `release` is called. */
const holdCreateLocks = async (sql: postgres.Sql, creator: string, mode: CreateMode): Promise<{ release(): Promise<void> }> => {
  let release = (): void => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked = (): void => undefined;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const done = sql.begin(async (tx) => {
    await lockForCreate(tx, creator, mode);
    locked();
    await released;
  });
  await isLocked;
  return {
    release: async () => {
      release();
      await done;
    },
  };
};

/** `p`, or a rejection naming what `p` was waiting for after `ms`: the test fails instead of hanging. */
const within = <A>(p: Promise<A>, ms: number, what: string): Promise<A> =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still waiting after ${ms} ms: ${what}`)), ms))]);

// pg_locks shows a two-key advisory lock's keys as oids: the gate's key, -1, as 2^32 - 1.
const GATE_OID = GATE_KEY_OID;

/** Resolves once a session waits for CRT's lock `key` (a slot, or {@link GATE_OID}). */
const waitingFor = async (sql: postgres.Sql, key: number): Promise<void> => {
  for (;;) {
    const rows = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM pg_locks
      WHERE locktype = 'advisory' AND NOT granted AND classid = ${CREATE_LOCK_CLASS} AND objid = ${key} AND objsubid = 2`;
    if ((rows[0]?.n ?? 0) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('PostgreSQL CRT locking', () => {
  it("an account's CRT in flight holds back that account's next CRT, on any server, and no other account's", async () => {
    const a = await pg.openStore();
    const b = await pg.openPeer(a);
    const raw = rawConnection();
    const [alice, bob] = [await createSlot(raw, 'alice'), await createSlot(raw, 'bob')];
    expect(alice).not.toBe(bob);
    const held = await holdCreateLocks(raw, 'alice', 'shared');
    try {
      // Before, every CRT took one forum-wide lock: these waited for alice's.
      expect(await within(lines(run(a, 'bob', 'CRT b1')), 10_000, "bob's CRT on server a")).toEqual(['Thread b1 created']);
      expect(await within(lines(run(b, 'bob', 'CRT b2')), 10_000, "bob's CRT on server b")).toEqual(['Thread b2 created']);
      const aliceCrt = lines(run(b, 'alice', 'CRT a1'));
      await within(waitingFor(raw, alice), 10_000, "alice's CRT to wait for her slot");
      await held.release();
      expect(await aliceCrt).toEqual(['Thread a1 created']);
    } finally {
      await held.release();
    }
  });

  it('near the forum limit a CRT waits for every CRT in flight', async () => {
    const a = await pg.openStore({ threadLimits: { maxThreads: CREATE_SLOTS - 1 } });
    const raw = rawConnection();
    const held = await holdCreateLocks(raw, 'alice', 'shared');
    try {
      const bobCrt = lines(run(a, 'bob', 'CRT b1'));
      // Bob's first try finds the forum within CREATE_SLOTS of its limit and takes the gate exclusively: it waits for alice's.
      await within(waitingFor(raw, GATE_OID), 10_000, "bob's CRT to wait for the gate");
      await held.release();
      expect(await bobCrt).toEqual(['Thread b1 created']);
    } finally {
      await held.release();
    }
  });

  it("an account's CRTs on several servers at once create exactly its limit", async () => {
    const threadLimits = { maxThreadsPerUser: 4 };
    const first = await pg.openStore({ threadLimits });
    const schema = await schemaOf(first.sql);
    const servers = [first, await pg.openPeer(schema, { threadLimits }), await pg.openPeer(schema, { threadLimits })];
    const replies = await Promise.all(Array.from({ length: 36 }, (_, i) => lines(run(servers[i % servers.length] ?? first, 'alice', `CRT t${i}`))));
    expect(replies.filter((r) => r[0]?.endsWith(' created'))).toHaveLength(4);
    expect(replies.filter((r) => r[0]?.startsWith('You have created too many threads'))).toHaveLength(32);
  });

  it('CRTs by many accounts on several servers at once fill the forum exactly to its limit, through and past the last CREATE_SLOTS', async () => {
    const threadLimits = { maxThreads: CREATE_SLOTS + 24 };
    const first = await pg.openStore({ threadLimits });
    const schema = await schemaOf(first.sql);
    const servers = [first, ...(await Promise.all([1, 2, 3].map(() => pg.openPeer(schema, { threadLimits }))))];
    const attempts = Array.from({ length: 3 * threadLimits.maxThreads }, (_, i) => ({ server: servers[i % servers.length] ?? first, user: `u${i % 50}`, title: `t${i}` }));
    const replies = await Promise.all(attempts.map((t) => lines(run(t.server, t.user, `CRT ${t.title}`))));
    expect(replies.filter((r) => r[0]?.endsWith(' created'))).toHaveLength(threadLimits.maxThreads);
    expect(replies.filter((r) => r[0]?.startsWith('The forum is full'))).toHaveLength(2 * threadLimits.maxThreads);
    expect(await lines(run(first, 'alice', 'LST'))).toHaveLength(1 + threadLimits.maxThreads);
  });
});
