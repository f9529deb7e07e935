import * as E from 'fp-ts/lib/Either.js';
import type * as TE from 'fp-ts/lib/TaskEither.js';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { accountPolicy, type AccountPolicy, type PasswordVerdict, type RegisterVerdict, type ThrottleSlot } from '../src/index.js';
import { createPostgresThrottleCounts, SCHEMA_VERSION, type PostgresStore } from '../src/postgres.js';
import { backToSchema, schemaOf, usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 12 });

/** One "server": its store (a pool of its own) and its policy, counting in the database. */
interface Server {
  readonly store: PostgresStore;
  readonly policy: AccountPolicy;
}

/** `n` servers on one fresh forum, each with the default limits and its own pool; `clock`: whose time measures the windows. */
const servers = async (n: number, clock: 'database' | 'caller' = 'caller'): Promise<readonly Server[]> => {
  const first = await pg.openStore();
  const schema = await schemaOf(first.sql);
  const stores = [first, ...(await Promise.all(Array.from({ length: n - 1 }, () => pg.openPeer(schema))))];
  return stores.map((store) => ({ store, policy: accountPolicy({ counts: createPostgresThrottleCounts(store.sql, { clock }) }) }));
};

const verdictOf = async (s: Server, user: string, password: string, peer: string, now: number): Promise<PasswordVerdict> => {
  const r = await s.policy.verify(s.store, user, password, { peerAddress: peer, now })();
  if (E.isLeft(r)) throw new Error(`store error: ${JSON.stringify(r.left)}`);
  return r.right;
};

const registered = async (s: Server, user: string, peer: string, now: number): Promise<RegisterVerdict> => {
  const r = await s.policy.register(s.store, user, 'pw', { peerAddress: peer, now })();
  if (E.isLeft(r)) throw new Error(`store error: ${JSON.stringify(r.left)}`);
  return r.right;
};

const kindOf = (v: PasswordVerdict | RegisterVerdict): string => (typeof v === 'object' ? v.kind : v);

const T0 = 1_000_000;

describe('login throttle and account creation over several servers on one database', () => {
  it('wrong passwords of one account spread over three servers (and three hosts) are refused after 5 in all', async () => {
    const s = await servers(3);
    await s[0]?.store.createAccount({ username: 'ann', password: 'right' })();
    const answers: string[] = [];
    for (let i = 0; i < 9; i++) answers.push(kindOf(await verdictOf(s[i % 3] as Server, 'ann', 'guess', `192.0.2.${i % 3}:4000`, T0 + i)));
    expect(answers).toEqual(['wrong', 'wrong', 'wrong', 'wrong', 'wrong', 'throttled', 'throttled', 'throttled', 'throttled']);
    // The right password too, on any server, until the first failure leaves the window.
    expect(await verdictOf(s[1] as Server, 'ann', 'right', '198.51.100.7:1', T0 + 30_000)).toEqual({ kind: 'throttled', retryAfterMs: 30_000, cause: 'failures' });
    expect(await verdictOf(s[2] as Server, 'ann', 'right', '198.51.100.7:1', T0 + 60_000)).toBe('ok');
  });

  it("on the database's clock (the default), a server whose clock runs 2 minutes ahead does not expire the others' counts", async () => {
    // Each server's `now` as its own clock would give it: one on time, one 2 minutes ahead, one behind.
    // On the servers' clocks the fast one swept the rows the others still counted: 15 of 15 wrong passwords were checked.
    const s = await servers(3, 'database');
    await s[0]?.store.createAccount({ username: 'gus', password: 'right' })();
    const skew = [0, 120_000, -120_000];
    const answers: string[] = [];
    for (let i = 0; i < 15; i++) {
      answers.push(kindOf(await verdictOf(s[i % 3] as Server, 'gus', 'guess', `192.0.2.${i}:4000`, Date.now() + (skew[i % 3] ?? 0))));
    }
    expect(answers.filter((a) => a === 'wrong')).toHaveLength(5);
    expect(answers.slice(5).every((a) => a === 'throttled')).toBe(true);
  });

  it('30 wrong passwords at once over three servers: exactly 5 are checked', async () => {
    const s = await servers(3);
    await s[0]?.store.createAccount({ username: 'bob', password: 'right' })();
    const all = await Promise.all(Array.from({ length: 30 }, (_, i) => verdictOf(s[i % 3] as Server, 'bob', `guess${i}`, `192.0.2.${i}:4000`, T0)));
    expect(all.filter((v) => v === 'wrong')).toHaveLength(5);
    expect(all.filter((v) => kindOf(v) === 'throttled')).toHaveLength(25);
  });

  it('a right password clears the account failures on every server', async () => {
    const s = await servers(3);
    await s[0]?.store.createAccount({ username: 'cy', password: 'right' })();
    for (let i = 0; i < 4; i++) expect(await verdictOf(s[0] as Server, 'cy', 'guess', '192.0.2.1:1', T0 + i)).toBe('wrong');
    expect(await verdictOf(s[1] as Server, 'cy', 'right', '192.0.2.2:1', T0 + 10)).toBe('ok');
    for (let i = 0; i < 5; i++) expect(await verdictOf(s[2] as Server, 'cy', 'guess', '192.0.2.3:1', T0 + 20 + i)).toBe('wrong');
    // 5 failures since the right password: the account is throttled for them, on the first server too.
    expect(await verdictOf(s[0] as Server, 'cy', 'right', '192.0.2.4:1', T0 + 30)).toEqual({ kind: 'throttled', retryAfterMs: 59_990, cause: 'failures' });
  });

  it('one host creates 10 accounts over three servers, then is refused; 30 at once create exactly 10', async () => {
    const s = await servers(3);
    const one: string[] = [];
    for (let i = 0; i < 14; i++) one.push(kindOf(await registered(s[i % 3] as Server, `seq${i}`, `203.0.113.5:${5000 + i}`, T0 + i)));
    expect(one).toEqual([...Array<string>(10).fill('created'), ...Array<string>(4).fill('throttled')]);
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => registered(s[i % 3] as Server, `burst${i}`, `203.0.113.6:${5000 + i}`, T0)));
    expect(burst.filter((v) => v === 'created')).toHaveLength(10);
    expect(await (s[0] as Server).store.sql`SELECT count(*)::int AS n FROM accounts WHERE username LIKE 'burst%'`).toEqual([{ n: 10 }]);
  });

  it("an IPv6 /56's creations over three servers stop at 4 times a host's, a /48's at 16 times", async () => {
    const s = await servers(3);
    // 6 hosts (/64s) of one /56, 10 each: 40 created in all, not 60.
    const in56 = Array.from({ length: 60 }, (_, i) => ({ user: `a${i}`, peer: `[2001:db8:0:${i % 6}::1]:7000` }));
    const r56 = await Promise.all(in56.map((c, i) => registered(s[i % 3] as Server, c.user, c.peer, T0)));
    expect(r56.filter((v) => v === 'created')).toHaveLength(40);
    // 5 /56s of one /48 (5 × 40 = 200 allowed by the /56s): 160 created, the /48's limit.
    const in48 = Array.from({ length: 250 }, (_, i) => ({ user: `b${i}`, peer: `[2001:db8:1:${((i % 5) * 0x100 + (Math.floor(i / 5) % 10)).toString(16)}::1]:7000` }));
    const r48 = await Promise.all(in48.map((c, i) => registered(s[i % 3] as Server, c.user, c.peer, T0)));
    expect(r48.filter((v) => v === 'created')).toHaveLength(160);
  });

  it('keeps a key at most its limit of rows in a window, and sweeps the rows of windows passed', async () => {
    const s = await servers(2);
    await s[0]?.store.createAccount({ username: 'dee', password: 'right' })();
    for (let i = 0; i < 50; i++) await verdictOf(s[i % 2] as Server, 'dee', 'guess', '192.0.2.9:1', T0 + i);
    const sql = (s[0] as Server).store.sql;
    const rows = await sql<{ log: string; n: number }[]>`SELECT log, count(*)::int AS n FROM limit_events GROUP BY log ORDER BY log`;
    expect(rows).toEqual([
      { log: 'login-checks', n: 5 },
      { log: 'login-checks/1', n: 5 },
      { log: 'login-failures', n: 5 },
      { log: 'login-failures/1', n: 5 },
    ]);
    // A minute later, one attempt of anyone sweeps them (64 rows a call at most) and adds its own.
    expect(await verdictOf(s[1] as Server, 'dee', 'right', '192.0.2.10:1', T0 + 120_000)).toBe('ok');
    expect(await sql`SELECT log, key FROM limit_events ORDER BY log`).toEqual([
      { log: 'login-checks', key: 'dee' },
      { log: 'login-checks/1', key: '192.0.2.10' },
    ]);
  });

  it('a window the database said is full is refused here without asking again, until its wait ends; other keys still ask', async () => {
    const first = await pg.openStore();
    const schema = await schemaOf(first.sql);
    await first.createAccount({ username: 'hal', password: 'right' })();
    // The throttle's own pool, so that it can be cut while the store still answers.
    const counts = postgres(pg.url(), { max: 2, connection: { search_path: schema } });
    const policy = accountPolicy({ counts: createPostgresThrottleCounts(counts, { clock: 'caller' }) });
    const server: Server = { store: first, policy };
    for (let i = 0; i < 5; i++) expect(await verdictOf(server, 'hal', 'guess', `192.0.2.${i}:1`, T0 + i)).toBe('wrong');
    // The database answers this one: hal's failures are full until the first leaves the window.
    expect(await verdictOf(server, 'hal', 'guess', '192.0.2.9:1', T0 + 10)).toEqual({ kind: 'throttled', retryAfterMs: 59_990, cause: 'failures' });
    await counts.end();
    // Without the database, hal's window is still known full: refused as the database would (before: a store error).
    expect(await verdictOf(server, 'hal', 'right', '198.51.100.1:1', T0 + 20_000)).toEqual({ kind: 'throttled', retryAfterMs: 40_000, cause: 'failures' });
    // Another account, and hal once the wait is over, ask the database (gone: a store error).
    expect(E.isLeft(await policy.verify(first, 'ivy', 'pw', { peerAddress: '198.51.100.1:1', now: T0 + 20_000 })())).toBe(true);
    expect(E.isLeft(await policy.verify(first, 'hal', 'right', { peerAddress: '198.51.100.1:1', now: T0 + 60_000 })())).toBe(true);
  });

  it('a window full only with attempts in flight is asked again: the database lets the next in once they end uncounted', async () => {
    const store = await pg.openStore();
    const counts = createPostgresThrottleCounts(store.sql, { clock: 'caller' });
    const creation = counts.creation({ maxPerHost: 2, windowMs: 600_000 });
    const login = counts.login({ maxFailuresPerAccount: 2 });
    const slot = async (r: TE.TaskEither<unknown, ThrottleSlot>): Promise<ThrottleSlot> => {
      const e = await r();
      if (E.isLeft(e)) throw new Error(`store error: ${JSON.stringify(e.left)}`);
      return e.right;
    };
    const settled = async (s: ThrottleSlot, outcome: 'failure' | 'success'): Promise<void> => {
      if (s.kind !== 'reserved') throw new Error('not reserved');
      await s.settle(outcome);
    };
    // Two creations in flight fill the host's window; both fail (the name was taken): nothing counts.
    const creating = [await slot(creation.reserve('192.0.2.1:1', T0)), await slot(creation.reserve('192.0.2.1:2', T0))];
    expect((await slot(creation.reserve('192.0.2.1:3', T0 + 1))).kind).toBe('throttled');
    for (const c of creating) await settled(c, 'failure');
    // On the old code the window was kept full here for the database's 10 minutes.
    expect((await slot(creation.reserve('192.0.2.1:4', T0 + 2))).kind).toBe('reserved');
    // Two logins of kim in flight fill her failures; both are right: her failures are clear.
    const logging = [await slot(login.reserve('kim', '198.51.100.1:1', T0)), await slot(login.reserve('kim', '198.51.100.2:1', T0))];
    expect(await slot(login.reserve('kim', '198.51.100.3:1', T0 + 1))).toMatchObject({ kind: 'throttled', cause: 'failures' });
    for (const l of logging) await settled(l, 'success');
    expect((await slot(login.reserve('kim', '198.51.100.4:1', T0 + 2))).kind).toBe('reserved');
  });

  it('across a step of the clock back an hour, a key throttled before it waits one window from the step, not the step as well', async () => {
    // The windows are the database's clock's, which NTP or an operator may set back as the servers' (SlidingWindowLog).
    const HOUR = 3_600_000;
    const s = await servers(2);
    await s[0]?.store.createAccount({ username: 'lou', password: 'right' })();
    for (let i = 0; i < 5; i++) expect(await verdictOf(s[i % 2] as Server, 'lou', 'guess', `192.0.2.${i}:1`, 10 * HOUR + i)).toBe('wrong');
    const stepped = 9 * HOUR + 10;
    // Refused for one window from the step (3,660,000 ms before the fix), on either server...
    expect(await verdictOf(s[0] as Server, 'lou', 'right', '198.51.100.1:1', stepped)).toEqual({ kind: 'throttled', retryAfterMs: 60_000, cause: 'failures' });
    expect(await verdictOf(s[1] as Server, 'lou', 'right', '198.51.100.1:1', stepped + 59_999)).toEqual({ kind: 'throttled', retryAfterMs: 1, cause: 'failures' });
    // ...and let in after it.
    expect(await verdictOf(s[1] as Server, 'lou', 'right', '198.51.100.1:1', stepped + 60_000)).toBe('ok');
    // A host's new accounts likewise: 10 before the step, refused one window from it, then allowed.
    for (let i = 0; i < 10; i++) expect(await registered(s[i % 2] as Server, `new${i}`, '203.0.113.9:1', 20 * HOUR + i)).toBe('created');
    const back = 19 * HOUR;
    expect(await registered(s[0] as Server, 'late1', '203.0.113.9:1', back)).toEqual({ kind: 'throttled', retryAfterMs: 600_000 });
    expect(await registered(s[1] as Server, 'late2', '203.0.113.9:1', back + 600_000)).toBe('created');
  });

  it('schema 9 on a schema 8 database: the counts kept, migration 6 counting under the new function, and run again harmlessly', async () => {
    const HOUR = 3_600_000;
    const old = await pg.openStore();
    const schema = await schemaOf(old.sql);
    await backToSchema(old.sql, 8);
    // A schema 8 server's failures, dated before the step.
    const login = createPostgresThrottleCounts(old.sql, { clock: 'caller' }).login({});
    for (let i = 0; i < 5; i++) {
      const r = await login.reserve('max', '192.0.2.1:1', 10 * HOUR + i)();
      if (E.isLeft(r) || r.right.kind !== 'reserved') throw new Error('not reserved');
      await r.right.settle('failure');
    }
    await pg.openPeer(schema);
    // Run again, its version row back at 8 with the functions in place (as a migration ended half-way may leave it).
    await old.sql`UPDATE forum_schema SET version = 8`;
    const peer = await pg.openPeer(schema);
    expect(await peer.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    const fresh = createPostgresThrottleCounts(peer.sql, { clock: 'caller' }).login({});
    const r = await fresh.reserve('max', '198.51.100.1:1', 9 * HOUR)();
    expect(E.isRight(r) ? r.right : r.left).toEqual({ kind: 'throttled', retryAfterMs: 60_000, cause: 'failures' });
  });

  it('refuses (a store error, no crash) when the database cannot be reached, and leaves nothing counted in this process', async () => {
    const s = await servers(1);
    const store = (s[0] as Server).store;
    await store.createAccount({ username: 'eve', password: 'right' })();
    const schema = await schemaOf(store.sql);
    const gone = postgres(pg.url(), { max: 1, connection: { search_path: schema } });
    await gone.end();
    const policy = accountPolicy({ counts: createPostgresThrottleCounts(gone, { clock: 'caller' }) });
    const login = await policy.verify(store, 'eve', 'right', { peerAddress: '192.0.2.1:1', now: T0 })();
    expect(E.isLeft(login)).toBe(true);
    const created = await policy.register(store, 'fay', 'pw', { peerAddress: '192.0.2.1:1', now: T0 })();
    expect(E.isLeft(created)).toBe(true);
    expect(await store.sql`SELECT username FROM accounts ORDER BY username`).toEqual([{ username: 'eve' }]);
  });
});
