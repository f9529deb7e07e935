import * as E from 'fp-ts/lib/Either.js';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { describe, expect, it, vi } from 'vitest';
import { UPLOAD_CHUNK_BYTES, type PostgresStore } from '../src/postgres.js';
import type { UploadError } from '../src/store/store.js';
import { lines, run } from './helpers.js';
import { usePostgres } from './postgres-harness.js';
import { uploadInChunks } from './upload-in-chunks.js';

const pg = usePostgres({ migrated: 8 });

const LIMIT = 4 * UPLOAD_CHUNK_BYTES;

/** Two servers on one fresh forum, each refusing uploads past `LIMIT` stored bytes in all. */
const twoServers = async (): Promise<readonly [PostgresStore, PostgresStore]> => {
  // Swept when a test says (the sweep of deleted uploads' chunks otherwise runs as it likes, in the background).
  // Lock waits as long as the test's: the chunks of 8 uploads queue on the forum's one byte-count row, and at load 20
  // some waited past the 2 s default and were refused for that (a fresh-clone run, session 51), not for the room.
  const options = { maxStoredUploadBytes: LIMIT, doomedUploadSweep: { auto: false }, timeouts: { lockMs: 30_000, statementMs: 30_000 } } as const;
  const a = await pg.openStore(options);
  const b = await pg.openPeer(a, options);
  return [a, b];
};

/** Uploads `bytes` as `filename` by mallory to thread `t` through `store`, a chunk at a time, and commits. */
const upload = (store: PostgresStore, filename: string, bytes: Buffer): Promise<E.Either<UploadError, void>> => uploadInChunks(store, 'mallory', filename, bytes);

const counted = async (sql: postgres.Sql): Promise<{ readonly counted: number; readonly stored: number }> => {
  const [row] = await sql<{ counted: string; stored: string }[]>`
    SELECT (SELECT bytes FROM upload_bytes) AS counted, (SELECT COALESCE(sum(octet_length(data)), 0) FROM upload_chunks) AS stored`;
  return { counted: Number(row?.counted), stored: Number(row?.stored) };
};

describe('bytes of uploads over several servers on one database (maxStoredUploadBytes)', () => {
  it('8 uploads of 3 chunks at once over two servers, room for 4 chunks: at most one commits, the rest are refused and leave nothing', async () => {
    const [a, b] = await twoServers();
    await run(a, 'mallory', 'CRT t');
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => upload(i % 2 === 0 ? a : b, `f${i}`, randomBytes(3 * UPLOAD_CHUNK_BYTES))),
    );
    const committed = results.filter(E.isRight).length;
    expect(committed).toBeLessThanOrEqual(1);
    // Each refusal may also say how many bytes the others still in progress held (`inProgress`).
    expect(results.filter(E.isLeft)).toEqual(Array.from({ length: 8 - committed }, () => E.left(expect.objectContaining({ kind: 'uploadStorageFull', limit: LIMIT }))));
    // The refused ones' chunks, doomed with their rows, once swept.
    await Promise.all([a.sweepDoomedUploads(), b.sweepDoomedUploads()]);
    expect(await counted(a.sql)).toEqual({ counted: committed * 3 * UPLOAD_CHUNK_BYTES, stored: committed * 3 * UPLOAD_CHUNK_BYTES });
    expect(await a.sql`SELECT count(*)::int AS n FROM uploads WHERE NOT committed`).toEqual([{ n: 0 }]);
  });

  it('a full forum takes an upload again once RMV (on the other server) removed the thread holding the bytes and the sweep deleted them', async () => {
    const [a, b] = await twoServers();
    await run(a, 'mallory', 'CRT t');
    expect(await upload(a, 'big', randomBytes(LIMIT))).toEqual(E.right(undefined));
    // The one byte more: its chunk is refused at the last flush, as the stream ends.
    expect(await upload(b, 'one', Buffer.from('x'))).toEqual(E.left({ kind: 'uploadStorageFull', limit: LIMIT }));
    expect(await counted(b.sql)).toEqual({ counted: LIMIT, stored: LIMIT });
    expect(await lines(run(b, 'mallory', 'RMV t'))).toEqual(['Thread t removed']);
    // The bytes are the database's until the sweep deletes them (schema 8): still counted, as they are still stored.
    expect(await counted(a.sql)).toEqual({ counted: LIMIT, stored: LIMIT });
    await run(b, 'mallory', 'CRT t');
    expect(await upload(a, 'early', Buffer.from('x'))).toEqual(E.left({ kind: 'uploadStorageFull', limit: LIMIT }));
    await b.sweepDoomedUploads();
    expect(await counted(a.sql)).toEqual({ counted: 0, stored: 0 });
    expect(await upload(a, 'again', randomBytes(LIMIT))).toEqual(E.right(undefined));
  });

  it('an upload announced larger than the room left is refused as it begins, before a byte or a pending row is stored; one that fits exactly begins', async () => {
    const [a, b] = await twoServers();
    await run(a, 'mallory', 'CRT t');
    expect(await upload(a, 'three', randomBytes(3 * UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
    // Counted over both servers: the other one refuses it too.
    const refused = await b.beginUpload('t', 'two', 'mallory', undefined, 2 * UPLOAD_CHUNK_BYTES)();
    expect(refused).toEqual(E.left({ kind: 'uploadStorageFull', limit: LIMIT, announced: { free: UPLOAD_CHUNK_BYTES, size: 2 * UPLOAD_CHUNK_BYTES } }));
    expect(await b.sql`SELECT count(*)::int AS n FROM uploads WHERE NOT committed`).toEqual([{ n: 0 }]);
    const fits = await b.beginUpload('t', 'one', 'mallory', undefined, UPLOAD_CHUNK_BYTES)();
    expect(E.isRight(fits)).toBe(true);
    if (E.isRight(fits)) await fits.right.abort();
  });

  it('a chunk refused for want of room after the commit has begun fails the commit, which does not go on without it', async () => {
    const [a, b] = await twoServers();
    await run(a, 'mallory', 'CRT t');
    // Both begin while there is room; b's chunks fill it first.
    const begun = await a.beginUpload('t', 'late', 'mallory')();
    if (E.isLeft(begun)) throw new Error(JSON.stringify(begun.left));
    expect(await upload(b, 'first', randomBytes(LIMIT))).toEqual(E.right(undefined));
    // A whole chunk (its insert starts at once, and is refused), and the commit begun before that refusal.
    begun.right.stream.write(randomBytes(UPLOAD_CHUNK_BYTES));
    // Before: E.right, 'late' committed with its size and no chunk (the refusal's stop no longer took).
    expect(await begun.right.commit()).toEqual(E.left({ kind: 'uploadStorageFull', limit: LIMIT }));
    expect(await a.sql`SELECT filename FROM uploads WHERE committed`).toEqual([{ filename: 'first' }]);
    expect(await counted(a.sql)).toEqual({ counted: LIMIT, stored: LIMIT });
  });

  it('without a limit every upload is stored, and counted', async () => {
    const a = await pg.openStore();
    await run(a, 'mallory', 'CRT t');
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => upload(a, `f${i}`, randomBytes(2 * UPLOAD_CHUNK_BYTES + 7))));
    expect(results.every(E.isRight)).toBe(true);
    expect(await counted(a.sql)).toEqual({ counted: 4 * (2 * UPLOAD_CHUNK_BYTES + 7), stored: 4 * (2 * UPLOAD_CHUNK_BYTES + 7) });
  });

  it("a server killed mid-upload: its pending chunks go as another server's next upload begins, not only when a server starts", async () => {
    const a = await pg.openStore({ maxStoredUploadBytes: LIMIT });
    const b = await pg.openPeer(a, { maxStoredUploadBytes: LIMIT, staleSweepEveryMs: 0 });
    await run(a, 'mallory', 'CRT t');
    const begun = await a.beginUpload('t', 'half', 'mallory')();
    if (E.isLeft(begun)) throw new Error('beginUpload failed');
    // Three chunks stored, then the server is gone: nothing of it aborts or renews the upload.
    await new Promise<void>((resolve, reject) => begun.right.stream.write(randomBytes(3 * UPLOAD_CHUNK_BYTES), (e) => (e ? reject(e) : resolve())));
    await a.sql.end();
    expect(await counted(b.sql)).toEqual({ counted: 3 * UPLOAD_CHUNK_BYTES, stored: 3 * UPLOAD_CHUNK_BYTES });
    // Its row last touched longer ago than staleUploadMs (10 minutes), without a lease: as a server of schema 11 leaves it.
    await b.sql`UPDATE uploads SET touched_at = now() - interval '11 minutes', lease_expires_at = NULL WHERE NOT committed`;
    expect(await upload(b, 'whole', randomBytes(3 * UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
    expect(await b.sql`SELECT filename FROM uploads`).toEqual([{ filename: 'whole' }]);
    expect(await counted(b.sql)).toEqual({ counted: 3 * UPLOAD_CHUNK_BYTES, stored: 3 * UPLOAD_CHUNK_BYTES });
  });

  it("a server killed mid-upload on a full forum: the next upload, its size announced, begins in the room its pending chunks held (their sweep as it begins is done before its check)", async () => {
    const a = await pg.openStore({ maxStoredUploadBytes: LIMIT, doomedUploadSweep: { auto: false } });
    // Two connections: one for a sweep's transaction, one that the upload's statements and the test's take in turn.
    const b = await pg.openPeer(a, { maxStoredUploadBytes: LIMIT, staleSweepEveryMs: 0, maxConnections: 2 });
    await Promise.all([b.sql`SELECT pg_sleep(0.05)`, b.sql`SELECT pg_sleep(0.05)`]);
    await run(a, 'mallory', 'CRT t');
    expect(await upload(a, 'kept', randomBytes(UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
    const begun = await a.beginUpload('t', 'half', 'mallory')();
    if (E.isLeft(begun)) throw new Error('beginUpload failed');
    await new Promise<void>((resolve, reject) => begun.right.stream.write(randomBytes(3 * UPLOAD_CHUNK_BYTES), (e) => (e ? reject(e) : resolve())));
    await a.sql.end();
    // Full: the committed chunk and the killed server's three.
    expect(await counted(b.sql)).toEqual({ counted: LIMIT, stored: LIMIT });
    // Killed 11 minutes ago: its lease lapsed long since (a current lease is a live server's, and its upload is kept).
    await b.sql`UPDATE uploads SET touched_at = now() - interval '11 minutes', lease_expires_at = now() - interval '10 minutes' WHERE NOT committed`;
    // The sweep of those chunks (whoever runs it) stops inside its DELETE until the test lets it go: a
    // stale upload of GiBs, whose sweep takes seconds.
    const holder = pg.connect();
    await holder`SELECT pg_advisory_lock(5252)`;
    await b.sql`CREATE FUNCTION hang_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(5252); RETURN NULL; END $$`;
    await b.sql`CREATE TRIGGER hang_delete BEFORE DELETE ON upload_chunks FOR EACH STATEMENT EXECUTE FUNCTION hang_delete()`;
    const announced = b.beginUpload('t', 'whole', 'mallory', undefined, 3 * UPLOAD_CHUNK_BYTES)();
    await vi.waitFor(
      async () => expect(await holder`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%DELETE FROM upload_chunks%'`).toHaveLength(1),
      { timeout: 5_000, interval: 20 },
    );
    // Two statements in turn on b's other connection: any of the upload's queued before them (the thread and
    // the room read, one after the other) has run by then, while the sweep is still stopped.
    await b.sql`SELECT 1`;
    await b.sql`SELECT 1`;
    await holder`SELECT pg_advisory_unlock(5252)`;
    // Before: refused, { free: 1 chunk, size: 3 chunks }. The stale row was deleted as this upload began, but
    // its chunks, doomed, were left to a sweep in the background, and the room was read while they still counted.
    const got = await announced;
    expect(E.isRight(got) ? 'begun' : got.left).toBe('begun');
    await b.sql`DROP TRIGGER hang_delete ON upload_chunks`;
    if (E.isLeft(got)) return;
    await new Promise<void>((resolve, reject) => got.right.stream.write(randomBytes(3 * UPLOAD_CHUNK_BYTES), (e) => (e ? reject(e) : resolve())));
    expect(await got.right.commit()).toEqual(E.right(undefined));
    expect(await counted(b.sql)).toEqual({ counted: LIMIT, stored: LIMIT });
  });

  it("a server gone between its RMV and the sweep: another server's refusal of an upload for want of room starts a sweep, so the retry is taken, not refused until that server's next 60 s tick", async () => {
    // b sweeps by itself (every 60 s, and after its own deletions); a never does (it dies after its RMV).
    const a = await pg.openStore({ maxStoredUploadBytes: LIMIT, doomedUploadSweep: { auto: false } });
    const b = await pg.openPeer(a, { maxStoredUploadBytes: LIMIT });
    await run(a, 'mallory', 'CRT t');
    expect(await upload(a, 'big', randomBytes(LIMIT))).toEqual(E.right(undefined));
    expect(await lines(run(a, 'mallory', 'RMV t'))).toEqual(['Thread t removed']);
    await a.close();
    await run(b, 'mallory', 'CRT t');
    // Still counted (doomed, not swept): refused, as documented.
    expect(await b.beginUpload('t', 'f', 'mallory', undefined, LIMIT)()).toEqual(
      E.left({ kind: 'uploadStorageFull', limit: LIMIT, announced: { free: 0, size: LIMIT } }),
    );
    // Before: nothing swept them until b's timer, 60 s on (the test's wait fails at 5 s).
    await vi.waitFor(async () => expect(await counted(b.sql)).toEqual({ counted: 0, stored: 0 }), { timeout: 5_000, interval: 20 });
    expect(await upload(b, 'again', randomBytes(LIMIT))).toEqual(E.right(undefined));
  });
});
