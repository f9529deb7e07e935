/**
 * The upload share's counters (schema 14, `uploader_bytes`) through the deletions that take many accounts'
 * uploads in one statement: the sweep of lapsed leases and of stale rows (a dead server's half uploads) by
 * another server while live uploads of the same accounts go on storing chunks, and the doomed chunks' sweep
 * after. Names that differ only in case are different uploaders, as the rows' sums count them.
 */
import * as E from 'fp-ts/lib/Either.js';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { UPLOAD_CHUNK_BYTES, type PostgresStore } from '../src/postgres.js';
import type { UploadWriter } from '../src/store/store.js';
import { run } from './helpers.js';
import { usePostgres } from './postgres-harness.js';
import { uploaderCounters } from './postgres-share-recount.js';

const pg = usePostgres({ migrated: 2 });

const begin = async (store: PostgresStore, name: string, who: string): Promise<UploadWriter> => {
  const w = await store.beginUpload('t', name, who)();
  if (E.isLeft(w)) throw new Error(`${name}: ${w.left.kind}`);
  return w.right;
};

const write = (w: UploadWriter, bytes: Buffer): Promise<void> =>
  new Promise<void>((resolve, reject) => w.stream.write(bytes, (err) => (err ? reject(err) : resolve())));

describe("the upload share's counters through the sweeps of dead servers' uploads", () => {
  it('equal the rows summed after lapsed and stale uploads of several accounts are swept beside live ones, and after their chunks go', async () => {
    const options = { maxStoredUploadBytes: 200 * UPLOAD_CHUNK_BYTES, maxUserUploadBytes: 40 * UPLOAD_CHUNK_BYTES, doomedUploadSweep: { auto: false } };
    const a = await pg.openStore({ ...options, uploadLeaseMs: 60_000 });
    const b = await pg.openPeer(a, { ...options, staleSweepEveryMs: 0 });
    await run(a, 'alice', 'CRT t');
    const users = ['alice', 'bob', 'Bob', 'carol'] as const;
    // Per user: one upload that its server will be taken for dead in (2 chunks), one that lives on.
    const dead: UploadWriter[] = [];
    const live: UploadWriter[] = [];
    for (const who of users) {
      const d = await begin(a, `dead-${who}`, who);
      await write(d, randomBytes(2 * UPLOAD_CHUNK_BYTES));
      dead.push(d);
      const l = await begin(a, `live-${who}`, who);
      await write(l, randomBytes(UPLOAD_CHUNK_BYTES + 7));
      live.push(l);
    }
    // The dead ones: two lapsed, two without a lease and untouched for an hour (a server of schema 11's).
    await a.sql`UPDATE uploads SET lease_expires_at = now() - interval '1 second' WHERE filename IN ('dead-alice', 'dead-bob')`;
    await a.sql`UPDATE uploads SET lease_expires_at = NULL, touched_at = now() - interval '1 hour' WHERE filename IN ('dead-Bob', 'dead-carol')`;
    expect((await uploaderCounters(a.sql)).kept).toEqual(Object.fromEntries(users.map((u) => [u, 3 * UPLOAD_CHUNK_BYTES])));
    // b's uploads begin with the sweep (every one: staleSweepEveryMs 0), while the live ones store chunks on a.
    const swept = Promise.all(users.map(async (who) => (await begin(b, `new-${who}`, who)).abort()));
    await Promise.all([swept, ...live.map((l) => write(l, randomBytes(UPLOAD_CHUNK_BYTES)))]);
    expect(await a.sql`SELECT filename FROM uploads WHERE filename LIKE 'dead-%'`).toEqual([]);
    const afterSweep = await uploaderCounters(a.sql);
    expect(afterSweep.kept).toEqual(afterSweep.recounted);
    expect(afterSweep.kept).toEqual(Object.fromEntries(users.map((u) => [u, 2 * UPLOAD_CHUNK_BYTES]))); // the live one's 2 chunks (the 7 bytes are buffered)
    // Live ones committed, the dead ones' writers find their rows gone, doomed chunks swept: still equal.
    for (const l of live) expect(await l.commit()).toEqual(E.right(undefined));
    for (const d of dead) expect(E.isLeft(await d.commit())).toBe(true);
    await a.sweepDoomedUploads();
    const after = await uploaderCounters(b.sql);
    expect(after.kept).toEqual(after.recounted);
    expect(after.kept).toEqual(Object.fromEntries(users.map((u) => [u, 2 * UPLOAD_CHUNK_BYTES + 7])));
  });
});
