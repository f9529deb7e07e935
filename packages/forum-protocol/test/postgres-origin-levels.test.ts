/**
 * An IPv6 origin is a /64, and one customer's /56 or /48 is 256 or 65,536 of them. On PostgreSQL too an
 * account of origin /64 X also counts against X's /56 and /48 (4 and 16 times the origin's bound, rudp's
 * `hostLevels`), for its threads and its uploads' bytes, over every server of the database, however many of
 * the level's accounts write at once: schema 16 keys the counters by level (`forum_origin_levels` in the
 * triggers) and each check locks the levels finest first.
 */
import * as E from 'fp-ts/lib/Either.js';
import { randomBytes } from 'node:crypto';
import type postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { hostOf, originLevels, originOfAddress } from '../src/index.js';
import { SCHEMA_VERSION, UPLOAD_CHUNK_BYTES, type PostgresStore, type PostgresStoreOptions } from '../src/postgres.js';
import { ORIGIN_RECOUNT } from '../src/postgres-store/postgres-origin-shares.js';
import { lines, run } from './helpers.js';
import { backToSchema, insertThread, schemaOf, usePostgres } from './postgres-harness.js';
import { uploadInChunks as upload } from './upload-in-chunks.js';

const pg = usePostgres({ migrated: 4 });

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

const twoServers = async (options: PostgresStoreOptions): Promise<readonly [PostgresStore, PostgresStore]> => {
  const a = await pg.openStore(options);
  const b = await pg.openPeer(a, options);
  return [a, b];
};

const account = async (s: PostgresStore, username: string, address: string): Promise<void> => {
  expect(await s.createAccount({ username, password: 'pw', origin: originOfAddress(address) })()).toEqual(E.right(true));
};


type CounterRow = Record<string, unknown>;
// Rows holding something, in code-point order of their keys (the database's collation is its own).
const held = (rows: readonly CounterRow[]): readonly CounterRow[] =>
  rows.filter((r) => r['threads'] !== 0 || r['bytes'] !== '0').sort((x, y) => (String(x['origin']) < String(y['origin']) ? -1 : 1));

/** The levels' counters, and the same summed from the per-account counters: equal whatever was written. */
const levelCounters = async (sql: postgres.Sql): Promise<{ readonly kept: unknown; readonly recounted: unknown }> => ({
  kept: held(await sql`SELECT origin, COALESCE(t.threads, 0) AS threads, COALESCE(b.bytes, 0)::text AS bytes FROM origin_threads t FULL JOIN origin_upload_bytes b USING (origin)`),
  recounted: held(await sql.unsafe(ORIGIN_RECOUNT)),
});

const NETWORK_THREADS = (n: number): string => `Your account and the others created from the same network have created too many threads (at most ${n}): remove one of theirs before creating another`;

describe("an IPv6 origin's /56 and /48 hold 4 and 16 origins' shares (PostgreSQL)", () => {
  it("the database's levels (forum_origin_levels) are originLevels' keys, for every kind of origin", async () => {
    const a = await pg.openStore();
    const addresses = [
      '192.0.2.1:1',
      '[2001:db8:0:1::1]:1',
      '[2001:db8:0:1ab::1]:1',
      '[2001:db8:0:ff00::1]:1',
      '[2001:db8:0:ffff::1]:1',
      '[2001:db8:abcd:12::1]:1',
      '[2001:db8::1]:1',
      '[::1]:1',
      '[2a00:1:2:3:4:5:6:7]:1',
      '[fe80::1%eth0]:1',
      '[fe80::1]:1',
      '[febf:0:0:5::1]:1',
      '[fec0:0:0:5::1]:1',
      '[::ffff:192.0.2.9]:1',
      '[64:ff9b::c000:209]:1',
      'node-a:1',
    ];
    const origins = [...addresses.map(hostOf), '2001:db8::/64', 'odd name'];
    for (const origin of origins) {
      const rows = await a.sql<{ levels: string[] }[]>`SELECT forum_origin_levels(${origin}) AS levels`;
      expect({ origin, levels: rows[0]?.levels }).toEqual({ origin, levels: originLevels(origin).map((l) => l.key) });
    }
    // Spot checks of the keys themselves: an IPv6 /64's /56 and /48, an IPv4 address alone.
    expect(originLevels(hostOf('[2001:db8:0:1ab::1]:1'))).toEqual([
      { key: '2001:db8:0:1ab::/64', multiple: 1 },
      { key: '2001:db8:0:100::/56', multiple: 4 },
      { key: '2001:db8:0::/48', multiple: 16 },
    ]);
    expect(originLevels('192.0.2.1')).toEqual([{ key: '192.0.2.1', multiple: 1 }]);
  });

  it("CRTs at once over two servers by accounts of 8 /64s of one /56 create exactly the /56's 4 threads; uploads of 16 /64s' accounts, one chunk each, exactly its 4 chunks", async () => {
    const [a, b] = await twoServers({ maxStoredUploadBytes: 64 * UPLOAD_CHUNK_BYTES, maxUserUploadBytes: UPLOAD_CHUNK_BYTES, threadLimits: { maxThreadsPerUser: 1, originShares: 1 }, doomedUploadSweep: { auto: false } });
    for (let i = 0; i < 16; i++) await account(a, `h${i}`, `[2001:db8:0:1${hex2(i)}::1]:4000`);
    await account(a, 'far', '[2001:db8:9::1]:4000');
    const replies = await Promise.all(Array.from({ length: 24 }, (_, i) => lines(run(i % 2 === 0 ? a : b, `h${i % 8}`, `CRT c${i}`))));
    expect(replies.filter((r) => r[0]?.endsWith(' created'))).toHaveLength(4);
    // The rest refused as the /56's, or (a second CRT of an account that made one) as the account's own.
    const own = 'You have created too many threads (at most 1): remove one of yours before creating another';
    expect(replies.filter((r) => !r[0]?.endsWith(' created')).every((r) => r[0] === NETWORK_THREADS(4) || r[0] === own)).toBe(true);
    expect(replies.filter((r) => r[0] === NETWORK_THREADS(4)).length).toBeGreaterThanOrEqual(24 - 4 - 4 * 2);
    expect(await lines(run(b, 'far', 'CRT t'))).toEqual(['Thread t created']);
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => upload(i % 2 === 0 ? a : b, `h${i}`, `f${i}`, randomBytes(UPLOAD_CHUNK_BYTES))));
    expect(results.filter(E.isRight)).toHaveLength(4);
    expect(results.filter(E.isLeft)).toEqual(Array.from({ length: 12 }, () => E.left({ kind: 'uploadStorageFull', limit: 4 * UPLOAD_CHUNK_BYTES, who: 'origin', network: true })));
    expect(await upload(a, 'far', 'far', randomBytes(UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
    const counters = await levelCounters(a.sql);
    expect(counters.kept).toEqual(counters.recounted);
    expect(await a.sql`SELECT origin, threads FROM origin_threads WHERE origin IN ('2001:db8:0:100::/56', '2001:db8:0::/48') ORDER BY origin COLLATE "C"`).toEqual([
      { origin: '2001:db8:0:100::/56', threads: 4 },
      { origin: '2001:db8:0::/48', threads: 4 },
    ]);
  });

  it('a server opened with a lower bound than a /56 already holds warns of it, naming the /56 and its own bound', async () => {
    const options = { maxStoredUploadBytes: 64 * UPLOAD_CHUNK_BYTES, maxUserUploadBytes: 2 * UPLOAD_CHUNK_BYTES, threadLimits: { maxThreadsPerUser: 2, originShares: 1 }, doomedUploadSweep: { auto: false } };
    const a = await pg.openStore(options);
    for (let i = 0; i < 6; i++) await account(a, `h${i}`, `[2001:db8:0:1${hex2(i)}::1]:4000`);
    // 6 /64s of one /56, one thread each: 6 of the /56's 8.
    for (let i = 0; i < 6; i++) expect(await lines(run(a, `h${i}`, `CRT t${i}`))).toEqual([`Thread t${i} created`]);
    expect(a.warnings).toEqual([]);
    // Lowered to 1 a user: each /64 may hold 1 (none past it), the /56 4 (past by 2), the /48 16.
    const lowered = await pg.openPeer(a, { ...options, threadLimits: { maxThreadsPerUser: 1, originShares: 1 } });
    expect(lowered.warnings).toEqual([
      "1 origin (the accounts one host, or one IPv6 /56 or /48, created) already holds more than --origin-shares lets them: the most, 2001:db8:0:100::/56's accounts, hold 6 threads, more than the 4 they may together; all is served, and a CRT of any of them is refused until RMV brings them under it",
    ]);
  });

  it('a schema 15 database migrates: its counters become per level, equal to a recount, and the /56 bound holds at once', async () => {
    const options = { maxStoredUploadBytes: 64 * UPLOAD_CHUNK_BYTES, maxUserUploadBytes: 2 * UPLOAD_CHUNK_BYTES, threadLimits: { maxThreadsPerUser: 2, originShares: 1 }, doomedUploadSweep: { auto: false } };
    const a = await pg.openStore(options);
    const schema = await schemaOf(a.sql);
    for (let i = 0; i < 3; i++) await account(a, `h${i}`, `[2001:db8:0:1${hex2(i)}::1]:4000`);
    await account(a, 'v4', '192.0.2.7:4000');
    for (const [u, t] of [['h0', 'a'], ['h0', 'b'], ['h1', 'c'], ['v4', 't']] as const) expect(await lines(run(a, u, `CRT ${t}`))).toEqual([`Thread ${t} created`]);
    expect(await upload(a, 'h1', 'f1', randomBytes(UPLOAD_CHUNK_BYTES + 5))).toEqual(E.right(undefined));
    await backToSchema(a.sql, 15);
    expect(await a.sql`SELECT count(*)::int AS n FROM origin_threads WHERE origin LIKE '%/56' OR origin LIKE '%/48'`).toEqual([{ n: 0 }]);
    // Written as a schema 15 server writes: an account of the /56 with its origin, and its thread (counted by origin alone).
    await a.sql`INSERT INTO accounts (username, secret, origin) VALUES ('h2b', 'pw', ${originOfAddress('[2001:db8:0:102::2]:4000') ?? ''})`;
    await insertThread(a.sql, { title: 'old', creator: 'h2b', entries: [] });
    const b = await pg.openPeer(schema, options);
    expect(b.schemaFound).toBe(15);
    expect(await b.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    const counters = await levelCounters(b.sql);
    expect(counters.kept).toEqual(counters.recounted);
    expect(counters.kept).toEqual([
      { origin: '192.0.2.7', threads: 1, bytes: '0' },
      { origin: '2001:db8:0:100::/56', threads: 4, bytes: String(UPLOAD_CHUNK_BYTES + 5) },
      { origin: '2001:db8:0:100::/64', threads: 2, bytes: '0' },
      { origin: '2001:db8:0:101::/64', threads: 1, bytes: String(UPLOAD_CHUNK_BYTES + 5) },
      { origin: '2001:db8:0:102::/64', threads: 1, bytes: '0' },
      { origin: '2001:db8:0::/48', threads: 4, bytes: String(UPLOAD_CHUNK_BYTES + 5) },
    ]);
    // The /56 holds 4 threads of its bound of 8 (2 an account and an origin, 4 origins' worth): 4 more, whichever /64s ask.
    for (let i = 3; i < 8; i++) await account(b, `h${i}`, `[2001:db8:0:1${hex2(i)}::1]:4000`);
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => lines(run(b, `h${3 + (i % 5)}`, `CRT n${i}`))));
    expect(replies.filter((r) => r[0]?.endsWith(' created'))).toHaveLength(4);
    expect(replies.filter((r) => r[0] === NETWORK_THREADS(8))).toHaveLength(6);
    const after = await levelCounters(b.sql);
    expect(after.kept).toEqual(after.recounted);
  });
});
