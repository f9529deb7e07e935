/**
 * RMV of a thread against the statements that lock several upload rows in the order of their ids: the lease
 * heartbeat (`UploadLeases.renew`, a live server's uploads) and the deletion of lapsed uploads (`deleteUploads`,
 * a dead server's). RMV's cascade deleted the thread's upload rows in the order of the table's scan, which a
 * row's update (every chunk renews its lease) leaves unlike the ids' order: RMV and the other each held a row the
 * other waited for, and PostgreSQL ended one of them after `deadlock_timeout` (1 s), a RMV answered a failure.
 * Here a third transaction holds the middle row until both wait, so that the two meet mid-way, as by chance.
 */
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { deleteUploads } from '../src/postgres-store/postgres-doomed-uploads.js';
import { lapsedUploads, UploadLeases } from '../src/postgres-store/postgres-upload-leases.js';
import { lines, run } from './helpers.js';
import { heldUntilWaiting, lockWaiters } from './held-lock.js';
import { until } from './poll-until.js';
import { usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 2 });

/** SQLSTATE deadlock_detected. */
const DEADLOCK_DETECTED = '40P01';

describe('PostgreSQL: RMV beside the statements that lock upload rows by id', () => {
  it.each(['the deletion of lapsed uploads', 'the lease heartbeat'] as const)('RMV and %s do not deadlock', async (other) => {
    // No time limit shorter than PostgreSQL's deadlock check (1 s): a deadlock is reported as one.
    const store = await pg.openStore({ timeouts: { lockMs: 30_000 } });
    const sql = store.sql;
    await run(store, 'alice', 'CRT t');
    const lapsed = other === 'the deletion of lapsed uploads';
    const rows = await sql<{ id: string }[]>`
      INSERT INTO uploads (thread, filename, uploader, lease_expires_at)
      SELECT 't', 'p' || g, 'alice', now() + ${lapsed ? -60_000 : 600_000} * interval '1 millisecond' FROM generate_series(1, 3) g RETURNING id::text AS id`;
    const ids = rows.map((r) => r.id).sort((a, b) => Number(a) - Number(b));
    const [low, middle] = ids;
    if (low === undefined || middle === undefined || ids.length !== 3) throw new Error('no pending uploads');
    // The lowest id's lease renewed (its chunk stored): its new row version comes last in the table's scan.
    await sql`UPDATE uploads SET touched_at = now() WHERE id = ${low}`;
    const leases = new UploadLeases(sql, 600_000);
    for (const id of ids) leases.hold(id);
    pg.onClose(async () => leases.close());

    const [removed, locked] = await heldUntilWaiting<unknown>(sql, (tx) => tx`SELECT 1 FROM uploads WHERE id = ${middle} FOR UPDATE`, 2, () => {
      const rmv = lines(run(store, 'alice', 'RMV t'));
      // Once RMV waits (at the middle row, before: its scan reached it before the lowest id's), the other begins.
      const begun = until(async () => (await lockWaiters(sql)) >= 1, 20_000).then((): Promise<unknown> => (lapsed ? deleteUploads(sql, lapsedUploads) : leases.renew().then(() => 'renewed')));
      return [rmv, begun.catch((e: unknown) => e)];
    });
    if (locked instanceof postgres.PostgresError) expect(locked.code, locked.message).not.toBe(DEADLOCK_DETECTED);
    // Before: one of the two was ended as the deadlock's victim after 1 s (RMV: 'could not complete', or the other).
    expect({ removed, locked }).toEqual({ removed: ['Thread t removed'], locked: lapsed ? [] : 'renewed' });
    expect(await sql`SELECT 1 FROM uploads WHERE id = ANY (${ids}::bigint[])`).toHaveLength(0);
  });
});
