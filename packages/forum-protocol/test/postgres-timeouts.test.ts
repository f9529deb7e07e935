import * as E from 'fp-ts/lib/Either.js';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { openPostgresStore, UPLOAD_CHUNK_BYTES, type PostgresStore } from '../src/postgres.js';
import { commandErrorText, timedOutText } from '../src/store/errors.js';
import { createSessionRegistry, handleRequest, INITIAL_AUTH_STATE } from '../src/index.js';
import { lines, run } from './helpers.js';
import { schemaOf, usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 11 });

/** Small limits, so that a statement held by a lock gives up within a test. */
const TIMEOUTS = { statementMs: 1_500, lockMs: 300, idleInTransactionMs: 2_000 } as const;

/** Longer than any of {@link TIMEOUTS}: a request still waiting then was not given up by them. */
const HUNG_MS = 4_000;

/**
 * Another server stuck mid-transaction, as seen from the database: a connection of its own (no time
 * limits) that runs `lock` in a transaction and holds it open until `release()`.
 */
const holdLock = async (store: PostgresStore, lock: (tx: postgres.TransactionSql) => Promise<unknown>): Promise<{ release(): Promise<void> }> => {
  const peer = pg.connect({ connection: { search_path: await schemaOf(store.sql) } });
  let release = (): void => undefined;
  let held = (): void => undefined;
  const isHeld = new Promise<void>((resolve) => (held = resolve));
  const done = peer.begin(async (tx) => {
    await lock(tx);
    held();
    await new Promise<void>((resolve) => (release = resolve));
  });
  await Promise.race([isHeld, done]);
  return {
    release: async () => {
      release();
      await done;
    },
  };
};

/** What `work` settled to within `ms`, or `'still waiting'`. */
const within = async <A>(work: Promise<A>, ms: number): Promise<A | 'still waiting'> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still waiting'>((resolve) => (timer = setTimeout(() => resolve('still waiting'), ms)));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
};

/**
 * alice's upload `f` to a new thread `t`, with the uploads' count locked by a stuck server (`holdLock`)
 * and one whole chunk written, so that the chunk's insert waits on the lock.
 */
const chunkBehindHeldCount = async (store: PostgresStore) => {
  await run(store, 'alice', 'CRT t');
  const begun = await store.beginUpload('t', 'f', 'alice')();
  if (E.isLeft(begun)) throw new Error(JSON.stringify(begun.left));
  const w = begun.right;
  const lock = await holdLock(store, (tx) => tx`SELECT bytes FROM upload_bytes FOR UPDATE`);
  w.stream.write(randomBytes(UPLOAD_CHUNK_BYTES));
  return { w, lock };
};

describe('PostgreSQL time limits (statement_timeout, lock_timeout, idle_in_transaction_session_timeout)', () => {
  it("a MSG to a thread whose row another server's stuck transaction holds is answered with the timeout's line, not left waiting; nothing of it is stored", async () => {
    const store = await pg.openStore({ timeouts: TIMEOUTS });
    await run(store, 'alice', 'CRT t');
    const lock = await holdLock(store, (tx) => tx`SELECT 1 FROM threads WHERE title = 't' FOR UPDATE`);
    const started = performance.now();
    const msg = lines(run(store, 'alice', 'MSG t held up'));
    const answered = await within(msg, HUNG_MS);
    const tookMs = performance.now() - started;
    await lock.release();
    // Without lock_timeout the MSG waited for the lock (as long as it was held): 'still waiting' here.
    expect(answered).toEqual([timedOutText('command')]);
    expect(tookMs).toBeLessThan(TIMEOUTS.statementMs);
    // Rolled back: the thread has no line of it, and takes the next MSG as message 1.
    expect(await lines(run(store, 'alice', 'MSG t after'))).toEqual(['Message posted to t thread']);
    expect(await lines(run(store, 'alice', 'RDT t'))).toEqual(['1 alice: after']);
  });

  it('ten requests held by one lock do not keep the pool: each is answered, and the store serves again once the lock is gone', async () => {
    const store = await pg.openStore({ timeouts: TIMEOUTS, maxConnections: 4 });
    await run(store, 'alice', 'CRT t');
    await run(store, 'alice', 'CRT other');
    const lock = await holdLock(store, (tx) => tx`SELECT 1 FROM threads WHERE title = 't' FOR UPDATE`);
    const held = Promise.all(Array.from({ length: 10 }, (_, i) => lines(run(store, 'alice', `MSG t m${i}`, `r${i}`))));
    const answered = await within(held, HUNG_MS);
    // Meanwhile the four connections were freed as each request gave up: another thread is served.
    expect(await within(lines(run(store, 'alice', 'MSG other fine')), HUNG_MS)).toEqual(['Message posted to other thread']);
    await lock.release();
    expect(answered).toEqual(Array.from({ length: 10 }, () => [timedOutText('command')]));
    expect(await lines(run(store, 'alice', 'RDT t'))).toEqual(['Thread t is empty']);
  });

  it("an upload whose chunk waits on the uploads' count locked by a stuck server is stopped with the timeout's line, and never commits", async () => {
    const store = await pg.openStore({ timeouts: TIMEOUTS, maxStoredUploadBytes: 64 * UPLOAD_CHUNK_BYTES });
    const { w, lock } = await chunkBehindHeldCount(store);
    const stopped = await within(w.stopped, HUNG_MS);
    await lock.release();
    expect(stopped).toMatchObject({ kind: 'io', timedOut: true });
    if (stopped === 'still waiting') return;
    expect(commandErrorText(stopped)).toBe(timedOutText('command'));
    expect(await w.commit()).toEqual(E.left(stopped));
    expect(await lines(run(store, 'alice', 'RDT t'))).toEqual(['Thread t is empty']);
    expect(await store.sql`SELECT count(*)::int AS n FROM uploads WHERE committed`).toEqual([{ n: 0 }]);
    // Its pending row could not be deleted while the lock was held (the delete counts the bytes under it):
    // tried again once a hung server's transaction is surely over (idle limit + lock limit + 1 s), not
    // left to the sweep of uploads untouched for 10 minutes.
    const retryMs = TIMEOUTS.idleInTransactionMs + TIMEOUTS.lockMs + 1_000;
    const deadline = performance.now() + retryMs + 2_000;
    let pendingRows = -1;
    while (pendingRows !== 0 && performance.now() < deadline) {
      const [row] = await store.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM uploads WHERE NOT committed`;
      pendingRows = row?.n ?? -1;
      if (pendingRows !== 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(pendingRows).toBe(0);
    expect(await store.sql`SELECT bytes::int AS bytes FROM upload_bytes`).toEqual([{ bytes: 0 }]);
  }, 15_000);

  it("a chunk whose insert times out after the commit has begun fails the commit; the upload is not committed without it", async () => {
    const store = await pg.openStore({ timeouts: TIMEOUTS });
    // A whole chunk: its insert starts at once and waits on the count's lock. The commit begins meanwhile, as
    // the server's commit does when the final record follows the write that filled a chunk (a small record).
    const { w, lock } = await chunkBehindHeldCount(store);
    const committed = await within(w.commit(), HUNG_MS);
    await lock.release();
    // Before: E.right, the upload committed with its size (256 KiB) and not one chunk stored (its stop, which
    // no longer takes once the commit has begun, was all the failure did).
    expect(committed).toMatchObject(E.left({ kind: 'io', timedOut: true }));
    expect(await store.sql`SELECT count(*)::int AS n FROM uploads WHERE committed`).toEqual([{ n: 0 }]);
    expect(await lines(run(store, 'alice', 'RDT t'))).toEqual(['Thread t is empty']);
  });

  it("a server hung in a transaction loses it at idle_in_transaction_session_timeout, its locks with it: another server's MSG then goes through", async () => {
    // The other server waits for locks longer than the hung one may sit in its transaction.
    const hung = await pg.openStore({ timeouts: { ...TIMEOUTS, idleInTransactionMs: 500 } });
    const other = await pg.openPeer(hung, { timeouts: { ...TIMEOUTS, lockMs: 3_000, statementMs: 3_500 } });
    await run(hung, 'alice', 'CRT t');
    let held = (): void => undefined;
    const isHeld = new Promise<void>((resolve) => (held = resolve));
    // Its event loop stuck mid-transaction, say: the row locked, and nothing more sent.
    const stuck = hung.sql.begin(async (tx) => {
      await tx`SELECT 1 FROM threads WHERE title = 't' FOR UPDATE`;
      held();
      await new Promise<never>(() => undefined);
    });
    stuck.catch(() => undefined);
    await isHeld;
    const answered = await within(lines(run(other, 'bob', 'MSG t through')), HUNG_MS);
    // Without the limit the hung transaction kept the row: 'still waiting' here.
    expect(answered).toEqual(['Message posted to t thread']);
    // Its connection was closed by the database (the hung server finds out when it next uses it).
    await expect(stuck).rejects.toThrow(/CONNECTION_CLOSED|idle-in-transaction/);
    // The hung server's pool opens a new connection for what comes next.
    expect(await lines(run(hung, 'alice', 'RDT t'))).toEqual(['1 bob: through']);
  });

  it('a store read (the account a LOGIN looks up) under a table lock held past the limit is refused timedOut', async () => {
    const store = await pg.openStore({ timeouts: TIMEOUTS });
    expect(await store.createAccount({ username: 'bob', password: 'pw' })()).toEqual(E.right(true));
    const lock = await holdLock(store, (tx) => tx`LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE`);
    const read = await within(store.getAccount('bob')(), HUNG_MS);
    await lock.release();
    expect(read).toMatchObject(E.left({ kind: 'io', timedOut: true }));
  });

  it("a LOGIN whose account read times out is answered with the timeout's line for a login, back at the username prompt", async () => {
    const store = await pg.openStore({ timeouts: TIMEOUTS });
    expect(await store.createAccount({ username: 'bob', password: 'pw' })()).toEqual(E.right(true));
    const lock = await holdLock(store, (tx) => tx`LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE`);
    const deps = { store, registry: createSessionRegistry(), connectionKey: 'c1' };
    const step = await within(handleRequest(deps, INITIAL_AUTH_STATE, { id: 'r1', username: '', cmd: 'username', args: ['bob'] })(), HUNG_MS);
    await lock.release();
    if (step === 'still waiting') throw new Error('the login was not given up');
    // Without its own case the login's generic line: 'The server could not complete the login, please try again'.
    expect(step.outcome).toMatchObject({ kind: 'reply', reply: { status: 'error', lines: [timedOutText('login')], data: { kind: 'auth', next: 'username', fault: true } } });
    expect(step.state).toEqual(INITIAL_AUTH_STATE);
  });

  it('a store opening while another server migrates (its lock held longer than lock_timeout) waits for it rather than failing', async () => {
    const first = await pg.openStore({ timeouts: TIMEOUTS });
    const schema = await schemaOf(first.sql);
    // The migration lock of postgres-schema.ts, held as a migrating server holds it.
    const lock = await holdLock(first, (tx) => tx`SELECT pg_advisory_xact_lock(${0x666f72756d})`);
    const opening = pg.openPeer(schema, { timeouts: TIMEOUTS });
    // Once it waits for the lock (a sleep alone passes however late the opening starts waiting), three lock limits more.
    const deadline = performance.now() + HUNG_MS;
    while ((await first.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)[0]?.n !== 1) {
      if (performance.now() > deadline) throw new Error('the opening store never waited for the migration lock');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 3 * TIMEOUTS.lockMs));
    await lock.release();
    const second = await opening;
    expect(await lines(run(second, 'alice', 'LST'))).toEqual(['No threads to list']);
  });

  it('no deletion of uploads deletes a chunk in its own transaction (RMV, an aborted upload, a commit refused for a name taken): the sweep does, a batch a transaction', async () => {
    const batchChunks = 2;
    const store = await pg.openStore({ timeouts: TIMEOUTS, doomedUploadSweep: { auto: false, batchChunks } });
    // How many chunks each statement deleting chunks deleted (a statement trigger with the rows deleted).
    await store.sql`CREATE TABLE seen_deletes (chunks integer NOT NULL)`;
    await store.sql`CREATE FUNCTION record_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO seen_deletes SELECT count(*) FROM gone; RETURN NULL; END $$`;
    await store.sql`CREATE TRIGGER record_deletes AFTER DELETE ON upload_chunks REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION record_deletes()`;
    const seen = async (): Promise<readonly number[]> => (await store.sql<{ chunks: number }[]>`DELETE FROM seen_deletes RETURNING chunks`).map((r) => r.chunks);
    const begin = async (filename: string, chunks: number) => {
      const begun = await store.beginUpload('t', filename, 'alice')();
      if (E.isLeft(begun)) throw new Error(JSON.stringify(begun.left));
      await new Promise<void>((resolve, reject) => begun.right.stream.write(randomBytes(chunks * UPLOAD_CHUNK_BYTES), (e) => (e ? reject(e) : resolve())));
      return begun.right;
    };
    const stored = async (): Promise<number> => (await store.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM upload_chunks`)[0]?.n ?? -1;
    await run(store, 'alice', 'CRT t');

    // Cancelled: its row goes at once, its chunks are left.
    await (await begin('cancelled', 2)).abort();
    // Two uploads of one name: the second to commit is refused and deletes its own row in the commit's transaction.
    const first = await begin('same', 1);
    const second = await begin('same', 3);
    expect(await first.commit()).toEqual(E.right(undefined));
    expect(await second.commit()).toEqual(E.left({ kind: 'fileExists', title: 't', filename: 'same' }));
    // RMV: the thread's uploads (the committed one of 1 chunk, and a pending one of 2) go with it.
    await begin('pending', 2);
    expect(await lines(run(store, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
    // Before (schema 7): each deletion deleted its chunks itself, [2, 3, 3], under a statement limit raised 6 ms a chunk.
    expect(await seen()).toEqual([]);
    expect(await stored()).toBe(2 + 1 + 3 + 2);
    expect(await store.sql`SELECT count(*)::int AS n FROM doomed_uploads`).toEqual([{ n: 4 }]);
    expect(await store.sweepDoomedUploads()).toBe(8);
    const batches = await seen();
    expect(batches.every((n) => n <= batchChunks)).toBe(true);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(8);
    expect(await stored()).toBe(0);
    expect(await store.sql`SELECT (SELECT count(*)::int FROM doomed_uploads) AS doomed, (SELECT bytes::int FROM upload_bytes) AS bytes`).toEqual([{ doomed: 0, bytes: 0 }]);
  });

  it("the URL's parameters override the store's limits (forum-server --store 'postgres://…?lock_timeout=…')", async () => {
    const schema = await schemaOf((await pg.openStore({ timeouts: TIMEOUTS })).sql);
    const opened = await openPostgresStore(`${pg.url()}?lock_timeout=777&statement_timeout=0`, { schema, timeouts: TIMEOUTS })();
    if (E.isLeft(opened)) throw new Error(opened.left.message);
    pg.onClose(() => opened.right.close());
    expect(await opened.right.sql`SELECT current_setting('lock_timeout') AS lock, current_setting('statement_timeout') AS statement, current_setting('idle_in_transaction_session_timeout') AS idle`).toEqual([
      { lock: '777ms', statement: '0', idle: '2s' },
    ]);
  });

  it('by default: 5 s a statement, 2 s a lock wait, 10 s idle in a transaction', async () => {
    const store = await pg.openStore();
    expect(await store.sql`SELECT current_setting('lock_timeout') AS lock, current_setting('statement_timeout') AS statement, current_setting('idle_in_transaction_session_timeout') AS idle`).toEqual([
      { lock: '2s', statement: '5s', idle: '10s' },
    ]);
  });
});
