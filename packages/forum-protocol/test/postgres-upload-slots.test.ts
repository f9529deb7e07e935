import * as E from 'fp-ts/lib/Either.js';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { createPostgresUploadSlots, type PostgresStore, type PostgresUploadSlots } from '../src/postgres.js';
import { schemaOf, usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 5 });

/** `n` servers' upload places (4 per user, a 15 s lease) on one fresh forum, each server with its own pool. */
const servers = async (n: number): Promise<{ readonly stores: readonly PostgresStore[]; readonly slots: readonly PostgresUploadSlots[] }> => {
  const first = await pg.openStore();
  const schema = await schemaOf(first.sql);
  const stores = [first, ...(await Promise.all(Array.from({ length: n - 1 }, () => pg.openPeer(schema))))];
  const slots = stores.map((store, i) => createPostgresUploadSlots(store.sql, { serverId: `s${i}`, perUser: 4, leaseMs: 15_000 }));
  for (const s of slots) pg.onClose(() => s.close());
  return { stores, slots };
};

type Place = (() => Promise<void>) | undefined;

const take = async (slots: PostgresUploadSlots, user: string): Promise<Place> => {
  const r = await slots.take(user)();
  if (E.isLeft(r)) throw new Error(`store error: ${JSON.stringify(r.left)}`);
  return r.right;
};

const slotOf = (all: readonly PostgresUploadSlots[], i: number): PostgresUploadSlots => all[i % all.length] as PostgresUploadSlots;

describe('uploads per user over several servers on one database', () => {
  it("a server's stop frees its own places, not those of another process of the same server id (the one restarted in its place)", async () => {
    const first = await pg.openStore();
    const peer = await pg.openPeer(first);
    const [old, restarted] = [first, peer].map((store) => createPostgresUploadSlots(store.sql, { serverId: 'same', perUser: 1, leaseMs: 15_000 }));
    if (old === undefined || restarted === undefined) throw new Error('no slots');
    pg.onClose(() => restarted.close());
    expect(await take(old, 'olga')).toBeDefined();
    expect(await take(restarted, 'rita')).toBeDefined();
    await old.close();
    // rita's one place is still taken: before, the old process's stop deleted every place of the server id.
    expect(await take(restarted, 'rita')).toBeUndefined();
    // olga's went with the process that held it.
    expect(await take(restarted, 'olga')).toBeDefined();
  });

  it('a user runs 4 uploads over three servers in all, not 4 on each; one ended frees a place on any server', async () => {
    const { slots } = await servers(3);
    const places: Place[] = [];
    for (let i = 0; i < 7; i++) places.push(await take(slotOf(slots, i), 'mallory'));
    expect(places.map((p) => p !== undefined)).toEqual([true, true, true, true, false, false, false]);
    // Another user has places of their own.
    expect(await take(slotOf(slots, 0), 'alice')).toBeDefined();
    await places[1]?.();
    await places[1]?.();
    expect(await take(slotOf(slots, 2), 'mallory')).toBeDefined();
    expect(await take(slotOf(slots, 0), 'mallory')).toBeUndefined();
  });

  it('12 uploads of one user starting at once over three servers: exactly 4 run', async () => {
    const { slots } = await servers(3);
    const places = await Promise.all(Array.from({ length: 12 }, (_, i) => take(slotOf(slots, i), 'mallory')));
    expect(places.filter((p) => p !== undefined)).toHaveLength(4);
  });

  it("a crashed server's places lapse with their lease, and go from the table", async () => {
    const { stores, slots } = await servers(2);
    for (let i = 0; i < 4; i++) expect(await take(slotOf(slots, 0), 'mallory')).toBeDefined();
    expect(await take(slotOf(slots, 1), 'mallory')).toBeUndefined();
    // Server 0 crashed: it renews nothing more (its pool gone; alive, its heartbeat could renew the
    // leases between their expiry below and the take), and its leases run out.
    await (stores[0] as PostgresStore).sql.end();
    const sql = (stores[1] as PostgresStore).sql;
    await sql`UPDATE upload_slots SET expires_at = now() - interval '1 second' WHERE server_id = 's0'`;
    expect(await take(slotOf(slots, 1), 'mallory')).toBeDefined();
    await slotOf(slots, 1).renew();
    expect(await sql`SELECT server_id FROM upload_slots`).toEqual([{ server_id: 's1' }]);
  });

  it('refuses (a store error, no crash) when the database cannot be reached', async () => {
    const { stores } = await servers(1);
    const gone = postgres(pg.url(), { max: 1, connection: { search_path: await schemaOf((stores[0] as PostgresStore).sql) } });
    await gone.end();
    const slots = createPostgresUploadSlots(gone, { serverId: 'x', perUser: 4, leaseMs: 15_000 });
    pg.onClose(() => slots.close());
    expect(E.isLeft(await slots.take('mallory')())).toBe(true);
  });
});
