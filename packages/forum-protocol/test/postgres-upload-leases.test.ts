import * as E from 'fp-ts/lib/Either.js';
import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { UPLOAD_CHUNK_BYTES, type PostgresStore, type PostgresStoreOptions } from '../src/postgres.js';
import { commandErrorText } from '../src/store/errors.js';
import type { UploadError, UploadWriter } from '../src/store/store.js';
import { run } from './helpers.js';
import { usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 5 });

const LIMIT = 4 * UPLOAD_CHUNK_BYTES;
/** Short, so that a killed server's leases lapse within the test; its heartbeat renews every third of it. */
const LEASE_MS = 1_000;

/** Two servers on one fresh forum with thread `t`, refusing uploads past `LIMIT` stored bytes in all. */
const twoServers = async (options: PostgresStoreOptions = {}): Promise<readonly [PostgresStore, PostgresStore]> => {
  const common = { maxStoredUploadBytes: LIMIT, uploadLeaseMs: LEASE_MS, ...options };
  const a = await pg.openStore(common);
  const b = await pg.openPeer(a, common);
  await run(a, 'mallory', 'CRT t');
  return [a, b];
};

const write = (w: UploadWriter, bytes: Buffer): Promise<void> => new Promise((resolve, reject) => w.stream.write(bytes, (e) => (e ? reject(e) : resolve())));

const begin = async (store: PostgresStore, filename: string, size?: number): Promise<UploadWriter> => {
  const begun = await store.beginUpload('t', filename, 'mallory', undefined, size)();
  if (E.isLeft(begun)) throw new Error(`beginUpload: ${JSON.stringify(begun.left)}`);
  return begun.right;
};

/** Uploads `bytes` whole through `store`, a chunk at a time, its size not announced, and commits. */
const upload = async (store: PostgresStore, filename: string, bytes: Buffer): Promise<E.Either<UploadError, void>> => {
  const w = await begin(store, filename);
  for (let at = 0; at < bytes.length && !w.stream.destroyed; at += UPLOAD_CHUNK_BYTES) {
    await new Promise<void>((resolve) => w.stream.write(bytes.subarray(at, at + UPLOAD_CHUNK_BYTES), () => resolve()));
  }
  return w.commit();
};

/**
 * Server `a` killed with three chunks of an upload stored: its pool gone, nothing of it renews or ends the
 * upload. Resolves once the database's clock has passed the moment its lease lapsed at the latest (its
 * last renewal or chunk came before the kill): no wait on the new column, which the old code lacks.
 */
const killMidUpload = async (a: PostgresStore, b: PostgresStore): Promise<void> => {
  const w = await begin(a, 'half');
  await write(w, randomBytes(3 * UPLOAD_CHUNK_BYTES));
  await a.sql.end();
  const [killed] = await b.sql<{ at: Date }[]>`SELECT now() AS at`;
  const lapsedBy = new Date((killed?.at ?? new Date()).getTime() + LEASE_MS + 50);
  await vi.waitFor(async () => expect((await b.sql<{ past: boolean }[]>`SELECT now() > ${lapsedBy} AS past`)[0]?.past).toBe(true), {
    timeout: 10_000,
    interval: 50,
  });
};

// Side by side (describe.concurrent): each test has a forum (schema) and servers of its own, and waits out 1 s leases.
describe.concurrent('pending uploads of a server that is gone (their lease lapsed) give their room back at once', () => {
  it('a server killed 3 chunks into an upload on a full forum: the next upload, its size announced, begins once the lease lapsed, not 10 minutes on', async () => {
    const [a, b] = await twoServers();
    expect(await upload(b, 'kept', randomBytes(UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
    await killMidUpload(a, b);
    // Before: refused { free: 1 chunk, size: 3 chunks } "(remove threads to make room)" until the row was 10 minutes stale.
    const got = await b.beginUpload('t', 'whole', 'mallory', undefined, 3 * UPLOAD_CHUNK_BYTES)();
    expect(E.isRight(got) ? 'begun' : got.left).toBe('begun');
    if (E.isLeft(got)) return;
    await write(got.right, randomBytes(3 * UPLOAD_CHUNK_BYTES));
    expect(await got.right.commit()).toEqual(E.right(undefined));
    expect(await b.sql`SELECT filename FROM uploads ORDER BY filename`).toEqual([{ filename: 'kept' }, { filename: 'whole' }]);
    expect(await b.sql`SELECT (SELECT bytes FROM upload_bytes)::int AS bytes`).toEqual([{ bytes: LIMIT }]);
  });

  it('the same, its size not announced: the chunk that finds no room deletes the dead upload and is stored', async () => {
    const [a, b] = await twoServers();
    expect(await upload(b, 'kept', randomBytes(UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
    await killMidUpload(a, b);
    // Before: refused at its first chunk, { kind: 'uploadStorageFull', limit }.
    expect(await upload(b, 'whole', randomBytes(3 * UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
    expect(await b.sql`SELECT count(*)::int AS n FROM uploads WHERE NOT committed`).toEqual([{ n: 0 }]);
  });

  it('room held by a live upload on another server: the refusal says how much, and to try again later', async () => {
    const [a, b] = await twoServers();
    expect(await upload(b, 'kept', randomBytes(UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
    const live = await begin(a, 'live');
    await write(live, randomBytes(3 * UPLOAD_CHUNK_BYTES));
    const held = 3 * UPLOAD_CHUNK_BYTES;
    // Past several of a's renewals (every third of the lease): its lease is kept, its upload not taken.
    const [started] = await b.sql<{ at: Date }[]>`SELECT now() AS at`;
    const after = new Date((started?.at ?? new Date()).getTime() + 2 * LEASE_MS);
    await vi.waitFor(async () => expect((await b.sql<{ past: boolean }[]>`SELECT now() > ${after} AS past`)[0]?.past).toBe(true), { timeout: 10_000, interval: 50 });
    const refused = await b.beginUpload('t', 'next', 'mallory', undefined, 2 * UPLOAD_CHUNK_BYTES)();
    expect(refused).toEqual(E.left({ kind: 'uploadStorageFull', limit: LIMIT, announced: { free: 0, size: 2 * UPLOAD_CHUNK_BYTES }, inProgress: held }));
    if (E.isRight(refused)) return;
    // Before: "… (remove threads to make room)", which cannot help.
    expect(commandErrorText(refused.left)).toBe(
      `The forum's uploads are full: they hold at most ${LIMIT} bytes, 0 are free, this file has ${2 * UPLOAD_CHUNK_BYTES}; ${held} bytes are held by uploads in progress (try again later, or remove threads to make room)`,
    );
    // Refused by a chunk (its size not announced): the same, its own chunks not counted as another's.
    expect(await upload(b, 'unannounced', randomBytes(UPLOAD_CHUNK_BYTES))).toEqual(E.left({ kind: 'uploadStorageFull', limit: LIMIT, inProgress: held }));
    // The live upload was not taken: it commits.
    expect(await live.commit()).toEqual(E.right(undefined));
  });

  it("a server whose own lease lapsed (cut off past it) and whose upload another server gave up: told so, not that the thread was removed", async () => {
    // a's heartbeat is slow (its lease long): the test makes the lease lapse, as a server cut off would find it.
    const a = await pg.openStore({ maxStoredUploadBytes: LIMIT, uploadLeaseMs: 60_000 });
    const b = await pg.openPeer(a, { maxStoredUploadBytes: LIMIT, uploadLeaseMs: LEASE_MS, staleSweepEveryMs: 0 });
    await run(a, 'mallory', 'CRT t');
    const w = await begin(a, 'cut');
    await write(w, randomBytes(UPLOAD_CHUNK_BYTES));
    await b.sql`UPDATE uploads SET lease_expires_at = now() - interval '1 second' WHERE NOT committed`;
    // b's next upload begins with the sweep of stale uploads, which takes lapsed ones too.
    const other = await begin(b, 'other');
    await other.abort();
    expect(await b.sql`SELECT count(*)::int AS n FROM uploads WHERE filename = 'cut'`).toEqual([{ n: 0 }]);
    await write(w, randomBytes(UPLOAD_CHUNK_BYTES)).catch(() => undefined);
    const got = await w.commit();
    expect(E.isLeft(got) && got.left.kind === 'io' ? got.left.message : got).toMatch(/did not renew the upload's lease within 60000 ms, and another server gave it up/);
    // The thread is there, and takes the upload again.
    expect(await upload(a, 'cut', randomBytes(UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
  });

  it('a live upload slower than a chunk per staleUploadMs, its lease renewed: the sweep of stale uploads leaves it, and it commits', async () => {
    // a renews its lease (heartbeat); its row is untouched by a chunk for longer than b's staleUploadMs.
    const a = await pg.openStore({ maxStoredUploadBytes: LIMIT, uploadLeaseMs: LEASE_MS });
    const b = await pg.openPeer(a, { maxStoredUploadBytes: LIMIT, uploadLeaseMs: LEASE_MS, staleUploadMs: 300, staleSweepEveryMs: 0 });
    await run(a, 'mallory', 'CRT t');
    const slow = await begin(a, 'slow');
    await write(slow, randomBytes(UPLOAD_CHUNK_BYTES));
    const [started] = await b.sql<{ at: Date }[]>`SELECT now() AS at`;
    const stale = new Date((started?.at ?? new Date()).getTime() + 2 * LEASE_MS);
    await vi.waitFor(async () => expect((await b.sql<{ past: boolean }[]>`SELECT now() > ${stale} AS past`)[0]?.past).toBe(true), { timeout: 10_000, interval: 50 });
    // b's upload begins with the sweep of stale uploads. Before: it deleted a's live upload (untouched for 2 s, lease current).
    const other = await begin(b, 'other');
    await other.abort();
    await write(slow, randomBytes(UPLOAD_CHUNK_BYTES));
    expect(await slow.commit()).toEqual(E.right(undefined));
    expect(await a.sql`SELECT filename FROM uploads WHERE committed`).toEqual([{ filename: 'slow' }]);
  });
});
