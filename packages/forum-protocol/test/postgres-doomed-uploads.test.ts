/**
 * Schema 8: a deleted upload's chunks are doomed (`doomed_uploads`) in the deleting transaction and
 * deleted after it by each server's sweeper, in small transactions. RMV answers without touching them.
 */
import * as E from 'fp-ts/lib/Either.js';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { describe, expect, it, vi } from 'vitest';
import { expectSameBytes } from '../../../test-support/same-bytes.js';
import { openPostgresStore, SCHEMA_VERSION, UPLOAD_CHUNK_BYTES, type PostgresStore } from '../src/postgres.js';
import { sweepDoomedBatch } from '../src/postgres-store/postgres-doomed-uploads.js';
import { lines, readAll, run, upload } from './helpers.js';
import { backToSchema, schemaOf, usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 21 });

/** A committed upload's row and `chunks` chunks of `bytes` each, written straight into the tables (quicker than the writer for thousands); no line. */
const storeChunks = async (store: PostgresStore, title: string, filename: string, chunks: number, bytes = 16): Promise<string> => {
  const data = randomBytes(bytes);
  return store.sql.begin(async (tx) => {
    const [u] = await tx<{ id: string }[]>`
      INSERT INTO uploads (thread, filename, uploader, size, committed) VALUES (${title}, ${filename}, 'alice', ${chunks * bytes}, true) RETURNING id`;
    const id = u?.id ?? '0';
    await tx`INSERT INTO upload_chunks (upload_id, seq, data) SELECT ${id}, g, ${data} FROM generate_series(0, ${chunks - 1}) g`;
    return id;
  });
};

/** Chunks left in the table, doomed uploads left, and the bytes `upload_bytes` counts. */
const left = async (sql: postgres.Sql): Promise<{ chunks: number; doomed: number; bytes: number }> => {
  const [row] = await sql<{ chunks: number; doomed: number; bytes: number }[]>`
    SELECT (SELECT count(*)::int FROM upload_chunks) AS chunks, (SELECT count(*)::int FROM doomed_uploads) AS doomed,
           (SELECT bytes::int FROM upload_bytes) AS bytes`;
  return row ?? { chunks: -1, doomed: -1, bytes: -1 };
};

/** Installs a statement trigger recording how many chunks each statement deleting chunks deleted. */
const recordChunkDeletes = async (sql: postgres.Sql): Promise<() => Promise<readonly number[]>> => {
  await sql`CREATE TABLE seen_deletes (chunks integer NOT NULL)`;
  await sql`CREATE FUNCTION record_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO seen_deletes SELECT count(*) FROM gone; RETURN NULL; END $$`;
  await sql`CREATE TRIGGER record_deletes AFTER DELETE ON upload_chunks REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION record_deletes()`;
  return async () => (await sql<{ chunks: number }[]>`DELETE FROM seen_deletes RETURNING chunks`).map((r) => r.chunks);
};

/** A slow disk: each chunk deleted takes `chunkMs` (a row trigger; 40 ms by default, so 32 chunks a statement take 1.28 s and more). */
const slowChunkDeletes = async (sql: postgres.Sql, chunkMs = 40): Promise<void> => {
  await sql.unsafe(`CREATE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_sleep(${chunkMs / 1000}); RETURN NULL; END $$`);
  await sql`CREATE TRIGGER slow_delete AFTER DELETE ON upload_chunks FOR EACH ROW EXECUTE FUNCTION slow_delete()`;
};

/**
 * The statement_timeout of the stores whose sweep meets a slow disk of SLOW_CHUNK_MS a chunk: 32 chunks a
 * statement (800 ms) run past it, 16 (400 ms) do not. Scaled down together from 1 s and 40 ms: the halving is
 * the same (64, 32, 16), each timed-out batch ends sooner.
 */
const SLOW_STATEMENT_MS = 600;
const SLOW_CHUNK_MS = 25;

/** A store on `store`'s schema with the default timeouts, sweeping nothing by itself: it writes the chunks, whatever `store`'s statement_timeout. */
const unlimited = async (store: PostgresStore): Promise<PostgresStore> => pg.openPeer(store, { doomedUploadSweep: { auto: false } });

// The rolling upgrade's tests (4 s, most of it waiting on locks and deadlock_timeout) run beside the rest of the file on
// a PostgreSQL of their own (their migration and the others' sweeps read pg_stat_activity for lock waits, cluster-wide);
// each block's tests one after another.
describe.concurrent("on the file's PostgreSQL", () => {
  describe.sequential('RMV detaches the uploads; the sweep deletes their chunks', () => {
    it('RMV deletes no chunk, however many the thread holds: 20,000 cost it what 1 does; the sweep deletes them all after, in batches', async () => {
      const store = await pg.openStore({ doomedUploadSweep: { auto: false, batchChunks: 500 } });
      const seen = await recordChunkDeletes(store.sql);
      await run(store, 'alice', 'CRT small');
      await run(store, 'alice', 'CRT large');
      await storeChunks(store, 'small', 'f', 1);
      await storeChunks(store, 'large', 'f', 10_000);
      await storeChunks(store, 'large', 'g', 10_000);
      expect(await lines(run(store, 'alice', 'RMV small'))).toEqual(['Thread small removed']);
      expect(await lines(run(store, 'alice', 'RMV large'))).toEqual(['Thread large removed']);
      // Before (schema 7): [1, 20000], each RMV deleting its thread's chunks before it answered.
      expect(await seen()).toEqual([]);
      expect(await left(store.sql)).toEqual({ chunks: 20_001, doomed: 3, bytes: 20_001 * 16 });
      // Gone with the thread at once, though their chunks are not: no title, no file, no line.
      expect(await lines(run(store, 'alice', 'LST'))).toEqual(['No threads to list']);
      expect(await store.sql`SELECT count(*)::int AS n FROM uploads`).toEqual([{ n: 0 }]);
      expect(await store.sweepDoomedUploads()).toBe(20_001);
      const batches = await seen();
      expect(Math.max(...batches)).toBeLessThanOrEqual(500);
      expect(batches.length).toBeGreaterThanOrEqual(20_000 / 500);
      expect(await left(store.sql)).toEqual({ chunks: 0, doomed: 0, bytes: 0 });
    });

    it('a batch size that is not a whole number (NaN, 2.5, 0) still sweeps: every pass failed on LIMIT before', async () => {
      for (const batchChunks of [Number.NaN, 2.5, 0]) {
        const store = await pg.openStore({ doomedUploadSweep: { auto: false, batchChunks } });
        await run(store, 'alice', 'CRT t');
        await storeChunks(store, 't', 'f', 5);
        expect(await lines(run(store, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
        expect(await store.sweepDoomedUploads()).toBe(5);
        expect(await left(store.sql)).toEqual({ chunks: 0, doomed: 0, bytes: 0 });
      }
    });

    it('by itself (the default), the store sweeps what its RMV doomed', async () => {
      const store = await pg.openStore({ doomedUploadSweep: { batchChunks: 8 } });
      await run(store, 'alice', 'CRT t');
      await storeChunks(store, 't', 'f', 100);
      expect(await lines(run(store, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
      await vi.waitFor(async () => expect(await left(store.sql)).toEqual({ chunks: 0, doomed: 0, bytes: 0 }), { timeout: 5_000, interval: 20 });
    });

    it('a server gone between RMV and sweep leaves the chunks to the next store that opens on the database', async () => {
      const a = await pg.openStore({ doomedUploadSweep: { auto: false } });
      const schema = await schemaOf(a.sql);
      await run(a, 'alice', 'CRT t');
      await storeChunks(a, 't', 'f', 300);
      expect(await lines(run(a, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
      await a.close();
      const b = await pg.openPeer(schema, { doomedUploadSweep: { batchChunks: 16 } });
      // Swept by b's open, no command asked (the check waits for it: the sweep runs after the open answered).
      await vi.waitFor(async () => expect(await left(b.sql)).toEqual({ chunks: 0, doomed: 0, bytes: 0 }), { timeout: 5_000, interval: 20 });
    });

    it('a server closed mid-sweep stops after its batch; another sweeps the rest, no chunk deleted twice', async () => {
      const a = await pg.openStore({ doomedUploadSweep: { auto: false, batchChunks: 8 } });
      const schema = await schemaOf(a.sql);
      await run(a, 'alice', 'CRT t');
      await storeChunks(a, 't', 'f', 2_000);
      expect(await lines(run(a, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
      const sweeping = a.sweepDoomedUploads();
      await a.close();
      const byA = await sweeping;
      expect(byA).toBeGreaterThan(0);
      expect(byA).toBeLessThan(2_000);
      const b = await pg.openPeer(schema, { doomedUploadSweep: { auto: false } });
      expect((await left(b.sql)).chunks).toBe(2_000 - byA);
      expect(await b.sweepDoomedUploads()).toBe(2_000 - byA);
      expect(await left(b.sql)).toEqual({ chunks: 0, doomed: 0, bytes: 0 });
    });

    it("a server killed mid-batch (its connection ended) loses that batch's deletion, not the chunks: the other server sweeps them all, never having waited for it", async () => {
      const a = await pg.openStore({ doomedUploadSweep: { auto: false, batchChunks: 64 } });
      const b = await pg.openPeer(a, { doomedUploadSweep: { auto: false } });
      await run(a, 'alice', 'CRT t');
      await storeChunks(a, 't', 'f', 300);
      expect(await lines(run(a, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
      // a's batch stops inside its DELETE (a disk that hangs), its doomed upload locked, until a lock the test holds goes.
      const holder = pg.connect();
      await holder`SELECT pg_advisory_lock(5151)`;
      await a.sql`CREATE FUNCTION hang_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(5151); RETURN NULL; END $$`;
      await a.sql`CREATE TRIGGER hang_delete BEFORE DELETE ON upload_chunks FOR EACH STATEMENT EXECUTE FUNCTION hang_delete()`;
      const sweeping = a.sweepDoomedUploads().then(
        () => 'finished',
        (e: unknown) => (e instanceof postgres.PostgresError ? e.code : String(e)),
      );
      let pid: number | undefined;
      await vi.waitFor(
        async () => {
          // a's, waiting for 5151: the other block's sweeps run beside this one, on this PostgreSQL.
          const [row] = await holder<{ pid: number }[]>`
            SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%DELETE FROM upload_chunks%'
              AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = 0 AND objid = 5151)`;
          expect(row).toBeDefined();
          pid = row?.pid;
        },
        { timeout: 5_000, interval: 20 },
      );
      // b skips the upload a holds: at once, nothing deleted.
      expect(await b.sweepDoomedUploads()).toBe(0);
      // a is killed: its connection ended mid-batch, the batch rolled back.
      expect(await holder`SELECT pg_terminate_backend(${pid ?? 0}) AS ok`).toEqual([{ ok: true }]);
      expect(await sweeping).toBe('57P01');
      await a.sql`DROP TRIGGER hang_delete ON upload_chunks`;
      await holder`SELECT pg_advisory_unlock(5151)`;
      expect(await left(b.sql)).toEqual({ chunks: 300, doomed: 1, bytes: 300 * 16 });
      expect(await b.sweepDoomedUploads()).toBe(300);
      expect(await left(b.sql)).toEqual({ chunks: 0, doomed: 0, bytes: 0 });
    });

    it('two servers sweeping at once: neither fails, waits for the other, or deletes a chunk the other did', async () => {
      const a = await pg.openStore({ doomedUploadSweep: { auto: false, batchChunks: 16 } });
      const b = await pg.openPeer(a, { doomedUploadSweep: { auto: false, batchChunks: 16 } });
      const seen = await recordChunkDeletes(a.sql);
      for (let t = 0; t < 6; t++) {
        await run(a, 'alice', `CRT t${t}`);
        await storeChunks(a, `t${t}`, 'f', 400);
        expect(await lines(run(t % 2 === 0 ? a : b, 'alice', `RMV t${t}`))).toEqual([`Thread t${t} removed`]);
      }
      const rounds = await Promise.all([a.sweepDoomedUploads(), b.sweepDoomedUploads(), a.sweepDoomedUploads(), b.sweepDoomedUploads()]);
      // Each chunk deleted once: what the sweeps say they deleted, and what the statements deleted, is what there was.
      expect(rounds.reduce((x, y) => x + y, 0)).toBe(2_400);
      expect((await seen()).reduce((x, y) => x + y, 0)).toBe(2_400);
      expect(await left(a.sql)).toEqual({ chunks: 0, doomed: 0, bytes: 0 });
    });

    it("a background pass that fails is told (onError) and tried again within seconds, not at the next 60 s tick: the bytes come back once the database lets it", async () => {
      const told: string[] = [];
      const store = await pg.openStore({ doomedUploadSweep: { batchChunks: 8, onError: (m) => told.push(m) } });
      await run(store, 'alice', 'CRT t');
      await storeChunks(store, 't', 'f', 20);
      // Every deletion of chunks fails (a disk gone read-only, a limit too low for it): until the test lets it.
      await store.sql`CREATE FUNCTION fail_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the disk is gone' USING ERRCODE = 'io_error'; END $$`;
      await store.sql`CREATE TRIGGER fail_delete BEFORE DELETE ON upload_chunks FOR EACH STATEMENT EXECUTE FUNCTION fail_delete()`;
      expect(await lines(run(store, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
      // Before: the pass's failure was dropped (no word of it), and nothing tried again before the timer's 60 s.
      await vi.waitFor(() => expect(told.length).toBeGreaterThan(0), { timeout: 5_000, interval: 20 });
      expect(told[0]).toMatch(/^the sweep of deleted uploads' chunks failed \(their bytes still count; tried again within 1000 ms\): the disk is gone$/);
      expect(await left(store.sql)).toEqual({ chunks: 20, doomed: 1, bytes: 20 * 16 });
      await store.sql`DROP TRIGGER fail_delete ON upload_chunks`;
      await vi.waitFor(async () => expect(await left(store.sql)).toEqual({ chunks: 0, doomed: 0, bytes: 0 }), { timeout: 8_000, interval: 50 });
    });

    it("under a statement_timeout shorter than a batch takes, the sweep halves its batches until they fit: every pass failed for good before", async () => {
      const store = await pg.openStore({ timeouts: { statementMs: SLOW_STATEMENT_MS }, doomedUploadSweep: { auto: false, batchChunks: 64 } });
      await run(store, 'alice', 'CRT t');
      await storeChunks(await unlimited(store), 't', 'f', 40);
      // A slow disk: 25 ms a chunk deleted, so 32 chunks or more (800 ms) run past the limit, 16 (400 ms) do not.
      await slowChunkDeletes(store.sql, SLOW_CHUNK_MS);
      expect(await lines(run(store, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
      expect(await store.sweepDoomedUploads()).toBe(40);
      expect(await left(store.sql)).toEqual({ chunks: 0, doomed: 0, bytes: 0 });
    });

    it('batches halved by a slow spell grow back once batches fit again: a spell cut every later sweep for good before', async () => {
      const store = await pg.openStore({ timeouts: { statementMs: SLOW_STATEMENT_MS }, doomedUploadSweep: { auto: false, batchChunks: 64 } });
      const writer = await unlimited(store);
      await run(store, 'alice', 'CRT t');
      await run(store, 'alice', 'CRT u');
      await storeChunks(writer, 't', 'f', 40);
      // A slow spell (a disk busy for a while): 25 ms a chunk deleted while it lasts, so 16 chunks a batch fit.
      await store.sql`CREATE TABLE slow_spell (on_ boolean NOT NULL)`;
      await store.sql`INSERT INTO slow_spell VALUES (true)`;
      await store.sql.unsafe(`CREATE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF (SELECT on_ FROM slow_spell) THEN PERFORM pg_sleep(${SLOW_CHUNK_MS / 1000}); END IF; RETURN NULL; END $$`);
      await store.sql`CREATE TRIGGER slow_delete AFTER DELETE ON upload_chunks FOR EACH ROW EXECUTE FUNCTION slow_delete()`;
      expect(await lines(run(store, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
      expect(await store.sweepDoomedUploads()).toBe(40);
      // Over: a later sweep of 4,000 chunks starts at 16 a batch and is back to 64 before its end (64 full
      // batches of 16, then of 32: 3,072 chunks).
      await store.sql`UPDATE slow_spell SET on_ = false`;
      const seen = await recordChunkDeletes(store.sql);
      await storeChunks(writer, 'u', 'f', 4_000);
      expect(await lines(run(store, 'alice', 'RMV u'))).toEqual(['Thread u removed']);
      expect(await store.sweepDoomedUploads()).toBe(4_000);
      const batches = await seen();
      expect(batches[0]).toBe(16);
      expect(Math.max(...batches)).toBe(64);
      expect(await left(store.sql)).toEqual({ chunks: 0, doomed: 0, bytes: 0 });
    });

    it("an administrator's cancel of a batch fails the pass and leaves the batch size alone (not read as a time limit)", async () => {
      const store = await pg.openStore({ doomedUploadSweep: { auto: false, batchChunks: 64 } });
      const admin = pg.connect();
      await run(store, 'alice', 'CRT t');
      await run(store, 'alice', 'CRT u');
      await storeChunks(store, 't', 'f', 40);
      await slowChunkDeletes(store.sql);
      expect(await lines(run(store, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
      const pass = store.sweepDoomedUploads();
      const outcome = pass.then(() => 'swept', (e: unknown) => (e instanceof postgres.PostgresError ? `${e.code} ${e.message}` : String(e)));
      // The batch's DELETE runs for 1.6 s (40 chunks): cancelled while it does.
      const pid = await vi.waitFor(
        async () => {
          // This one, sleeping in slowChunkDeletes's trigger: the other block's sweeps run beside it, on this PostgreSQL.
          const [row] = await admin<{ pid: number }[]>`
            SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%DELETE FROM upload_chunks%' AND pid <> pg_backend_pid()
              AND wait_event = 'PgSleep'`;
          if (row === undefined) throw new Error('no batch runs yet');
          return row.pid;
        },
        { timeout: 5_000, interval: 10 },
      );
      expect(await admin`SELECT pg_cancel_backend(${pid}) AS ok`).toEqual([{ ok: true }]);
      expect(await outcome).toBe('57014 canceling statement due to user request');
      await store.sql`DROP TRIGGER slow_delete ON upload_chunks`;
      const seen = await recordChunkDeletes(store.sql);
      await storeChunks(store, 'u', 'f', 100);
      expect(await lines(run(store, 'alice', 'RMV u'))).toEqual(['Thread u removed']);
      expect(await store.sweepDoomedUploads()).toBe(140);
      // t's 40 (its cancelled batch rolled back), then u's 100 in batches of 64 still.
      expect(await seen()).toEqual([40, 64, 36]);
    });

    it('a doomed upload another server holds is skipped, not waited for', async () => {
      const store = await pg.openStore({ doomedUploadSweep: { auto: false } });
      await run(store, 'alice', 'CRT t');
      const id = await storeChunks(store, 't', 'f', 10);
      expect(await lines(run(store, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
      const other = pg.connect({ connection: { search_path: await schemaOf(store.sql) } });
      let release = (): void => undefined;
      let held = (): void => undefined;
      const isHeld = new Promise<void>((resolve) => (held = resolve));
      const holding = other.begin(async (tx) => {
        await tx`SELECT id FROM doomed_uploads WHERE id = ${id} FOR UPDATE`;
        held();
        await new Promise<void>((resolve) => (release = resolve));
      });
      await isHeld;
      // Nothing free to sweep: at once, nothing deleted (a plain FOR UPDATE waited lock_timeout, then failed).
      expect(await sweepDoomedBatch(store.sql, 64)).toBeUndefined();
      release();
      await holding;
      expect(await store.sweepDoomedUploads()).toBe(10);
    });
  });

  describe.sequential('the forum after RMV, its chunks not yet swept', () => {
    const writeAll = (w: { readonly stream: NodeJS.WritableStream }, bytes: Uint8Array): Promise<void> =>
      new Promise((resolve, reject) => w.stream.write(bytes, (e) => (e ? reject(e) : resolve())));

    it('a thread made again with the title sees no old file; UPD of the name into it works and DWN serves the new bytes; DWN of the old is refused', async () => {
      const a = await pg.openStore({ doomedUploadSweep: { auto: false } });
      await run(a, 'alice', 'CRT t');
      const old = randomBytes(3 * UPLOAD_CHUNK_BYTES);
      expect(await upload(a, 't', 'f', 'alice', old)).toEqual(E.right(undefined));
      const granted = await run(a, 'bob', 'DWN t f');
      if (granted.kind !== 'transfer') throw new Error('expected a transfer');
      expect(await lines(run(a, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
      expect((await left(a.sql)).chunks).toBe(3);
      expect(await lines(run(a, 'bob', 'DWN t f'))).toEqual(['Thread t does not exist']);
      expect(await lines(run(a, 'bob', 'CRT t'))).toEqual(['Thread t created']);
      expect(await lines(run(a, 'bob', 'RDT t'))).toEqual(['Thread t is empty']);
      expect(await lines(run(a, 'bob', 'DWN t f'))).toEqual(['File does not exist in Thread t']);
      const fresh = Buffer.from("bob's own file");
      expect(await upload(a, 't', 'f', 'bob', fresh)).toEqual(E.right(undefined));
      // The old grant names the removed thread's row: not served bob's file of the name.
      expect(await a.openDownload('t', 'f', granted.transfer.incarnation)()).toEqual(E.left({ kind: 'noThread', title: 't' }));
      const d = await a.openDownload('t', 'f')();
      if (E.isLeft(d)) throw new Error('openDownload failed');
      expect(await readAll(d.right.stream)).toEqual(fresh);
      expect(await a.sweepDoomedUploads()).toBe(3);
      expect(await lines(run(a, 'bob', 'RDT t'))).toEqual(['bob uploaded f']);
    });

    it("another server's RMV stops a download at its next chunk though the chunks are still there", async () => {
      const a = await pg.openStore({ doomedUploadSweep: { auto: false } });
      const b = await pg.openPeer(a, { doomedUploadSweep: { auto: false } });
      await run(a, 'alice', 'CRT t');
      expect(await upload(a, 't', 'f', 'alice', randomBytes(3 * UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
      const d = await a.openDownload('t', 'f')();
      if (E.isLeft(d)) throw new Error('openDownload failed');
      await new Promise<void>((resolve) => d.right.stream.once('readable', () => resolve()));
      expect(await lines(run(b, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
      expect((await left(a.sql)).chunks).toBe(3);
      const rest = readAll(d.right.stream);
      // Reading the chunks alone, the rest of the removed thread's file was served.
      expect(await d.right.stopped).toEqual({ kind: 'noThread', title: 't' });
      await expect(rest).rejects.toThrow();
    });

    it('uploads in flight during RMV: stopped at their next chunk (another server) or at once (this one), refused at commit; none lands in the thread made again', async () => {
      const a = await pg.openStore({ doomedUploadSweep: { auto: false } });
      const b = await pg.openPeer(a, { doomedUploadSweep: { auto: false } });
      await run(a, 'alice', 'CRT t');
      const begin = async (store: PostgresStore, filename: string) => {
        const w = await store.beginUpload('t', filename, 'bob')();
        if (E.isLeft(w)) throw new Error('beginUpload failed');
        await writeAll(w.right, randomBytes(UPLOAD_CHUNK_BYTES + 5));
        return w.right;
      };
      const onA = await begin(a, 'on-a');
      const onB = await begin(b, 'on-b');
      expect(await lines(run(a, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
      expect(await lines(run(a, 'carol', 'CRT t'))).toEqual(['Thread t created']);
      expect(await onA.stopped).toEqual({ kind: 'noThread', title: 't' });
      await writeAll(onB, randomBytes(UPLOAD_CHUNK_BYTES));
      expect(await onB.stopped).toEqual({ kind: 'noThread', title: 't' });
      expect(await onA.commit()).toEqual(E.left({ kind: 'noThread', title: 't' }));
      expect(await onB.commit()).toEqual(E.left({ kind: 'noThread', title: 't' }));
      expect(await lines(run(b, 'carol', 'RDT t'))).toEqual(['Thread t is empty']);
      // Their chunks, the one each stored before the RMV, are doomed with their rows; none was stored after.
      expect(await a.sql`SELECT count(*)::int AS n FROM uploads`).toEqual([{ n: 0 }]);
      expect(await a.sweepDoomedUploads()).toBe(2);
      expect(await left(a.sql)).toEqual({ chunks: 0, doomed: 0, bytes: 0 });
    });

    it('a chunk for an upload row already gone is refused with the foreign key SQLSTATE (23503), as before schema 8', async () => {
      const store = await pg.openStore({ doomedUploadSweep: { auto: false } });
      await run(store, 'alice', 'CRT t');
      const id = await storeChunks(store, 't', 'f', 1);
      expect(await lines(run(store, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
      const refused = await store.sql`INSERT INTO upload_chunks (upload_id, seq, data) VALUES (${id}, 1, '\\x00'::bytea)`.then(
        () => 'stored',
        (e: unknown) => (e instanceof postgres.PostgresError ? e.code : String(e)),
      );
      expect(refused).toBe('23503');
    });
  });
});

describe.concurrent('rolling upgrade to schema 8', () => {
  const pg = usePostgres({ migrated: 4 });
  // 0: the RMV goes on at once (the migration, waiting first, is ended as a rule); 1,500 ms: past deadlock_timeout (1 s), so the
  // migration's check finds no cycle yet and the RMV's, later, does (the RMV ended as a rule): both outcomes, either way.
  it.sequential.each([0, 1_500])("a schema 7 server's RMV in flight as a server of schema 8 migrates (its chunks counted, its thread not yet deleted), going on after %i ms: the server starts (the migration run again after the deadlock) and the RMV goes through or is refused whole", async (afterMs) => {
    const a = await pg.openStore({ doomedUploadSweep: { auto: false } });
    const schema = await schemaOf(a.sql);
    await run(a, 'alice', 'CRT old');
    await storeChunks(a, 'old', 'f', 3);
    await a.close();
    // The schema 7 server's connection, with the limits its pool sets.
    const old = pg.connect({ connection: { search_path: schema, lock_timeout: 2_000, statement_timeout: 5_000 } });
    await backToSchema(old, 7);
    // Its RMV as schema 7 ran it: the thread locked, the chunks counted (allowForDeletedChunks: upload_chunks
    // read), then the thread deleted (uploads and upload_chunks written by the cascade).
    let counted = (): void => undefined;
    const isCounted = new Promise<void>((resolve) => (counted = resolve));
    let goOn = (): void => undefined;
    const mayGoOn = new Promise<void>((resolve) => (goOn = resolve));
    const rmv = old
      .begin(async (tx) => {
        await tx`SELECT creator FROM threads WHERE title = 'old' FOR UPDATE`;
        await tx`SELECT count(*)::int AS n FROM upload_chunks WHERE upload_id IN (SELECT id FROM uploads WHERE thread = 'old')`;
        counted();
        await mayGoOn;
        await tx`DELETE FROM threads WHERE title = 'old'`;
      })
      .then(
        () => 'removed',
        (e: unknown) => (e instanceof postgres.PostgresError ? e.message : String(e)),
      );
    await isCounted;
    // The new server starts meanwhile: its migration locks uploads (a trigger), then waits for upload_chunks.
    const opening = openPostgresStore(pg.url(), { schema, maxConnections: 2, doomedUploadSweep: { auto: false } })().then((o) => {
      if (E.isLeft(o)) return o.left.message;
      pg.onClose(() => o.right.close());
      return 'opened';
    });
    const watcher = pg.connect();
    await vi.waitFor(
      async () => {
        const waiting = await watcher`
          SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE upload_chunks%'`;
        expect(waiting.length).toBe(1);
      },
      { timeout: 5_000, interval: 20 },
    );
    // The RMV goes on: it wants uploads, which the migration holds, while the migration waits for it.
    if (afterMs > 0) await new Promise((resolve) => setTimeout(resolve, afterMs));
    goOn();
    // PostgreSQL ends one of the two: as a rule the migration, which waited first (before the fix the server then did not
    // start: 'deadlock detected'), run again; but the RMV where the migration's deadlock check came before the cycle closed
    // (seen in one fresh-clone CI run and one loaded run of session 49). Either way the new server starts, and the RMV either went
    // through or was refused whole, its thread and chunks kept (an old server answers it as any store error).
    const removed = await rmv;
    expect(['removed', 'deadlock detected']).toContain(removed);
    expect(await opening).toBe('opened');
    expect(await old`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    expect(await old`SELECT count(*)::int AS n FROM threads`).toEqual([{ n: removed === 'removed' ? 0 : 1 }]);
    expect(await old`SELECT count(*)::int AS n FROM upload_chunks`).toEqual([{ n: removed === 'removed' ? 0 : 3 }]);
  });

  it.sequential('migration 8 run again (its version row back at 7, its table, triggers and a doomed upload in place) by three stores opening at once: each opens, the doomed upload is swept once, the kept file reads whole', async () => {
    const a = await pg.openStore({ doomedUploadSweep: { auto: false } });
    const schema = await schemaOf(a.sql);
    await run(a, 'alice', 'CRT kept');
    const bytes = randomBytes(UPLOAD_CHUNK_BYTES + 7);
    expect(await upload(a, 'kept', 'f', 'alice', bytes)).toEqual(E.right(undefined));
    await run(a, 'alice', 'CRT gone');
    await storeChunks(a, 'gone', 'g', 5);
    expect(await lines(run(a, 'alice', 'RMV gone'))).toEqual(['Thread gone removed']);
    await a.sql`UPDATE forum_schema SET version = 7`;
    await a.close();
    const opened = await Promise.all([0, 1, 2].map(() => pg.openPeer(schema, { maxConnections: 2, doomedUploadSweep: { auto: false } })));
    const [b, c, d] = opened;
    if (b === undefined || c === undefined || d === undefined) throw new Error('three stores expected');
    expect(await b.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    expect(await left(b.sql)).toEqual({ chunks: 2 + 5, doomed: 1, bytes: bytes.length + 5 * 16 });
    const swept = await Promise.all(opened.map((s) => s.sweepDoomedUploads()));
    expect(swept.reduce((x, y) => x + y, 0)).toBe(5);
    const read = await c.openDownload('kept', 'f')();
    if (E.isLeft(read)) throw new Error('openDownload failed');
    expectSameBytes(await readAll(read.right.stream), bytes, 'kept/f');
    expect(await left(d.sql)).toEqual({ chunks: 2, doomed: 0, bytes: bytes.length });
  });

  it.sequential('migrates a schema 7 database with its uploads kept; a schema 7 server still running gets the detached RMV too, and its chunk for a removed upload is refused', async () => {
    const a = await pg.openStore({ doomedUploadSweep: { auto: false } });
    const schema = await schemaOf(a.sql);
    await run(a, 'alice', 'CRT kept');
    const bytes = randomBytes(2 * UPLOAD_CHUNK_BYTES + 1);
    expect(await upload(a, 'kept', 'f', 'alice', bytes)).toEqual(E.right(undefined));
    await a.close();
    // a's pool is closed: the schema turned back through another connection.
    const raw = pg.connect({ connection: { search_path: schema } });
    await backToSchema(raw, 7);
    expect(await raw`SELECT count(*)::int AS n FROM pg_constraint WHERE conname = 'upload_chunks_upload_id_fkey'`).toEqual([{ n: 1 }]);
    const b = await pg.openPeer(schema, { doomedUploadSweep: { auto: false } });
    expect(await b.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    const d = await b.openDownload('kept', 'f')();
    if (E.isLeft(d)) throw new Error('openDownload failed');
    expectSameBytes(await readAll(d.right.stream), bytes, 'kept/f');
    // A schema 7 server's RMV (its statements: the thread row locked, then deleted, the cascade doing the rest).
    await run(b, 'alice', 'CRT old');
    const id = await storeChunks(b, 'old', 'g', 50);
    await raw.begin(async (tx) => {
      await tx`SELECT creator FROM threads WHERE title = 'old' FOR UPDATE`;
      await tx`DELETE FROM threads WHERE title = 'old'`;
    });
    // Its chunks doomed, not deleted in its transaction; its next chunk of that upload refused as its code expects.
    expect(await raw`SELECT count(*)::int AS n FROM upload_chunks WHERE upload_id = ${id}`).toEqual([{ n: 50 }]);
    const refused = await raw`INSERT INTO upload_chunks (upload_id, seq, data) VALUES (${id}, 50, '\\x00'::bytea)`.then(
      () => 'stored',
      (e: unknown) => (e instanceof postgres.PostgresError ? e.code : String(e)),
    );
    expect(refused).toBe('23503');
    expect(await b.sweepDoomedUploads()).toBe(50);
    expect(await lines(run(b, 'alice', 'RDT kept'))).toEqual(['alice uploaded f']);
  });
});
