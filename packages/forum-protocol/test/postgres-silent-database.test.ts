/**
 * A command whose statement is at the database when the database goes silent: hung (its processes stopped:
 * a stalled disk, a paused machine) or cut off by a partition that holds the connections open. Neither the
 * statement nor the deadline's cancel request is answered. Attack round 18 (1d, 1e): the command waited
 * until the database answered again (30 s), forum-client gave up at 8 s and exited, and the MSG was stored
 * after. Now it is answered just past its deadline, honestly, and the pool serves again once the database
 * does, without a restart.
 */
import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import postgres from 'postgres';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { accountPolicy } from '../src/index.js';
import { createPostgresSessionRegistry, createPostgresThrottleCounts, type PostgresStore, type PostgresStoreOptions } from '../src/postgres.js';
import { ABANDON_AFTER_MS } from '../src/postgres-store/postgres-abandon.js';
import { withCommandDeadline } from '../src/store/command-deadline.js';
import { commandErrorText, outcomeUnknownText, timedOutText } from '../src/store/errors.js';
import { lines, run } from './helpers.js';
import { loopbackProxy, type LoopbackProxy } from './loopback-proxy.js';
import { freezePostgres } from './postgres-freeze.js';
import { type PostgresHarness, schemaOf, usePostgres } from './postgres-harness.js';
import { frontendMessages } from './postgres-wire.js';
import { holdAnswersAfter, partitionAfterCommit } from './answer-holding-proxies.js';
import { until } from './poll-until.js';

const pg = usePostgres({ migrated: 12 });

/** The commands' deadline here (the server's is 6 s): short, for a quick test. */
const DEADLINE_MS = 1_500;

/** How late past its deadline and the wait for the database's answer a command may be answered: a loaded machine's timers. */
const SLACK_MS = 700;

/** How long the database stays silent unless a test ends it first: long past every answer expected, so that waiting for it shows. */
const SILENT_MS = 3 * DEADLINE_MS + 3_000;

/** How long a store's close lets its pool's end wait for the statements under way here, ms (closeTimeoutMs; the default is 5 s). */
const POOL_END_MS = 1_000;

/** PostgreSQL's own limits far off: what ends the statements here is the command's deadline, not the database. */
const TIMEOUTS = { statementMs: 60_000, lockMs: 60_000, idleInTransactionMs: 60_000 } as const;

/** `work`'s value and how long it took, ms. */
const timed = async <A>(work: () => Promise<A>): Promise<{ readonly value: A; readonly ms: number }> => {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
};

/** `line` run as alice under the test's command deadline. */
const command = (store: PostgresStore, line: string): Promise<readonly string[]> => withCommandDeadline(DEADLINE_MS, () => lines(run(store, 'alice', line)));

/** A connection of its own to `pg`'s database (a watcher, another server's session), closed after the file. */
const ownConnection = (pg: PostgresHarness): postgres.Sql => {
  const sql = pg.connect();
  return sql;
};

/** The schema `store` keeps its tables in. */
/** A store on `direct`'s schema that reaches `pg`'s database through `proxy` (both closed after the file). */
const storeBehind = async (pg: PostgresHarness, direct: PostgresStore, proxy: LoopbackProxy, maxConnections = 2, options: PostgresStoreOptions = {}): Promise<PostgresStore> => {
  pg.onClose(() => proxy.close());
  return pg.openPeerVia(proxy.url, direct, { timeouts: TIMEOUTS, maxConnections, ...options });
};

/**
 * A proxy in front of the database that, once armed with a statement's text, holds the database's answers on
 * that connection for `holdMs` from the statement's arrival, then lets them through: a database slow to answer.
 */
const slowAnswers = async (url: string): Promise<LoopbackProxy & { arm(statement: string, holdMs: number): void }> => {
  let armed: { readonly statement: string; readonly holdMs: number } | undefined;
  const proxy = await loopbackProxy(url, (client, upstream) => {
    let held: Buffer[] | undefined;
    client.on('data', (chunk: Buffer) => {
      const hold = armed;
      if (hold !== undefined && frontendMessages(chunk).some((m) => m.query.includes(hold.statement))) {
        armed = undefined;
        held = [];
        setTimeout(() => {
          for (const c of held ?? []) client.write(c);
          held = undefined;
        }, hold.holdMs);
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => (held === undefined ? client.write(chunk) : held.push(chunk)));
  });
  return {
    ...proxy,
    arm: (statement, holdMs) => {
      armed = { statement, holdMs };
    },
  };
};

/**
 * A proxy in front of the database that, once `cut`, holds every byte of the connections open then, both ways,
 * for good (a partition, a load balancer that dropped their flows) while new connections pass: the database is
 * there again (a failover) for a pool that opens connections afresh.
 */
const cutExisting = async (url: string): Promise<LoopbackProxy & { cut(): void }> => {
  const open = new Set<{ held: boolean }>();
  const proxy = await loopbackProxy(url, (client, upstream) => {
    const flow = { held: false };
    open.add(flow);
    client.on('data', (chunk: Buffer) => {
      if (!flow.held) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!flow.held) client.write(chunk);
    });
  });
  return {
    ...proxy,
    cut: () => {
      for (const flow of open) flow.held = true;
      open.clear();
    },
  };
};

describe('PostgreSQL: a command at a database that goes silent', () => {
  // First, side by side: the tests that stop PostgreSQL (SIGSTOP), each on a cluster of its own (one after the other on
  // the file's, they took 10 s of its 14); then the others. Not all at once: beside a loaded machine's other files, a
  // store's first command (a CRT under the 1.5 s deadline) timed out once.
  describe('stopped (SIGSTOP)', () => {
    describe.concurrent('on a PostgreSQL of its own', () => {
      const pg = usePostgres({ migrated: 1 });
      it(
        "a MSG waiting at the database when it hangs (SIGSTOP) is answered just past its deadline with the timeout's line, as is an RDT sent to the hung database; " +
          'after it resumes the MSG is not in the thread, and the same store serves again',
        async () => {
          const store = await pg.openStore({ timeouts: TIMEOUTS, maxConnections: 2 });
          const schema = await schemaOf(store.sql);
          expect(await lines(run(store, 'alice', 'CRT t'))).toEqual(['Thread t created']);
          // Another server's transaction holds the thread's row: the MSG's first statement waits for it, at the database.
          const holder = await ownConnection(pg).reserve();
          await holder`BEGIN`;
          await holder.unsafe(`SELECT 1 FROM ${schema}.threads WHERE title = 't' FOR UPDATE`);
          const watcher = ownConnection(pg);
          const msg = timed(() => command(store, 'MSG t hello'));
          await until(async () => (await watcher`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`)[0]?.n === 1);
          freezePostgres(pg.url(), true);
          // Continued after SILENT_MS whatever happens: a test failing on the old code still ends.
          const thaw = setTimeout(() => freezePostgres(pg.url(), false), SILENT_MS);
          try {
            const rdt = timed(() => command(store, 'RDT t'));
            const [posted, read] = await Promise.all([msg, rdt]);
            // Before: both answered only as the database resumed (SILENT_MS), past forum-client's wait.
            expect(posted.value).toEqual([timedOutText('command')]);
            expect(read.value).toEqual([timedOutText('command')]);
            expect(posted.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 5);
            expect(posted.ms).toBeLessThan(DEADLINE_MS + ABANDON_AFTER_MS + SLACK_MS);
            expect(read.ms).toBeLessThan(DEADLINE_MS + ABANDON_AFTER_MS + SLACK_MS);
            // Their connections were closed: two commands more, each on a connection the pool opens again, to the
            // hung database, which answers nothing: given up at their deadline while the connections wait.
            const more = await timed(() => Promise.all([command(store, 'RDT t'), command(store, 'LST')]));
            expect(more.value).toEqual([[timedOutText('command')], [timedOutText('command')]]);
            expect(more.ms).toBeLessThan(DEADLINE_MS + ABANDON_AFTER_MS + SLACK_MS);
          } finally {
            clearTimeout(thaw);
            freezePostgres(pg.url(), false);
          }
          await holder`ROLLBACK`;
          holder.release();
          // Answered "try again": it must not be stored when the database comes back (its connection was closed
          // before its INSERT was written, so it rolled back).
          const back = await timed(() => command(store, 'RDT t'));
          expect(back.value).toEqual(['Thread t is empty']);
          // The same pool, not restarted: served again within a second or so of the database's return.
          expect(back.ms).toBeLessThan(2_000);
          expect(await command(store, 'MSG t after')).toEqual(['Message posted to t thread']);
          expect(await command(store, 'RDT t')).toEqual(['1 alice: after']);
          // Nothing of the abandoned MSG is left at the database holding the thread.
          await until(async () => (await watcher`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'`)[0]?.n === 0);
        },
        30_000,
      );
    });

    describe.concurrent('on a PostgreSQL of its own', () => {
      const pg = usePostgres({ migrated: 1 });
      it(
        "a login whose password check is at the database when it hangs is answered just past its deadline, not once its throttle's settlement (outside the deadline) gets an answer",
        async () => {
          const store = await pg.openStore({ timeouts: TIMEOUTS, maxConnections: 3 });
          const schema = await schemaOf(store.sql);
          await store.createAccount({ username: 'ann', password: 'right' })();
          const policy = accountPolicy({ counts: createPostgresThrottleCounts(store.sql) });
          const verify = (): Promise<unknown> => policy.verify(store, 'ann', 'right', { peerAddress: '192.0.2.1:4000', now: Date.now() })();
          // Another server's transaction holds the accounts table: the password check's read waits for it, at the database.
          const holder = await ownConnection(pg).reserve();
          await holder`BEGIN`;
          await holder.unsafe(`LOCK TABLE ${schema}.accounts IN ACCESS EXCLUSIVE MODE`);
          const watcher = ownConnection(pg);
          const login = timed(() => withCommandDeadline(DEADLINE_MS, verify));
          await until(async () => (await watcher`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`)[0]?.n === 1);
          freezePostgres(pg.url(), true);
          const thaw = setTimeout(() => freezePostgres(pg.url(), false), SILENT_MS);
          try {
            const answered = await login;
            expect(answered.value).toMatchObject(E.left({ kind: 'io', timedOut: true }));
            // Before: the check given up at 2.0 s, then the slot's settlement waited for the database (SILENT_MS).
            expect(answered.ms).toBeLessThan(DEADLINE_MS + ABANDON_AFTER_MS + SLACK_MS);
          } finally {
            clearTimeout(thaw);
            freezePostgres(pg.url(), false);
          }
          await holder`ROLLBACK`;
          holder.release();
          expect(await withCommandDeadline(DEADLINE_MS, verify)).toEqual(E.right('ok'));
        },
        30_000,
      );
    });

    describe.concurrent('on a PostgreSQL of its own', () => {
      const pg = usePostgres({ migrated: 1 });
      it(
        "an upload begun at a hung database when the sweep of stale uploads is due (it runs outside the deadline) is answered just past the deadline, not when the database resumes",
        async () => {
          // The sweep runs as every upload begins.
          const store = await pg.openStore({ timeouts: TIMEOUTS, maxConnections: 3, staleSweepEveryMs: 0 });
          expect(await command(store, 'CRT u')).toEqual(['Thread u created']);
          freezePostgres(pg.url(), true);
          const thaw = setTimeout(() => freezePostgres(pg.url(), false), SILENT_MS);
          try {
            const begun = await timed(() => withCommandDeadline(DEADLINE_MS, () => store.beginUpload('u', 'f.txt', 'alice')()));
            expect(begun.value).toMatchObject(E.left({ kind: 'io', timedOut: true }));
            // Before: the sweep's statement, held to no deadline, waited for the database (SILENT_MS).
            expect(begun.ms).toBeLessThan(DEADLINE_MS + ABANDON_AFTER_MS + SLACK_MS);
          } finally {
            clearTimeout(thaw);
            freezePostgres(pg.url(), false);
          }
          const again = await withCommandDeadline(DEADLINE_MS, () => store.beginUpload('u', 'g.txt', 'alice')());
          if (E.isLeft(again)) throw new Error(`not begun after the resume: ${JSON.stringify(again.left)}`);
          again.right.stream.destroy();
          await again.right.commit();
        },
        30_000,
      );
    });

    describe.concurrent('on a PostgreSQL of its own', () => {
      const pg = usePostgres({ migrated: 1 });
      it(
        "closing a store whose sweep of deleted uploads' chunks is at a database gone silent ends, not when the database answers",
        async () => {
          const store = await pg.openStore({ timeouts: TIMEOUTS, closeTimeoutMs: POOL_END_MS });
          // The pass the store kicked as it opened is over: the next one meets the hung database.
          await store.sweepDoomedUploads();
          freezePostgres(pg.url(), true);
          const thaw = setTimeout(() => freezePostgres(pg.url(), false), SILENT_MS);
          try {
            const sweeping = store.sweepDoomedUploads().catch(() => 0);
            const closed = await Promise.race([timed(() => store.close()), sleep(SILENT_MS - 500).then(() => 'still waiting' as const)]);
            // Before: 'still waiting' (the close awaited the pass, whose statement runs outside any deadline).
            expect(closed).not.toBe('still waiting');
            if (closed !== 'still waiting') expect(closed.ms).toBeLessThan(ABANDON_AFTER_MS + POOL_END_MS + SLACK_MS);
            await sweeping;
          } finally {
            clearTimeout(thaw);
            freezePostgres(pg.url(), false);
          }
        },
        30_000,
      );
    });
  });

  // Side by side (it.concurrent): each has stores, proxies and a schema of its own, and spends its time waiting out a deadline.
  it.concurrent(
    'a MSG whose COMMIT reached the database before a partition held its answer is answered "may or may not be stored" just past its deadline, ' +
      'never a failure (it committed); the store serves again as the partition heals',
    async () => {
      const direct = await pg.openStore({ timeouts: TIMEOUTS });
      const proxy = await partitionAfterCommit(pg.url());
      const store = await storeBehind(pg, direct, proxy);
      expect(await command(store, 'CRT c')).toEqual(['Thread c created']);
      proxy.arm('INSERT INTO entries');
      const heal = setTimeout(() => proxy.heal(), SILENT_MS);
      try {
        const posted = await timed(() => command(store, 'MSG c hello'));
        expect(proxy.partitioned()).toBe(1);
        // Before: answered as the partition healed (SILENT_MS), past forum-client's wait.
        expect(posted.value).toEqual([outcomeUnknownText('command')]);
        expect(posted.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 5);
        expect(posted.ms).toBeLessThan(DEADLINE_MS + ABANDON_AFTER_MS + SLACK_MS);
      } finally {
        clearTimeout(heal);
        proxy.heal();
      }
      // It committed: the answer could not have said "failed".
      expect(await command(direct, 'RDT c')).toEqual(['1 alice: hello']);
      // Served again through the proxy, on a new connection (the one held was closed).
      expect(await command(store, 'MSG c again')).toEqual(['Message posted to c thread']);
      expect(await command(direct, 'RDT c')).toEqual(['1 alice: hello', '2 alice: again']);
    },
    30_000,
  );

  it.concurrent(
    'a new account whose COMMIT reached the database before a partition held its answer is answered "may or may not" (outcomeUnknown), never a failure: it was made',
    async () => {
      const direct = await pg.openStore({ timeouts: TIMEOUTS });
      const proxy = await partitionAfterCommit(pg.url());
      const store = await storeBehind(pg, direct, proxy);
      proxy.arm('INSERT INTO accounts');
      const heal = setTimeout(() => proxy.heal(), SILENT_MS);
      try {
        const made = await timed(() => withCommandDeadline(DEADLINE_MS, () => store.createAccount({ username: 'gus', password: 'pw' })()));
        expect(proxy.partitioned()).toBe(1);
        expect(made.value).toMatchObject(E.left({ kind: 'io', outcomeUnknown: 'database' }));
        expect(made.ms).toBeLessThan(DEADLINE_MS + ABANDON_AFTER_MS + SLACK_MS);
      } finally {
        clearTimeout(heal);
        proxy.heal();
      }
      expect(await direct.getAccount('gus')()).toEqual(E.right(O.some({ username: 'gus', password: 'pw' })));
    },
    30_000,
  );

  it.concurrent(
    "an upload begun when the sweep found stale uploads, the database going silent as their chunks are deleted, is answered just past the deadline, not when the database answers",
    async () => {
      const direct = await pg.openStore({ timeouts: TIMEOUTS });
      const proxy = await holdAnswersAfter(pg.url());
      // The sweep of stale uploads runs as every upload begins.
      const store = await storeBehind(pg, direct, proxy, 2, { staleSweepEveryMs: 0 });
      expect(await command(store, 'CRT v')).toEqual(['Thread v created']);
      // A dead server's half upload (its lease lapsed): the sweep deletes it and asks for its chunks' deletion now.
      await direct.sql`INSERT INTO uploads (thread, filename, uploader, lease_expires_at) VALUES ('v', 'old.txt', 'bob', now() - interval '1 minute')`;
      // The database goes silent on the connection that deletes those chunks (a batch outside the deadline).
      proxy.arm('FROM doomed_uploads WHERE id = ANY');
      const begun = await Promise.race([
        timed(() => withCommandDeadline(DEADLINE_MS, () => store.beginUpload('v', 'f.txt', 'alice')())),
        sleep(SILENT_MS).then(() => 'still waiting' as const),
      ]);
      // Before: 'still waiting' (the chunks' deletion, outside the deadline, was awaited whole).
      expect(begun).not.toBe('still waiting');
      if (begun === 'still waiting') return;
      expect(begun.value).toMatchObject(E.left({ kind: 'io', timedOut: true }));
      expect(begun.ms).toBeLessThan(DEADLINE_MS + ABANDON_AFTER_MS + SLACK_MS);
    },
    30_000,
  );

  it.concurrent(
    "a MSG whose line was written but whose deadline passed before its COMMIT is answered with the timeout's line, not \"may or may not be stored\" (it surely rolled back)",
    async () => {
      const direct = await pg.openStore({ timeouts: TIMEOUTS });
      const proxy = await slowAnswers(pg.url());
      const store = await storeBehind(pg, direct, proxy);
      expect(await command(store, 'CRT s')).toEqual(['Thread s created']);
      // The line's insert answered just past the deadline (the cancel finds it done): the body returns, too late to commit.
      proxy.arm('INSERT INTO entries', DEADLINE_MS + 150);
      const posted = await timed(() => command(store, 'MSG s late'));
      // Before: the transaction's id was known, so the store asked whether it committed, with no time left to: "may or may not".
      expect(posted.value).toEqual([timedOutText('command')]);
      expect(posted.ms).toBeLessThan(DEADLINE_MS + ABANDON_AFTER_MS + SLACK_MS);
      expect(await command(direct, 'RDT s')).toEqual(['Thread s is empty']);
    },
    30_000,
  );

  it.concurrent(
    "a login whose session lease reached the database, which took it, before a partition held the answer (given up, answered with the timeout's line) " +
      'does not hold the account for good: the heartbeat renews only the leases its server holds, so that one lapses',
    async () => {
      const direct = await pg.openStore({ timeouts: TIMEOUTS });
      const proxy = await holdAnswersAfter(pg.url());
      const store = await storeBehind(pg, direct, proxy);
      const leaseMs = 600;
      const registry = createPostgresSessionRegistry(store.sql, { serverId: 'silent', leaseMs });
      pg.onClose(() => registry.close());
      proxy.arm('INSERT INTO session_leases');
      const taken = await timed(() => withCommandDeadline(DEADLINE_MS, () => registry.tryAcquire('ann', 'silent/c1')()));
      expect(taken.value).toMatchObject(E.left({ kind: 'io', timedOut: true }));
      expect(taken.ms).toBeLessThan(DEADLINE_MS + ABANDON_AFTER_MS + SLACK_MS);
      // The database took it: the account is held by a lease of this server that no connection of it has, until
      // the claim given up is undone (its backend ran it) or the lease lapses.
      const leases = (): Promise<readonly { readonly connection_key: string }[]> =>
        direct.sql<{ connection_key: string }[]>`SELECT connection_key FROM session_leases WHERE username = 'ann'`;
      // Before: every renewal (the heartbeat's, every 200 ms, and these) renewed it with the server's held ones,
      // and the account answered "already logged in" for as long as the server ran.
      await until(async () => {
        await registry.renew();
        return E.isRight(await registry.tryAcquire('ann', 'silent/c2')()) && (await leases())[0]?.connection_key === 'silent/c2';
      });
    },
    30_000,
  );

  it.concurrent(
    "a login's lease claim that the database ran before a partition held its answer (given up at the deadline) is undone: " +
      'the account is free at once, not "already logged in" for the lease (15 s)',
    async () => {
      const direct = await pg.openStore({ timeouts: TIMEOUTS });
      const proxy = await holdAnswersAfter(pg.url());
      const store = await storeBehind(pg, direct, proxy);
      const errors: string[] = [];
      const registry = createPostgresSessionRegistry(store.sql, { serverId: 'cut', leaseMs: 15_000, onError: (m) => errors.push(m) });
      pg.onClose(() => registry.close());
      proxy.arm('INSERT INTO session_leases');
      const taken = await timed(() => withCommandDeadline(DEADLINE_MS, () => registry.tryAcquire('fay', 'cut/c1')()));
      expect(taken.value).toMatchObject(E.left({ kind: 'io', timedOut: true }));
      expect(taken.ms).toBeLessThan(DEADLINE_MS + ABANDON_AFTER_MS + SLACK_MS);
      const answered = performance.now();
      // Another connection's login as fay. Before: the lease the database took held fay, "already logged in"
      // (false), for its 15 s, with no connection holding it.
      await until(async () => {
        const r = await registry.tryAcquire('fay', 'cut/c2')();
        return E.isRight(r) && r.right;
      });
      expect(performance.now() - answered).toBeLessThan(2_000);
      expect((await direct.sql<{ connection_key: string }[]>`SELECT connection_key FROM session_leases WHERE username = 'fay'`).map((r) => r.connection_key)).toEqual(['cut/c2']);
      expect(errors).toEqual([]);
    },
    30_000,
  );

  it.concurrent(
    "an upload's commit whose statement the deadline cancelled (rolled back, its COMMIT never sent) is answered with the timeout's line, not \"may or may not be stored\"",
    async () => {
      const store = await pg.openStore({ timeouts: TIMEOUTS });
      const schema = await schemaOf(store.sql);
      expect(await command(store, 'CRT w')).toEqual(['Thread w created']);
      const begun = await store.beginUpload('w', 'f.txt', 'alice')();
      if (E.isLeft(begun)) throw new Error(`not begun: ${JSON.stringify(begun.left)}`);
      const writer = begun.right;
      await new Promise<void>((resolve, reject) => writer.stream.write(Buffer.from('the bytes'), (e) => (e ? reject(e) : resolve())));
      // Another server's transaction holds the thread's row: the commit's first statement waits for it until the deadline cancels it.
      const holder = await ownConnection(pg).reserve();
      await holder`BEGIN`;
      await holder.unsafe(`SELECT 1 FROM ${schema}.threads WHERE title = 'w' FOR UPDATE`);
      try {
        const committed = await timed(() => withCommandDeadline(DEADLINE_MS, () => writer.commit()));
        if (E.isRight(committed.value)) throw new Error('committed under the lock');
        // Before: the cancelled statement was taken for a lost COMMIT, and the question, with no time left, could not be asked.
        expect(commandErrorText(committed.value.left)).toBe(timedOutText('command'));
        expect(committed.ms).toBeLessThan(DEADLINE_MS + ABANDON_AFTER_MS + SLACK_MS);
      } finally {
        await holder`ROLLBACK`;
        holder.release();
      }
      expect(await command(store, 'RDT w')).toEqual(['Thread w is empty']);
    },
    30_000,
  );

  it.concurrent(
    "a MSG whose BEGIN is at a database gone silent is answered at its deadline, and its connection is given up too: the pool serves again from fresh connections",
    async () => {
      const direct = await pg.openStore({ timeouts: TIMEOUTS });
      const proxy = await cutExisting(pg.url());
      const store = await storeBehind(pg, direct, proxy, 1);
      expect(await command(store, 'CRT b')).toEqual(['Thread b created']);
      proxy.cut();
      const posted = await timed(() => command(store, 'MSG b lost'));
      expect(posted.value).toEqual([timedOutText('command')]);
      expect(posted.ms).toBeLessThan(DEADLINE_MS + ABANDON_AFTER_MS + SLACK_MS);
      // Before: the pool's one connection stayed at that BEGIN for good, and every command after waited for it.
      const read = await timed(() => command(store, 'RDT b'));
      expect(read.value).toEqual(['Thread b is empty']);
    },
    30_000,
  );
});
