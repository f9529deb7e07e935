/**
 * An upload's commit against another server's deletion of it as a dead server's (its lease lapsed: this server
 * was cut off from the database, or frozen, longer than the lease). The commit holds the thread's row and finds
 * its pending row; the deletion (`deleteUploads`, which locks the rows it deletes) must not land between that
 * check and the commit's update of the row. Made to interleave exactly there: a test transaction holds the
 * upload's row while the deletion, then the commit, wait for it. Before attack round 23 the commit only read the
 * row: the deletion went first, the commit's update found no row and went on, and the thread listed an upload
 * that had no file (its sender told it was stored; its name free for another upload).
 */
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { deleteUploads } from '../src/postgres-store/postgres-doomed-uploads.js';
import { lapsedUploads } from '../src/postgres-store/postgres-upload-leases.js';
import { UPLOAD_CHUNK_BYTES, type PostgresStore } from '../src/postgres.js';
import type { UploadWriter } from '../src/store/store.js';
import { lines, run } from './helpers.js';
import { heldUntilWaiting, lockWaiters } from './held-lock.js';
import { until } from './poll-until.js';
import { usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 4 });

describe('PostgreSQL upload commit against the deletion of its lapsed lease', () => {
  /** An upload of one whole chunk on `a`, its lease made lapsed by hand; its writer and its row's id. */
  const lapsedUpload = async (): Promise<{ readonly a: PostgresStore; readonly b: PostgresStore; readonly writer: UploadWriter; readonly id: string }> => {
    // No renewal during the test (the lease is made lapsed by hand); the waits are released by the test.
    const options = { uploadLeaseMs: 600_000, timeouts: { lockMs: 30_000 } } as const;
    const a = await pg.openStore(options);
    const b = await pg.openPeer(a, options);
    await run(a, 'alice', 'CRT t');
    const writer = await a.beginUpload('t', 'f.bin', 'alice')();
    if (E.isLeft(writer)) throw new Error(writer.left.kind);
    // One whole chunk: stored (and the lease renewed) as it is written, so the commit has no last chunk to store first.
    await new Promise<void>((resolve, reject) => writer.right.stream.write(Buffer.alloc(UPLOAD_CHUNK_BYTES, 7), (e) => (e ? reject(e) : resolve())));
    const [row] = await a.sql<{ id: string }[]>`UPDATE uploads SET lease_expires_at = now() - interval '1 minute' RETURNING id::text AS id`;
    if (row === undefined) throw new Error('no pending upload');
    return { a, b, writer: writer.right, id: row.id };
  };

  /** What the thread and the uploads table say of f.bin after the race. */
  const outcome = async (a: PostgresStore): Promise<{ readonly listed: boolean; readonly stored: number }> => ({
    listed: (await lines(run(a, 'alice', 'RDT t'))).includes('alice uploaded f.bin'),
    stored: (await a.sql`SELECT 1 FROM uploads WHERE thread = 't' AND filename = 'f.bin' AND committed`).length,
  });

  const commitOf = (writer: UploadWriter): Promise<string> => writer.commit().then((c) => (E.isLeft(c) ? `refused: ${c.left.kind}` : 'stored'));

  it('the deletion first: the commit is refused and the upload not listed (before: listed, told stored, no file)', async () => {
    const { a, b, writer, id } = await lapsedUpload();
    const [swept, committed] = await heldUntilWaiting(a.sql, (tx) => tx`SELECT 1 FROM uploads WHERE id = ${id} FOR UPDATE`, 2, () => [
      deleteUploads(b.sql, lapsedUploads).then((ids) => `swept ${ids.join(',')}`),
      // Queued behind the deletion.
      until(async () => (await lockWaiters(a.sql)) >= 1, 20_000).then(() => commitOf(writer)),
    ]);
    expect({ swept, committed, ...(await outcome(a)) }).toEqual({ swept: `swept ${id}`, committed: 'refused: io', listed: false, stored: 0 });
  });

  it('the commit first: the upload is stored and listed, and the deletion leaves it', async () => {
    const { a, b, writer, id } = await lapsedUpload();
    const [committed, swept] = await heldUntilWaiting(a.sql, (tx) => tx`SELECT 1 FROM uploads WHERE id = ${id} FOR UPDATE`, 2, () => [
      commitOf(writer),
      until(async () => (await lockWaiters(a.sql)) >= 1, 20_000).then(() => deleteUploads(b.sql, lapsedUploads).then((ids) => `swept ${ids.join(',')}`)),
    ]);
    expect({ swept, committed, ...(await outcome(a)) }).toEqual({ swept: 'swept ', committed: 'stored', listed: true, stored: 1 });
  });
});
