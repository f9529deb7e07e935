/**
 * The accounts one host created (their origin, schema 15's `accounts.origin`) hold together at most
 * `originShares` accounts' shares on PostgreSQL too: of the uploads' room (`maxUserUploadBytes` each) and of
 * the threads (`maxThreadsPerUser` each), over every server of the database, however many of the origin's
 * accounts write at once (attack round 30: one address's 70 accounts took all of both). Accounts of a database
 * migrated from schema 14, and those a schema 14 server still creates, have no origin: each its own group.
 */
import * as E from 'fp-ts/lib/Either.js';
import { randomBytes } from 'node:crypto';
import type postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, UPLOAD_CHUNK_BYTES, type PostgresStore } from '../src/postgres.js';
import { ORIGIN_RECOUNT } from '../src/postgres-store/postgres-origin-shares.js';
import { commandErrorText } from '../src/store/errors.js';
import { lines, run } from './helpers.js';
import { loopbackProxy, type LoopbackProxy } from './loopback-proxy.js';
import { backToSchema, schemaOf, usePostgres } from './postgres-harness.js';
import { uploadInChunks as upload } from './upload-in-chunks.js';

const pg = usePostgres({ migrated: 8 });

const ROOM = 64 * UPLOAD_CHUNK_BYTES;
const SHARE = 4 * UPLOAD_CHUNK_BYTES;
const ORIGIN = 2 * SHARE;

/** Two servers on one fresh forum: `ROOM` for all uploads, `SHARE` for each account's, the accounts of one origin 2 shares together. */
const twoServers = async (threadLimits = {}): Promise<readonly [PostgresStore, PostgresStore]> => {
  const options = { maxStoredUploadBytes: ROOM, maxUserUploadBytes: SHARE, threadLimits: { originShares: 2, ...threadLimits }, doomedUploadSweep: { auto: false } };
  const a = await pg.openStore(options);
  const b = await pg.openPeer(a, options);
  return [a, b];
};


/** The origins' counters (schema 15), and the same summed from the per-account counters: equal whatever was written. */
const originCounters = async (sql: postgres.Sql): Promise<{ readonly kept: unknown; readonly recounted: unknown }> => ({
  kept: await sql`SELECT origin, COALESCE(t.threads, 0) AS threads, COALESCE(b.bytes, 0)::text AS bytes FROM origin_threads t FULL JOIN origin_upload_bytes b USING (origin) ORDER BY origin`.then((rows) =>
    rows.filter((r) => r.threads !== 0 || r.bytes !== '0'),
  ),
  recounted: await sql.unsafe(ORIGIN_RECOUNT).then((rows) => rows.filter((r) => r.threads !== 0 || r.bytes !== '0')),
});

/**
 * A proxy that counts round trips: on each connection, a flight is what the client sends before the database
 * next answers (pipelined statements, sent together, are one), so a statement that waits for the answer of the
 * one before is one flight more.
 */
const flightCountingProxy = async (url: string): Promise<LoopbackProxy & { flights(): number }> => {
  let flights = 0;
  const proxy = await loopbackProxy(url, (client, upstream) => {
    let inFlight = false;
    client.on('data', (chunk: Buffer) => {
      if (!inFlight) flights++;
      inFlight = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      inFlight = false;
      client.write(chunk);
    });
  });
  return { ...proxy, flights: () => flights };
};

const account = async (s: PostgresStore, username: string, origin?: string): Promise<void> => {
  expect(await s.createAccount(origin === undefined ? { username, password: 'pw' } : { username, password: 'pw', origin })()).toEqual(E.right(true));
};

describe("the accounts of one origin hold a few accounts' shares together (PostgreSQL)", () => {
  it("uploads of 4 accounts of one origin at once over two servers never pass the origin's bound together; another origin's account still uploads", async () => {
    const [a, b] = await twoServers();
    for (let i = 0; i < 4; i++) await account(a, `m${i}`, '127.0.0.9');
    await account(a, 'victim', '127.0.0.10');
    await run(a, 'm0', 'CRT t');
    // 8 uploads of 3 chunks at once, 2 an account (each alone may hold 4 chunks: one upload each, 12 chunks); the origin 8.
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => upload(i % 2 === 0 ? a : b, `m${i % 4}`, `f${i}`, randomBytes(3 * UPLOAD_CHUNK_BYTES))));
    // Before the bound: one each, 4 (12 chunks). Chunks of uploads refused later held room meanwhile, so none may commit.
    const committed = results.filter(E.isRight).length;
    expect(committed).toBeLessThanOrEqual(2);
    for (const r of results.filter(E.isLeft)) expect([E.left({ kind: 'uploadStorageFull', limit: SHARE, who: 'account' }), E.left({ kind: 'uploadStorageFull', limit: ORIGIN, who: 'origin' })]).toContainEqual(r);
    const [held] = await a.sql<{ n: string }[]>`SELECT COALESCE(sum(size), 0) AS n FROM uploads WHERE uploader LIKE 'm%' AND committed`;
    expect(Number(held?.n)).toBeLessThanOrEqual(ORIGIN);
    // Nothing pending is left counted: the origin's held bytes are its committed files'.
    const [counted] = await a.sql<{ n: string }[]>`SELECT COALESCE(sum(bytes), 0) AS n FROM uploader_bytes WHERE uploader LIKE 'm%'`;
    expect(Number(counted?.n)).toBe(Number(held?.n));
    expect(await upload(b, 'victim', 'mine', randomBytes(3 * UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
    const counters = await originCounters(a.sql);
    expect(counters.kept).toEqual(counters.recounted);
  });

  it("the origins' counters follow every change of the accounts' threads and uploads, RMV's cascade over several origins' uploads and an aborted upload included", async () => {
    const [a, b] = await twoServers({ maxThreadsPerUser: 50 });
    for (const [u, o] of [['p1', '127.0.0.1'], ['p2', '127.0.0.1'], ['q1', '127.0.0.2'], ['r1', '2001:db8::/64']] as const) await account(a, u, o);
    await account(a, 'none');
    for (const [u, t] of [['p1', 't'], ['p2', 'u'], ['q1', 'w'], ['none', 'x']] as const) expect(await lines(run(a, u, `CRT ${t}`))).toEqual([`Thread ${t} created`]);
    for (const [i, u] of ['p1', 'q1', 'r1', 'p2', 'none', 'q1'].entries()) expect(await upload(i % 2 === 0 ? a : b, u, `f${i}`, randomBytes(UPLOAD_CHUNK_BYTES + i))).toEqual(E.right(undefined));
    const pending = await b.beginUpload('t', 'pending', 'r1')();
    if (E.isLeft(pending)) throw new Error('pending');
    await new Promise<void>((resolve) => pending.right.stream.write(randomBytes(UPLOAD_CHUNK_BYTES), () => resolve()));
    const before = await originCounters(a.sql);
    expect(before.kept).toEqual(before.recounted);
    expect(before.kept).toEqual([
      { origin: '127.0.0.1', threads: 2, bytes: String(2 * UPLOAD_CHUNK_BYTES + 3) },
      { origin: '127.0.0.2', threads: 1, bytes: String(2 * UPLOAD_CHUNK_BYTES + 6) },
      { origin: '2001:db8::/64', threads: 0, bytes: String(2 * UPLOAD_CHUNK_BYTES + 2) },
    ]);
    await pending.right.abort();
    // RMV of t: its uploads by three origins (and one of none) go in one cascade.
    expect(await lines(run(b, 'p1', 'RMV t'))).toEqual(['Thread t removed']);
    const after = await originCounters(a.sql);
    expect(after.kept).toEqual(after.recounted);
    expect(after.kept).toEqual([{ origin: '127.0.0.1', threads: 1, bytes: '0' }, { origin: '127.0.0.2', threads: 1, bytes: '0' }]);
  });

  it("16 accounts of one origin each uploading one chunk at once over two servers: exactly the origin's 8 chunks commit, the rest refused as the origin's", async () => {
    const [a, b] = await twoServers();
    for (let i = 0; i < 16; i++) await account(a, `m${i}`, '127.0.0.9');
    await run(a, 'm0', 'CRT t');
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => upload(i % 2 === 0 ? a : b, `m${i}`, `f${i}`, randomBytes(UPLOAD_CHUNK_BYTES))));
    expect(results.filter(E.isRight)).toHaveLength(ORIGIN / UPLOAD_CHUNK_BYTES);
    expect(results.filter(E.isLeft)).toEqual(Array.from({ length: 16 - ORIGIN / UPLOAD_CHUNK_BYTES }, () => E.left({ kind: 'uploadStorageFull', limit: ORIGIN, who: 'origin' })));
  });

  it('an upload announced past what is left of the origin\'s bound is refused as it begins, with the origin\'s line', async () => {
    const [a, b] = await twoServers();
    for (const u of ['m0', 'm1', 'm2']) await account(a, u, '2001:db8:0:1::/64');
    await run(a, 'm0', 'CRT t');
    expect(await upload(a, 'm0', 'one', randomBytes(3 * UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
    expect(await upload(b, 'm1', 'two', randomBytes(3 * UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
    const refused = await b.beginUpload('t', 'three', 'm2', undefined, 3 * UPLOAD_CHUNK_BYTES)();
    expect(refused).toEqual(E.left({ kind: 'uploadStorageFull', limit: ORIGIN, who: 'origin', announced: { free: 2 * UPLOAD_CHUNK_BYTES, size: 3 * UPLOAD_CHUNK_BYTES } }));
    if (E.isLeft(refused)) {
      expect(commandErrorText(refused.left)).toBe(
        `Your account and the others created from the same address hold as much of the forum's uploads as one address may: at most ${ORIGIN} bytes, ${2 * UPLOAD_CHUNK_BYTES} are left to them, this file has ${3 * UPLOAD_CHUNK_BYTES} (remove threads of theirs to make room)`,
      );
    }
    expect(await upload(b, 'm2', 'small', randomBytes(2 * UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
    expect(await upload(a, 'm2', 'more', randomBytes(1))).toEqual(E.left({ kind: 'uploadStorageFull', limit: ORIGIN, who: 'origin' }));
  });

  it("a chunk of an origin's account costs no round trip more than one of an account of no origin: the origin's lock and its counter's read go together", async () => {
    const [a] = await twoServers();
    const proxy = await flightCountingProxy(pg.url());
    try {
      const b = await pg.openPeerVia(proxy.url, a, { maxStoredUploadBytes: ROOM, maxUserUploadBytes: SHARE, threadLimits: { originShares: 2 }, doomedUploadSweep: { auto: false } });
      await account(a, 'o', '127.0.0.9');
      await account(a, 'n');
      await run(a, 'o', 'CRT t');
      // Round trips of 3 chunks stored one after another (each inserted before the stream takes more); the least
      // of 3 tries, so that a statement of the store's own on another connection (a heartbeat) does not count.
      const chunkFlights = async (who: string): Promise<number> => {
        let least = Number.POSITIVE_INFINITY;
        for (let i = 0; i < 3; i++) {
          const begun = await b.beginUpload('t', `${who}${i}`, who)();
          if (E.isLeft(begun)) throw new Error(`${who} could not begin`);
          const before = proxy.flights();
          for (let c = 0; c < 3; c++) await new Promise<void>((resolve) => begun.right.stream.write(randomBytes(UPLOAD_CHUNK_BYTES), () => resolve()));
          least = Math.min(least, proxy.flights() - before);
          await begun.right.abort();
        }
        return least;
      };
      const none = await chunkFlights('n');
      expect(none).toBeGreaterThanOrEqual(3);
      expect(await chunkFlights('o')).toBe(none);
    } finally {
      await proxy.close();
    }
  });

  it('a server opened with a lower bound than its origins already hold warns of it, once per holding, naming how many and the one holding the most', async () => {
    const [a] = await twoServers({ maxThreadsPerUser: 3 });
    for (const [u, o] of [['p1', '127.0.0.1'], ['p2', '127.0.0.1'], ['q1', '127.0.0.2'], ['q2', '127.0.0.2']] as const) await account(a, u, o);
    // 127.0.0.1's accounts create 5 threads (its bound 6), 127.0.0.2's 4; p1 uploads 3 chunks (its origin's bound 8).
    for (const [u, n] of [['p1', 3], ['p2', 2], ['q1', 2], ['q2', 2]] as const) for (let i = 0; i < n; i++) expect(await lines(run(a, u, `CRT ${u}-${i}`))).toEqual([`Thread ${u}-${i} created`]);
    await run(a, 'q2', 'RMV q2-1');
    expect(await lines(run(a, 'q2', 'CRT t'))).toEqual(['Thread t created']);
    expect(await upload(a, 'p1', 'f', randomBytes(3 * UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
    expect(a.warnings).toEqual([]);
    // Lowered: each origin may hold 3 threads and 2 chunks.
    const lowered = await pg.openPeer(a, { maxStoredUploadBytes: ROOM, maxUserUploadBytes: 2 * UPLOAD_CHUNK_BYTES, threadLimits: { maxThreadsPerUser: 3, originShares: 1 }, doomedUploadSweep: { auto: false } });
    expect(lowered.warnings).toEqual([
      "2 origins (the accounts one host created) already hold more than --origin-shares lets them: the most, 127.0.0.1's accounts, hold 5 threads, more than the 3 they may together; all is served, and a CRT of any of them is refused until RMV brings them under it",
      `1 origin (the accounts one host created) already holds more than --origin-shares lets them: the most, 127.0.0.1's accounts, hold ${3 * UPLOAD_CHUNK_BYTES} bytes of uploads, more than the ${2 * UPLOAD_CHUNK_BYTES} they may together; all is served, and an UPD of any of them is refused until RMV brings them under it`,
    ]);
    expect(await lines(run(lowered, 'p2', 'CRT x'))).toEqual(['Your account and the others created from the same address have created too many threads (at most 3): remove one of theirs before creating another']);
    // Off: nothing said.
    expect((await pg.openPeer(a, { maxUserUploadBytes: UPLOAD_CHUNK_BYTES, threadLimits: { maxThreadsPerUser: 1, originShares: 0 }, doomedUploadSweep: { auto: false } })).warnings).toEqual([]);
  });

  it('CRTs by 4 accounts of one origin at once over two servers (each its own slot, most likely) create exactly the origin\'s limit', async () => {
    const [a, b] = await twoServers({ maxThreadsPerUser: 3 });
    for (let i = 0; i < 4; i++) await account(a, `c${i}`, '127.0.0.9');
    const replies = await Promise.all(Array.from({ length: 24 }, (_, i) => lines(run(i % 2 === 0 ? a : b, `c${i % 4}`, `CRT t${i}`))));
    expect(replies.filter((r) => r[0]?.endsWith(' created'))).toHaveLength(6);
    expect(replies.filter((r) => r[0] === 'Your account and the others created from the same address have created too many threads (at most 6): remove one of theirs before creating another')).toHaveLength(18);
  });

  it('a schema 14 database migrates: its accounts have no origin, log in and create as their own groups; accounts a schema 14 server inserts the same', async () => {
    const a = await pg.openStore({ threadLimits: { maxThreadsPerUser: 1, originShares: 1 } });
    const schema = await schemaOf(a.sql);
    await backToSchema(a.sql, 14);
    // As a schema 14 server writes them.
    await a.sql`INSERT INTO accounts (username, secret) VALUES ('old1', 'pw'), ('old2', 'pw')`;
    const b = await pg.openPeer(schema, { threadLimits: { maxThreadsPerUser: 1, originShares: 1 } });
    expect(b.schemaFound).toBe(14);
    expect(await b.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    expect(await b.sql`SELECT username, origin FROM accounts ORDER BY username`).toEqual([
      { username: 'old1', origin: null },
      { username: 'old2', origin: null },
    ]);
    expect(await b.getAccount('old1')()).toEqual(E.right({ _tag: 'Some', value: { username: 'old1', password: 'pw' } }));
    expect(await lines(run(b, 'old1', 'CRT o1'))).toEqual(['Thread o1 created']);
    expect(await lines(run(b, 'old2', 'CRT o2'))).toEqual(['Thread o2 created']);
    // Still inserted without an origin by a schema 14 server beside this one: a group of its own.
    await b.sql`INSERT INTO accounts (username, secret) VALUES ('old3', 'pw')`;
    expect(await lines(run(b, 'old3', 'CRT o3'))).toEqual(['Thread o3 created']);
    // New accounts record theirs, and one origin's two accounts are one account's worth here.
    await account(b, 'n1', '127.0.0.9');
    await account(b, 'n2', '127.0.0.9');
    expect(await b.sql`SELECT origin FROM accounts WHERE username = 'n1'`).toEqual([{ origin: '127.0.0.9' }]);
    expect(await lines(run(b, 'n1', 'CRT x1'))).toEqual(['Thread x1 created']);
    expect(await lines(run(b, 'n2', 'CRT x2'))).toEqual(['Your account and the others created from the same address have created too many threads (at most 1): remove one of theirs before creating another']);
  });
});
