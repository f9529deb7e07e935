/**
 * The upload leases' heartbeat and the deletion of lapsed uploads lock the same rows when a server cut off
 * for longer than the lease comes back: its heartbeat renews its uploads as another server deletes them. Each
 * took its row locks in the order its plan read the rows (the heartbeat by id, the deletion by lease expiry
 * through `uploads_pending_lease`), and the two deadlocked: PostgreSQL ended one of them after
 * `deadlock_timeout` (1 s). Here a third transaction holds the middle row until both wait for it, so that the
 * two meet mid-way, as they did by chance.
 */
import postgres from 'postgres';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { deleteUploads } from '../src/postgres-store/postgres-doomed-uploads.js';
import { lapsedUploads, UploadLeases } from '../src/postgres-store/postgres-upload-leases.js';
import { run } from './helpers.js';
import { schemaOf, usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 1 });

/** SQLSTATE deadlock_detected. */
const DEADLOCK_DETECTED = '40P01';

describe('PostgreSQL: upload lease renewal beside the deletion of lapsed uploads', () => {
  it('neither deadlocks: the renewal keeps the uploads it renewed first, the deletion takes the rest', async () => {
    const store = await pg.openStore();
    const sql = store.sql;
    await run(store, 'mallory', 'CRT t');
    // Live uploads of other servers, and three pending uploads whose leases lapsed in the opposite order of
    // their ids: the deletion reads the lapsed by expiry (the partial lease index), the renewal its own by id.
    await sql`INSERT INTO uploads (thread, filename, uploader, lease_expires_at) SELECT 't', 'live' || g, 'mallory', now() + interval '1 hour' FROM generate_series(1, 5000) g`;
    const pending = await sql<{ id: string }[]>`
      INSERT INTO uploads (thread, filename, uploader, lease_expires_at)
      SELECT 't', 'p' || g, 'mallory', now() - g * interval '1 second' FROM generate_series(1, 3) g RETURNING id`;
    const ids = pending.map((r) => r.id).sort((a, b) => Number(a) - Number(b));
    const [low, middle, high] = ids;
    if (low === undefined || middle === undefined || high === undefined) throw new Error('no pending uploads');
    // As autovacuum would: the plans of a forum with its statistics.
    await sql`ANALYZE uploads`;

    // The heartbeat of the server that held them (a long lease: only the renewal asked for below runs).
    const leases = new UploadLeases(sql, 60_000);
    for (const id of ids) leases.hold(id);
    pg.onClose(async () => leases.close());

    const holder = pg.connect({ connection: { search_path: await schemaOf(sql) } });
    let release: () => void = () => undefined;
    let held: () => void = () => undefined;
    const isHeld = new Promise<void>((resolve) => (held = resolve));
    const holding = holder.begin(async (tx) => {
      await tx`SELECT 1 FROM uploads WHERE id = ${middle} FOR UPDATE`;
      held();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await isHeld;

    const watcher = pg.connect();
    /** Until `n` statements on the uploads wait for a lock (5 s at most). */
    const waiting = async (n: number): Promise<void> => {
      for (let i = 0; i < 250; i++) {
        const [row] = await watcher<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%uploads%'`;
        if ((row?.n ?? 0) >= n) return;
        await sleep(20);
      }
      throw new Error(`${n} statements never waited`);
    };

    // The renewal first, then the deletion, each once it waits for a row lock: then the middle row is let go.
    const renewal = leases.renew().then(
      () => 'renewed',
      (e: unknown) => e,
    );
    await waiting(1);
    const deletion = deleteUploads(sql, lapsedUploads).then(
      (deleted) => deleted,
      (e: unknown) => e,
    );
    await waiting(2);
    release();
    await holding;
    const [renewed, deleted] = await Promise.all([renewal, deletion]);

    for (const outcome of [renewed, deleted]) {
      if (outcome instanceof postgres.PostgresError) expect(outcome.code, outcome.message).not.toBe(DEADLOCK_DETECTED);
    }
    expect(renewed).toBe('renewed');
    // The renewal came first to every row (it waited at the first, the low id, for nothing): it renewed all
    // three, and the deletion, which waited for it, found none lapsed any more. Before, one of the two was
    // ended as a deadlock's victim after deadlock_timeout (1 s): these outcomes fail on that, so no elapsed bound (it
    // was 1 s against the fixed 0.5-0.8 s, and a loaded machine's lock waits and polls passed it).
    expect(deleted).toEqual([]);
    const left = await sql<{ id: string }[]>`SELECT id FROM uploads WHERE id = ANY (${ids}::bigint[]) AND lease_expires_at > now() ORDER BY id`;
    expect(left.map((r) => r.id)).toEqual(ids);
  });
});
