import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { UPLOAD_CHUNK_BYTES, type PostgresStore } from '../src/postgres.js';
import { postgresIoError } from '../src/postgres-store/postgres-timeouts.js';
import { CommandDeadlineError, withCommandDeadline } from '../src/store/command-deadline.js';
import { cancelledText, ioErrorText, terminatedText, timedOutText } from '../src/store/errors.js';
import { CANCEL_IN_FLIGHT_MAX_MS, isCancelledByUser, learnUserCancel, STRAY_CANCEL_WINDOW_MS, StrayCancelError } from '../src/postgres-store/postgres-deadline.js';
import { createSessionRegistry, handleRequest, INITIAL_AUTH_STATE, type CommandOutcome } from '../src/index.js';
import { lines, run } from './helpers.js';
import { usePostgres, type PostgresHarness } from './postgres-harness.js';
import net from 'node:net';
import { openPostgresStore } from '../src/postgres.js';

const pg = usePostgres({ migrated: 12 });

const watching = new Map<PostgresHarness, postgres.Sql>();
/** A connection of its own to `harness`'s database (the file's by default), opened once, closed after the file. */
const watcher = (harness: PostgresHarness = pg): postgres.Sql => {
  const open = watching.get(harness);
  if (open !== undefined) return open;
  const opened = postgres(harness.url(), { max: 1, onnotice: () => undefined });
  harness.onClose(() => opened.end({ timeout: 1 }));
  watching.set(harness, opened);
  return opened;
};

/** Limits under which each statement below stays (a statement of 800 ms is not ended by them). */
const TIMEOUTS = { statementMs: 1_500, lockMs: 1_000, idleInTransactionMs: 3_000 } as const;

/** The deadline the commands below get: less than their statements take together, more than any one of them. */
const DEADLINE_MS = 1_000;

/** How late past its deadline a command may answer: the cancel's round trip and the rollback's. */
const ANSWER_SLACK_MS = 400;

/** Makes each statement of `event` on `table` take `seconds` (a slow disk, a busy database), by a statement trigger. */
const slowDown = async (store: PostgresStore, table: string, event: 'INSERT' | 'UPDATE' | 'DELETE', seconds: number): Promise<void> => {
  const fn = `slow_${table}_${event.toLowerCase()}`;
  await store.sql.unsafe(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(${seconds}); RETURN NULL; END $$`);
  await store.sql.unsafe(`CREATE TRIGGER ${fn} BEFORE ${event} ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
};

/** Makes each statement of `event` on `table` wait until the watcher lets go of advisory lock `key` (which it takes now). */
const holdOn = async (store: PostgresStore, table: string, event: 'INSERT' | 'UPDATE' | 'DELETE', key: number): Promise<void> => {
  await watcher()`SELECT pg_advisory_lock(${key})`;
  const fn = `slow_${table}_${event.toLowerCase()}`;
  await store.sql.unsafe(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(${key}); RETURN NULL; END $$`);
  await store.sql.unsafe(`CREATE TRIGGER ${fn} BEFORE ${event} ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
};

const dropSlowDown = async (store: PostgresStore, table: string, event: 'INSERT' | 'UPDATE' | 'DELETE'): Promise<void> => {
  await store.sql.unsafe(`DROP TRIGGER slow_${table}_${event.toLowerCase()} ON ${table}`);
};

/** `work`'s value and how long it took, ms. */
const timed = async <A>(work: () => Promise<A>): Promise<{ readonly value: A; readonly ms: number }> => {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
};

/** Statements that run now in `harness`'s database, as `pg_stat_activity` sees them (the watcher's own excluded): read on a connection of its own. */
const running = async (_store: PostgresStore, like: string, harness: PostgresHarness = pg): Promise<number> => {
  const [row] = await watcher(harness)<{ n: number }[]>`
    SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE ${like}`;
  return row?.n ?? 0;
};

// Beside the rest of the file (describe.concurrent), on a PostgreSQL of its own (its statements read in pg_stat_activity
// and its triggers apart from theirs), its tests one after another: most of each is a deadline waited out.
describe.concurrent("a command's deadline on PostgreSQL (withCommandDeadline)", () => {
  const pg = usePostgres({ migrated: 6 });
  it.sequential("a MSG whose statements each stay under statement_timeout but together pass the deadline is answered with the timeout's line at the deadline; nothing of it is stored", async () => {
    const store = await pg.openStore({ timeouts: TIMEOUTS });
    await run(store, 'alice', 'CRT t');
    // MSG: the line's insert, then the thread's size: 1.6 s together, 0.8 s each.
    await slowDown(store, 'entries', 'INSERT', 0.8);
    await slowDown(store, 'threads', 'UPDATE', 0.8);
    const msg = await timed(() => withCommandDeadline(DEADLINE_MS, () => lines(run(store, 'alice', 'MSG t slow'))));
    // Before: ['Message posted to t thread'] after 1.6 s (each statement under its limit, and nothing bounded their sum).
    expect(msg.value).toEqual([timedOutText('command')]);
    expect(msg.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 5);
    expect(msg.ms).toBeLessThan(DEADLINE_MS + ANSWER_SLACK_MS);
    await dropSlowDown(store, 'entries', 'INSERT');
    await dropSlowDown(store, 'threads', 'UPDATE');
    // Rolled back: nothing of it, and the statement cancelled is not still running.
    expect(await running(store, '%UPDATE threads%', pg)).toBe(0);
    expect(await lines(run(store, 'alice', 'RDT t'))).toEqual(['Thread t is empty']);
    // The same MSG without a deadline, as before, is posted.
    expect(await lines(run(store, 'alice', 'MSG t fast'))).toEqual(['Message posted to t thread']);
  });

  it.sequential("a transaction whose statement passes the deadline while the next waits in the transaction's own queue is answered at the deadline, and its locks are not held after", async () => {
    // As the store's pipelined pairs (a MSG's insert and size update, a CRT's locks) on a connection new
    // to the first statement: postgres.js describes it first, so the second waits in the transaction's
    // queue, not written. The first outlasts the deadline.
    const store = await pg.openStore({ timeouts: TIMEOUTS, maxConnections: 1 });
    await run(store, 'alice', 'CRT t');
    const pipelined = await timed(() =>
      withCommandDeadline(DEADLINE_MS, () =>
        store.sql.begin(async (tx) => {
          await tx`SELECT title FROM threads WHERE title = ${'t'} FOR UPDATE`;
          return Promise.all([tx`SELECT pg_sleep(${(DEADLINE_MS + 200) / 1000}) AS slept`, tx`UPDATE threads SET title = title WHERE title = ${'t'}`]);
        }),
      ).then(
        () => 'committed',
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      ),
    );
    // Before: the second was cancelled where postgres.js does not look for it (the pool's queue); the
    // connection, reaching it, wrote nothing and waited, the ROLLBACK behind it, until
    // idle_in_transaction_session_timeout (3 s here) ended the session, the thread's row locked meanwhile.
    expect(pipelined.value).toMatch(/canceling statement due to user request/);
    expect(pipelined.ms).toBeLessThan(DEADLINE_MS + ANSWER_SLACK_MS);
    const next = await timed(() => lines(run(store, 'alice', 'MSG t fast')));
    expect(next.value).toEqual(['Message posted to t thread']);
    expect(next.ms).toBeLessThan(ANSWER_SLACK_MS);
  });

  it.sequential('a login step past its deadline starts no statement more: the login is refused with the timeout line at the deadline', async () => {
    const store = await pg.openStore({ timeouts: TIMEOUTS });
    expect(await store.createAccount({ username: 'bob', password: 'pw' })()).toEqual(E.right(true));
    const deps = { store, registry: createSessionRegistry(), connectionKey: 'c1' };
    // The account's read comes after a statement of the command's that outlasts its deadline (cancelled then).
    const slowStore: PostgresStore = {
      ...store,
      getAccount: (username) => async () => {
        await store.sql`SELECT pg_sleep(${(DEADLINE_MS + 1_000) / 1000})`.catch(() => undefined);
        return store.getAccount(username)();
      },
    };
    const step = await timed(() =>
      withCommandDeadline(DEADLINE_MS, () => handleRequest({ ...deps, store: slowStore }, INITIAL_AUTH_STATE, { id: 'r1', username: '', cmd: 'username', args: ['bob'] })()),
    );
    // Before: the account read after 2 s, and the password prompt.
    expect(step.value.outcome).toMatchObject({ kind: 'reply', reply: { status: 'error', lines: [timedOutText('login')] } });
    expect(step.value.outcome.kind === 'reply' ? step.value.outcome.log : []).toEqual([`Store error: the command passed its deadline of ${DEADLINE_MS} ms, so no statement more was started`]);
    expect(step.ms).toBeLessThan(DEADLINE_MS + ANSWER_SLACK_MS);
    expect(await running(store, '%pg_sleep%', pg)).toBe(0);
    // Nothing starts once it has passed: a statement, a transaction.
    await withCommandDeadline(10, async () => {
      await sleep(30);
      expect(() => store.sql`SELECT 1`).toThrow(CommandDeadlineError);
      await expect(store.sql.begin(async (tx) => tx`SELECT 1`)).rejects.toThrow(CommandDeadlineError);
    });
  });

  it.sequential('a command waiting for a pool connection (all of them busy) gives up at its deadline, a statement or a transaction, and starts nothing after', async () => {
    const store = await pg.openStore({ timeouts: TIMEOUTS, maxConnections: 1 });
    await run(store, 'alice', 'CRT t');
    // The one connection held for longer than the deadline, by a transaction outside any command.
    const busyDone = store.sql.begin(async (tx) => tx`SELECT pg_sleep(1.4)`).then(() => 'done' as const);
    while ((await running(store, '%pg_sleep%', pg)) === 0) await sleep(10);
    // RDT: one statement; CRT: a transaction.
    const [read, created] = await Promise.all([
      timed(() => withCommandDeadline(400, () => lines(run(store, 'alice', 'RDT t')))),
      timed(() => withCommandDeadline(400, () => lines(run(store, 'alice', 'CRT u')))),
    ]);
    expect(read.value).toEqual([timedOutText('command')]);
    expect(created.value).toEqual([timedOutText('command')]);
    // Before: both answered once the connection was free (1.4 s), the CRT creating its thread.
    expect(Math.max(read.ms, created.ms)).toBeLessThan(400 + ANSWER_SLACK_MS);
    expect(await busyDone).toBe('done');
    // The transaction that got its connection after its deadline ran nothing and rolled back.
    expect(await lines(run(store, 'alice', 'LST'))).toEqual(['The list of active threads:', 't']);
  });

  it.sequential("an upload's commit past its deadline is not committed, and its pending row and chunks are still deleted (the discard runs outside the deadline)", async () => {
    const store = await pg.openStore({ timeouts: TIMEOUTS });
    await run(store, 'alice', 'CRT t');
    const begun = await store.beginUpload('t', 'f', 'alice')();
    if (E.isLeft(begun)) throw new Error(JSON.stringify(begun.left));
    await new Promise<void>((resolve, reject) => begun.right.stream.write(Buffer.alloc(UPLOAD_CHUNK_BYTES + 10, 1), (e) => (e ? reject(e) : resolve())));
    // The commit: the upload's row made visible, then its line and the thread's size: 1.6 s together, 0.8 s each.
    await slowDown(store, 'entries', 'INSERT', 0.8);
    await slowDown(store, 'threads', 'UPDATE', 0.8);
    const committed = await timed(() => withCommandDeadline(DEADLINE_MS, begun.right.commit));
    await dropSlowDown(store, 'entries', 'INSERT');
    await dropSlowDown(store, 'threads', 'UPDATE');
    // Before (no deadline): committed after 1.6 s.
    expect(committed.value).toMatchObject(E.left({ kind: 'io', timedOut: true }));
    expect(committed.ms).toBeLessThan(DEADLINE_MS + ANSWER_SLACK_MS);
    expect(await lines(run(store, 'alice', 'RDT t'))).toEqual(['Thread t is empty']);
    // Deleted at once, not left to the retry (discardRetryMs) or the 10-minute sweep: a discard refused by the deadline it ran under would be.
    // Its chunks doomed with it, for the sweep of deleted uploads (the one the discard began, or this).
    expect(await store.sql`SELECT count(*)::int AS n FROM uploads`).toEqual([{ n: 0 }]);
    await store.sweepDoomedUploads();
    expect(await store.sql`SELECT count(*)::int AS n FROM upload_chunks`).toEqual([{ n: 0 }]);
  });

  it.sequential("RMV of a thread holding many chunks goes through under a deadline shorter than their deletion: it deletes none, the sweep does after, outside any deadline", async () => {
    const store = await pg.openStore({ timeouts: TIMEOUTS, doomedUploadSweep: { batchChunks: 256 } });
    await run(store, 'alice', 'CRT t');
    const chunks = 200;
    // A committed upload of 200 (small) chunks, as the writer stores them.
    await store.sql.begin(async (tx) => {
      const [u] = await tx<{ id: string }[]>`INSERT INTO uploads (thread, filename, uploader, size, committed) VALUES ('t', 'f', 'alice', ${chunks}, true) RETURNING id`;
      await tx`INSERT INTO upload_chunks (upload_id, seq, data) SELECT ${u?.id ?? '0'}, g, '\\x00'::bytea FROM generate_series(0, ${chunks - 1}) g`;
    });
    // A statement deleting chunks takes longer than the deadline allows.
    await slowDown(store, 'upload_chunks', 'DELETE', 0.6);
    const deadlineMs = 300;
    const rmv = await timed(() => withCommandDeadline(deadlineMs, () => lines(run(store, 'alice', 'RMV t'))));
    // Schema 7 deleted the chunks in RMV's transaction, given 6 ms a chunk more; without that, the timeout's line, and the thread kept (at every try).
    expect(rmv.value).toEqual(['Thread t removed']);
    expect(rmv.ms).toBeLessThan(deadlineMs);
    // Swept after (within the same RMV's deadline, were it still running: the sweep is not held to it).
    await withCommandDeadline(deadlineMs, () => store.sweepDoomedUploads());
    expect(await store.sql`SELECT count(*)::int AS n FROM upload_chunks`).toEqual([{ n: 0 }]);
  });
});

/**
 * The backend running a statement like `like` (waited for), from the watcher's connection. Running, not
 * parsed and waiting for the client's Bind (`ClientRead`, shown as active too): a cancel then is dropped.
 * `key`: waiting for that advisory lock ({@link holdOn}'s), so that a test's is not another's: the tests on the
 * file's PostgreSQL run side by side, and pg_stat_activity is the cluster's (two MSGs' `INSERT INTO entries`).
 */
const backendOf = async (like: string, key?: number): Promise<number> => {
  const deadline = performance.now() + 5_000;
  for (;;) {
    const [row] = await watcher()<{ pid: number }[]>`
      SELECT pid FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE ${like}
        AND wait_event_type IS DISTINCT FROM 'Client'
        AND (${key ?? null}::bigint IS NULL OR pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = 0 AND objid::bigint = ${key ?? 0}::bigint))`;
    if (row !== undefined) return row.pid;
    if (performance.now() > deadline) throw new Error(`no statement like ${like} runs`);
    await sleep(10);
  }
};

/**
 * A MSG to a new thread `t` whose line's insert (held until the watcher lets go) `how` ends from another connection:
 * its outcome. Held, not slowed by a sleep: at load ~10 a 1 s sleep ran out before the cancel landed, and the MSG
 * was stored ("Message posted"; the suite helper's flake).
 */
const msgEndedBy = async (store: PostgresStore, how: 'pg_cancel_backend' | 'pg_terminate_backend'): Promise<CommandOutcome> => {
  await run(store, 'alice', 'CRT t');
  await holdOn(store, 'entries', 'INSERT', 4747);
  try {
    const msg = run(store, 'alice', 'MSG t ended');
    const pid = await backendOf('%INSERT INTO entries%', 4747);
    expect(await watcher().unsafe(`SELECT ${how}($1) AS ok`, [pid])).toEqual([{ ok: true }]);
    return await msg;
  } finally {
    await watcher()`SELECT pg_advisory_unlock(4747)`;
    await dropSlowDown(store, 'entries', 'INSERT');
  }
};

// The rest of the file, on the file's PostgreSQL, one test after another, beside the block above.
describe.concurrent("on the file's PostgreSQL", () => {
  describe.sequential('a statement ended by an administrator', () => {
    it('pg_cancel_backend: the client reads that an administrator cancelled the command, the log says so, and nothing of it is stored', async () => {
      const store = await pg.openStore({ timeouts: TIMEOUTS });
      const outcome = await msgEndedBy(store, 'pg_cancel_backend');
      // Before: the timeout's line ("did not answer in time"), as for statement_timeout.
      expect(outcome).toMatchObject({ kind: 'reply', reply: { lines: [cancelledText('command')] } });
      expect(outcome.kind === 'reply' ? outcome.log : []).toContain('Store error: a database administrator cancelled the statement (pg_cancel_backend): canceling statement due to user request');
      expect(await lines(run(store, 'alice', 'RDT t'))).toEqual(['Thread t is empty']);
    });

    it("in a database whose messages are not in English (lc_messages), an administrator's cancel is still told from statement_timeout, by where PostgreSQL raised it", async () => {
      const store = await pg.openStore({ timeouts: { ...TIMEOUTS, statementMs: 300 } });
      // The two 57014s PostgreSQL raises, as this server words them (English: the embedded server has no translations).
      const timedOut = await store.sql`SELECT pg_sleep(1)`.then(() => undefined, (e: unknown) => e);
      const cancelling = store.sql`SELECT pg_sleep(0.25)`.then(() => undefined, (e: unknown) => e);
      expect(await watcher().unsafe('SELECT pg_cancel_backend($1) AS ok', [await backendOf('%pg_sleep(0.25)%')])).toEqual([{ ok: true }]);
      const cancelled = await cancelling;
      if (!(timedOut instanceof postgres.PostgresError) || !(cancelled instanceof postgres.PostgresError)) throw new Error('expected two PostgreSQL errors');
      expect([timedOut.code, cancelled.code]).toEqual(['57014', '57014']);
      // The same errors from a server with lc_messages = 'de_DE.UTF-8' (PostgreSQL's German catalogue).
      const inGerman = (e: postgres.PostgresError, message: string): postgres.PostgresError =>
        new postgres.PostgresError({ severity_local: 'FEHLER', severity: e.severity, code: e.code, message, file: e.file, line: e.line, routine: e.routine } as never);
      const germanCancel = inGerman(cancelled, 'storniere Anfrage wegen Benutzeraufforderung');
      const germanTimeout = inGerman(timedOut, 'storniere Anfrage wegen Zeitüberschreitung der Anweisung');
      // Before (the English message only): the administrator's cancel read as a time limit.
      expect(ioErrorText(postgresIoError(germanCancel), 'command')).toBe(cancelledText('command'));
      expect(ioErrorText(postgresIoError(germanTimeout), 'command')).toBe(timedOutText('command'));
      expect(ioErrorText(postgresIoError(cancelled), 'command')).toBe(cancelledText('command'));
      expect(ioErrorText(postgresIoError(timedOut), 'command')).toBe(timedOutText('command'));
    });

    it("the probe that learns how a cancel reads runs without statement_timeout: a limit that ends it before its cancel lands is not learnt as a cancel", async () => {
      const shadow = `shadow_${process.pid}`;
      await watcher().unsafe(`CREATE SCHEMA IF NOT EXISTS ${shadow}`);
      // A cancel that does not land within the connection's 100 ms limit: a pg_cancel_backend found before
      // pg_catalog's on the search path, cancelling nothing.
      await watcher().unsafe(`CREATE OR REPLACE FUNCTION ${shadow}.pg_cancel_backend(integer) RETURNS boolean LANGUAGE sql AS 'SELECT false'`);
      const probed = pg.connect({ connection: { search_path: `${shadow}, pg_catalog`, statement_timeout: 100 } });
      await learnUserCancel(probed);
      const timedOut = await probed`SELECT pg_sleep(1)`.then(() => undefined, (e: unknown) => e);
      expect(timedOut).toMatchObject({ code: '57014', message: 'canceling statement due to statement timeout' });
      // Before: the probe, ended by statement_timeout, taught the store that error's place and message as a
      // cancel request's, and every statement_timeout after read as an administrator's cancel.
      expect(isCancelledByUser(timedOut)).toBe(false);
      expect(ioErrorText(postgresIoError(timedOut), 'command')).toBe(timedOutText('command'));
    });

    it('statement_timeout and lock_timeout keep the timeout line', async () => {
      const store = await pg.openStore({ timeouts: { ...TIMEOUTS, statementMs: 300 } });
      await run(store, 'alice', 'CRT t');
      await slowDown(store, 'entries', 'INSERT', 1);
      const outcome = await run(store, 'alice', 'MSG t slow');
      await dropSlowDown(store, 'entries', 'INSERT');
      expect(outcome).toMatchObject({ kind: 'reply', reply: { lines: [timedOutText('command')] } });
      expect(outcome.kind === 'reply' ? outcome.log : []).toContain('Store error: canceling statement due to statement timeout');
    });

    it('pg_terminate_backend: the client reads that the database closed the connection, and the pool serves the next command on a new one', async () => {
      const store = await pg.openStore({ timeouts: TIMEOUTS, maxConnections: 1 });
      const outcome = await msgEndedBy(store, 'pg_terminate_backend');
      expect(outcome).toMatchObject({ kind: 'reply', reply: { lines: [terminatedText('command')] } });
      expect(outcome.kind === 'reply' ? outcome.log : []).toContain(
        "Store error: the database ended the server's connection (pg_terminate_backend, a shutdown): terminating connection due to administrator command",
      );
      // The one connection of the pool was the one ended.
      expect(await lines(run(store, 'alice', 'MSG t after'))).toEqual(['Message posted to t thread']);
      expect(await lines(run(store, 'alice', 'RDT t'))).toEqual(['1 alice: after']);
    });
  });

  /** `p`'s outcome, or 'hung' if it has not settled within `ms`. */
  const settledWithin = <A>(p: Promise<A>, ms: number): Promise<{ readonly value: A } | { readonly error: unknown } | 'hung'> =>
    Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), sleep(ms).then(() => 'hung' as const)]);

  describe.sequential('a deadline passing while the connections are busy with other commands\' statements', () => {
    it("the late command is answered at its deadline, not after the statement ahead of it; the statement after it gets its own rows", async () => {
      // Lock waits allowed longer than the test: the statement ahead ends when the test lets it.
      const store = await pg.openStore({ timeouts: { ...TIMEOUTS, statementMs: 10_000, lockMs: 10_000 }, maxConnections: 1 });
      expect(await store.createAccount({ username: 'alice', password: 'alice-secret' })()).toEqual(E.right(true));
      expect(await store.createAccount({ username: 'mallory', password: 'mallory-secret' })()).toEqual(E.right(true));
      // Described on the one connection: a statement already described was written behind a running one (pipelined), not queued.
      await store.getAccount('alice')();
      // The connection busy with another command's statement (outside any deadline) until the test lets it go:
      // it waits for an advisory lock the watcher holds (a row held by a stuck server, a slow disk).
      await watcher()`SELECT pg_advisory_lock(4242)`;
      const busy = store.sql`SELECT pg_advisory_lock(4242)`.then(() => 'done' as const);
      await backendOf('%pg_advisory_lock%', 4242);
      // Behind it: mallory's read, whose command has 100 ms, then alice's login read.
      const late = timed(() => withCommandDeadline(100, () => store.getAccount('mallory')()));
      const honest = store.getAccount('alice')();
      const l = await settledWithin(late, 3_000);
      // Before: written behind the busy statement, it could not be cancelled (postgres.js 3.4.9 then handed its
      // rows to the statement behind it, another command's) and was left to run: still unanswered at 3 s (it
      // came once the lock was let go). Now it waited in the pool's queue, and its deadline took it out.
      expect(l).toMatchObject({ value: { value: E.left({ kind: 'io', timedOut: true }) } });
      expect(l !== 'hung' && 'value' in l ? l.value.ms : Infinity).toBeLessThan(100 + ANSWER_SLACK_MS);
      await watcher()`SELECT pg_advisory_unlock(4242)`;
      expect(await busy).toBe('done');
      expect(await settledWithin(honest, 3_000)).toEqual({ value: E.right(O.some({ username: 'alice', password: 'alice-secret' })) });
      await store.sql`SELECT pg_advisory_unlock(4242)`;
      // The connection answers in order afterwards.
      expect(await store.getAccount('mallory')()).toEqual(E.right(O.some({ username: 'mallory', password: 'mallory-secret' })));
    });
  });

  describe.sequential('a statement cancelled by its deadline after sending rows', () => {
    it("the connection's next statement, another command's, reads its own rows only", async () => {
      const store = await pg.openStore({ timeouts: TIMEOUTS, maxConnections: 1 });
      await run(store, 'alice', 'CRT t');
      // A read whose rows come slowly (a large thread on a busy database): cancelled at its deadline after some of them.
      const read = await withCommandDeadline(300, () => store.sql`SELECT i, pg_sleep(0.02) FROM generate_series(1, 100) i`.then(() => 'read' as const, (e: unknown) => e));
      expect(read).toMatchObject({ code: '57014' });
      // Before (postgres.js kept the cancelled statement's row count): the next statement's rows came after as many
      // holes, here ['The list of active threads:', 't', undefined × 14]; a login's account read, a hole for its row.
      expect(await lines(run(store, 'alice', 'LST'))).toEqual(['The list of active threads:', 't']);
    });
  });

  /**
   * A TCP relay to PostgreSQL on loopback that holds each cancel request (a new connection whose first
   * message is CancelRequest, 80877102) until `releaseCancels()`: the store's cancel then reaches its
   * connection late, at a time the test chooses.
   */
  const cancelHoldingRelay = async (target: URL): Promise<{ readonly url: string; readonly cancelsHeld: () => number; readonly releaseCancels: (n?: number) => void }> => {
    const held: (() => void)[] = [];
    const sockets = new Set<net.Socket>();
    const server = net.createServer((client) => {
      sockets.add(client);
      client.once('data', (first) => {
        const forward = (): void => {
          const upstream = net.connect(Number(target.port), target.hostname);
          sockets.add(upstream);
          upstream.on('error', () => client.destroy());
          client.on('error', () => upstream.destroy());
          upstream.write(first);
          client.pipe(upstream).pipe(client);
        };
        if (first.length >= 8 && first.readInt32BE(4) === 80877102) held.push(forward);
        else forward();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    pg.onClose(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const port = (server.address() as net.AddressInfo).port;
    const url = new URL(target.href);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    return { url: url.href, cancelsHeld: () => held.length, releaseCancels: (n = held.length) => held.splice(0, n).forEach((f) => f()) };
  };

  /**
   * The start (epoch ms) of a statement like `like` waiting for advisory lock `key` ({@link holdOn}'s; the key tells
   * this test's statement from another's, as in {@link backendOf}) now on backend
   * `pid` (any but the watcher's if none) that started after `after`, waited for (`undefined` once `given`
   * is true). Waiting, not merely active: a statement is active from its Parse, and its start moves at its
   * Bind and again at its Execute, so one seen before it executed (under load: parsed and waiting for the
   * client's Bind, or bound and not yet executed) was seen again as "started after" itself, and a cancel
   * landing before its Execute is dropped (PostgreSQL ignores one while it reads a command).
   */
  const startedAfter = async (like: string, key: number, after: number, given: () => boolean = () => false, pid?: number): Promise<number | undefined> => {
    const deadline = performance.now() + 5_000;
    for (;;) {
      const [row] = await watcher()<{ started: number }[]>`
        SELECT (extract(epoch FROM query_start) * 1000)::float8 AS started FROM pg_stat_activity
        WHERE state = 'active' AND pid <> pg_backend_pid() AND (${pid ?? null}::int IS NULL OR pid = ${pid ?? null}::int) AND query LIKE ${like}
          AND wait_event_type = 'Lock' AND extract(epoch FROM query_start) * 1000 > ${after}
          AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = 0 AND objid::bigint = ${key}::bigint)`;
      if (row !== undefined) return row.started;
      if (given()) return undefined;
      if (performance.now() > deadline) throw new Error(`no new statement like ${like} runs`);
      await sleep(5);
    }
  };

  /** {@link startedAfter} for the MSG's `INSERT INTO entries`. */
  const insertStartedAfter = (key: number, after: number, given?: () => boolean): Promise<number | undefined> => startedAfter('%INSERT INTO entries%', key, after, given);

  describe.sequential("the deadline's cancel reaching its connection after its statement ended", () => {
    it("the connection's next statement, another command's, is run again (alone) or its transaction is (MSG), not answered as cancelled by an administrator", async () => {
      const relay = await cancelHoldingRelay(new URL(pg.url()));
      const opened = await openPostgresStore(relay.url, { schema: `t${process.pid}_stray`, timeouts: TIMEOUTS, maxConnections: 1 })();
      if (E.isLeft(opened)) throw new Error(opened.left.message);
      const store = opened.right;
      pg.onClose(() => store.close());
      await run(store, 'alice', 'CRT t');
      // A command whose statement outlasts its 200 ms deadline; its cancel is held, so the statement ends (400 ms) unharmed.
      const late = await withCommandDeadline(200, () => store.sql<{ x: number }[]>`SELECT 1 AS x, pg_sleep(0.4)`.then((rows) => rows.map((r) => r.x)));
      expect(late).toEqual([1]);
      expect(relay.cancelsHeld()).toBe(1);
      // Another command's statement on the one connection, waiting for a lock the watcher holds until the test
      // lets it go: the cancel released while it waits lands on it. (It ran 300 ms before, and a cancel landing
      // after it ended hit the idle connection and was dropped: the test passed with nothing cancelled.)
      await watcher()`SELECT pg_advisory_lock(4545)`;
      const alone = store.sql<{ y: number }[]>`SELECT 2 AS y, pg_advisory_xact_lock(4545)`.then((rows) => rows.map((r) => r.y), (e: unknown) => e);
      const cancelled = await startedAfter('%pg_advisory_xact_lock(4545)%', 4545, 0);
      relay.releaseCancels();
      // It landed: the statement was cancelled and is run again, waiting for the lock in its turn.
      expect(await startedAfter('%pg_advisory_xact_lock(4545)%', 4545, cancelled ?? 0)).toBeGreaterThan(cancelled ?? 0);
      await watcher()`SELECT pg_advisory_unlock(4545)`;
      // Before: rejected, PostgreSQL's 57014 "canceling statement due to user request" (an administrator's, as the store read it).
      expect(await alone).toEqual([2]);
      // The same with a command's transaction (MSG): its insert waits for a lock until the stray request lands on it.
      await withCommandDeadline(200, () => store.sql`SELECT pg_sleep(0.4)`.then(() => 'done'));
      expect(relay.cancelsHeld()).toBe(1);
      await holdOn(store, 'entries', 'INSERT', 4646);
      const msg = run(store, 'alice', 'MSG t honest');
      const first = await insertStartedAfter(4646, 0);
      relay.releaseCancels();
      // Its transaction, rolled back by the cancel, runs again: its insert waits in its turn.
      expect(await insertStartedAfter(4646, first ?? 0)).toBeGreaterThan(first ?? 0);
      await watcher()`SELECT pg_advisory_unlock(4646)`;
      const outcome = await msg;
      await dropSlowDown(store, 'entries', 'INSERT');
      // Before: [cancelledText('command')], "An administrator of the server's database cancelled the command".
      expect(outcome).toMatchObject({ kind: 'reply', reply: { lines: ['Message posted to t thread'] } });
      expect(await lines(run(store, 'alice', 'RDT t'))).toEqual(['1 alice: honest']);
    });

    it("a transaction whose second run meets a stray cancel too is answered with the timeout line, not the administrator's, and nothing of it is stored", async () => {
      const relay = await cancelHoldingRelay(new URL(pg.url()));
      // Lock waits allowed longer than the test: each run's insert waits (below) until a cancel lands on it.
      const opened = await openPostgresStore(relay.url, { schema: `t${process.pid}_stray2`, timeouts: { ...TIMEOUTS, statementMs: 10_000, lockMs: 10_000 }, maxConnections: 1 })();
      if (E.isLeft(opened)) throw new Error(opened.left.message);
      const store = opened.right;
      pg.onClose(() => store.close());
      await run(store, 'alice', 'CRT t');
      // Two commands' cancels held for the one connection, their statements ended unharmed.
      for (let i = 0; i < 2; i++) expect(await withCommandDeadline(200, () => store.sql`SELECT pg_sleep(0.4)`.then(() => 'done'))).toBe('done');
      expect(relay.cancelsHeld()).toBe(2);
      // Each run's insert waits for a lock the watcher holds, so a cancel released while it waits lands on it.
      // Before (a 300 ms insert, seen merely active): under load, about 1 run in 5 with two cores busy, the
      // first run's insert was seen before it executed, then seen again as the second run's; both cancels were
      // released on the first run, and the second run committed or waited out its lock timeout.
      await holdOn(store, 'entries', 'INSERT', 4343);
      let answered = false;
      const msg = run(store, 'alice', 'MSG t honest').finally(() => (answered = true));
      const first = await insertStartedAfter(4343, 0);
      relay.releaseCancels(1);
      // Its transaction's second run (none before: the MSG was answered): the other cancel lands on it.
      if ((await insertStartedAfter(4343, first ?? 0, () => answered)) !== undefined) relay.releaseCancels(1);
      const outcome = await msg;
      await watcher()`SELECT pg_advisory_unlock(4343)`;
      await dropSlowDown(store, 'entries', 'INSERT');
      // Before (no retry, no stray cancel known): [cancelledText('command')].
      expect(outcome).toMatchObject({ kind: 'reply', reply: { lines: [timedOutText('command')] } });
      expect(outcome.kind === 'reply' ? outcome.log : []).toContain(
        "Store error: the server's own cancel of another command's statement on this connection reached this one: canceling statement due to user request",
      );
      expect(await lines(run(store, 'alice', 'RDT t'))).toEqual(['Thread t is empty']);
    });

    it("a cancel of the store's whose connection never closes counts as in flight for CANCEL_IN_FLIGHT_MAX_MS only: an administrator's cancel after that is his", async () => {
      const relay = await cancelHoldingRelay(new URL(pg.url()));
      const opened = await openPostgresStore(relay.url, { schema: `t${process.pid}_stray_held`, timeouts: TIMEOUTS, maxConnections: 1 })();
      if (E.isLeft(opened)) throw new Error(opened.left.message);
      const store = opened.right;
      pg.onClose(() => store.close());
      // A command's cancel, held by the relay for good (neither forwarded nor closed); its statement ends unharmed.
      expect(await withCommandDeadline(200, () => store.sql`SELECT pg_sleep(0.4)`.then(() => 'done'))).toBe('done');
      const sentBy = performance.now() - 200;
      expect(relay.cancelsHeld()).toBe(1);
      // The bound, and the window after it, passed (a time constant of the store's, waited for, not hoped for).
      await sleep(sentBy + CANCEL_IN_FLIGHT_MAX_MS + STRAY_CANCEL_WINDOW_MS + 200 - performance.now());
      expect(relay.cancelsHeld()).toBe(1);
      // An administrator cancels the connection's next statement.
      const next = store.sql`SELECT pg_sleep(0.5)`.then(() => 'ran' as const, (e: unknown) => e);
      expect(await watcher().unsafe('SELECT pg_cancel_backend($1) AS ok', [await backendOf('%pg_sleep(0.5)%')])).toEqual([{ ok: true }]);
      const outcome = await next;
      // Before: 'ran' (taken for the store's own cancel, still in flight, and run again: the administrator's cancel lost).
      expect(outcome).toMatchObject({ code: '57014' });
      expect(ioErrorText(postgresIoError(outcome), 'command')).toBe(cancelledText('command'));
    });

    it('a victim that is not run again (a retry cancelled so too) is answered with the timeout line, and logged as the server\'s own cancel', () => {
      const cancelled = new postgres.PostgresError({ code: '57014', message: 'canceling statement due to user request' } as never);
      const e = postgresIoError(new StrayCancelError(cancelled));
      expect(e).toMatchObject({ kind: 'io', timedOut: true });
      expect(e.interrupted).toBeUndefined();
      expect(ioErrorText(e, 'command')).toBe(timedOutText('command'));
      expect(e.message).toBe("the server's own cancel of another command's statement on this connection reached this one: canceling statement due to user request");
      // An administrator's cancel (no cancel of the store's before it) keeps its line.
      expect(ioErrorText(postgresIoError(cancelled), 'command')).toBe(cancelledText('command'));
    });
  });
});
