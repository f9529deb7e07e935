import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import { randomBytes } from 'node:crypto';
import type postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { lockForCreate } from '../src/postgres-store/postgres-create-thread.js';
import { UPLOADER_BYTES_RECOUNT, uploaderBytes } from '../src/postgres-store/postgres-upload-share.js';
import { createPostgresTransferTokens, openPostgresStore, SCHEMA_VERSION, UPLOAD_CHUNK_BYTES, type PostgresStore } from '../src/postgres.js';
import { lines, run, upload } from './helpers.js';
import { holdings, uploaderCounters } from './postgres-share-recount.js';
import { backToSchema, schemaOf, usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 9 });

const OLD_SERVER = /older than schema 3 is still running on this database \(stop it\)/;

/** The thread's kept size and the same counted from its lines: equal when the size is right. */
const sizeAndRecount = async (sql: postgres.Sql, title: string): Promise<{ kept: unknown; recounted: unknown }> => {
  const [kept, recounted] = await Promise.all([
    sql`SELECT entry_count, message_count FROM threads WHERE title = ${title}`,
    sql`SELECT count(*)::int AS entry_count, (count(*) FILTER (WHERE kind = 'message'))::int AS message_count FROM entries WHERE thread = ${title}`,
  ]);
  return { kept: kept[0], recounted: recounted[0] };
};

/** The thread counts CRT reads and the same counted from the threads. */
const countsAndRecount = async (sql: postgres.Sql): Promise<{ kept: unknown; recounted: unknown }> => {
  const [kept, recounted] = await Promise.all([
    sql`SELECT (SELECT sum(threads)::int FROM thread_counts) AS total, (SELECT json_object_agg(creator, threads ORDER BY creator) FROM creator_thread_counts WHERE threads <> 0) AS mine`,
    sql`SELECT (SELECT count(*)::int FROM threads) AS total, (SELECT json_object_agg(creator, n ORDER BY creator) FROM (SELECT creator, count(*)::int AS n FROM threads GROUP BY 1) c) AS mine`,
  ]);
  return { kept: kept[0], recounted: recounted[0] };
};

// What a server of schema 2 sends for each command that changes a thread's lines (its postgres-store.ts and
// postgres-upload.ts, before 1a4c185): the thread row locked, the lines read, the diff written; no size.
const v2 = {
  lock: (tx: postgres.TransactionSql, title: string) =>
    Promise.all([tx`SELECT creator FROM threads WHERE title = ${title} FOR UPDATE`, tx`SELECT pos, kind, author, body FROM entries WHERE thread = ${title} ORDER BY pos`]),
  msg: (sql: postgres.Sql, title: string, author: string, text: string) =>
    sql.begin(async (tx) => {
      const [, lines] = await v2.lock(tx, title);
      await tx`INSERT INTO entries (thread, pos, kind, author, body) VALUES (${title}, ${lines.length + 1}, 'message', ${author}, ${text})`;
    }),
  dlt: (sql: postgres.Sql, title: string, pos: number) =>
    sql.begin(async (tx) => {
      await v2.lock(tx, title);
      await tx`DELETE FROM entries WHERE thread = ${title} AND pos = ANY(${[pos]})`;
    }),
  edt: (sql: postgres.Sql, title: string, pos: number, author: string, text: string) =>
    sql.begin(async (tx) => {
      await v2.lock(tx, title);
      await tx`DELETE FROM entries WHERE thread = ${title} AND pos = ANY(${[pos]})`;
      await tx`INSERT INTO entries (thread, pos, kind, author, body) VALUES (${title}, ${pos}, 'message', ${author}, ${text})`;
    }),
  uploadCommit: (sql: postgres.Sql, title: string, filename: string, uploader: string) =>
    sql.begin(async (tx) => {
      await tx`SELECT 1 FROM threads WHERE title = ${title} FOR UPDATE`;
      const [id] = await tx<{ id: string }[]>`INSERT INTO uploads (thread, filename, uploader) VALUES (${title}, ${filename}, ${uploader}) RETURNING id`;
      await tx`UPDATE uploads SET committed = true, size = 0 WHERE id = ${id?.id ?? '0'}`;
      const last = await tx<{ last: string }[]>`SELECT COALESCE(MAX(pos), 0) AS last FROM entries WHERE thread = ${title}`;
      await tx`INSERT INTO entries (thread, pos, kind, author, body) VALUES (${title}, ${Number(last[0]?.last ?? 0) + 1}, 'upload', ${uploader}, ${filename})`;
    }),
  rmv: (sql: postgres.Sql, title: string) =>
    sql.begin(async (tx) => {
      await v2.lock(tx, title);
      await tx`DELETE FROM threads WHERE title = ${title}`;
    }),
  // Before the slot locks (9a74ab7), CRT took one lock of its own: (class "crt", 0).
  crtOwnLock: (sql: postgres.Sql, title: string, creator: string) =>
    sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${0x637274}, 0)`;
      await tx`SELECT count(*)::int AS total, (count(*) FILTER (WHERE creator = ${creator}))::int AS mine FROM threads`;
      await tx`INSERT INTO threads (title, creator) VALUES (${title}, ${creator}) ON CONFLICT DO NOTHING RETURNING title`;
    }),
  // Since them (and in schema 3), CRT holds the gate and its slot, as this schema's does.
  crtGated: (sql: postgres.Sql, title: string, creator: string) =>
    sql.begin(async (tx) => {
      await lockForCreate(tx, creator, 'shared');
      await tx`SELECT count(*)::int AS total, (count(*) FILTER (WHERE creator = ${creator}))::int AS mine FROM threads`;
      await tx`INSERT INTO threads (title, creator) VALUES (${title}, ${creator}) ON CONFLICT DO NOTHING RETURNING title`;
    }),
};

const refusal = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'accepted';
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
};

describe('PostgreSQL rolling upgrade', () => {
  it("a schema 2 server still running after the migration cannot change a thread's lines: each change is refused whole, saying to stop it", async () => {
    const a = await pg.openStore();
    await run(a, 'alice', 'CRT t');
    for (const text of ['one', 'two', 'three']) await run(a, 'alice', `MSG t ${text}`);
    const before = await lines(run(a, 'bob', 'RDT t'));
    const oldServer = a.sql;
    expect(await refusal(v2.msg(oldServer, 't', 'mallory', 'unsized'))).toMatch(OLD_SERVER);
    expect(await refusal(v2.dlt(oldServer, 't', 1))).toMatch(OLD_SERVER);
    expect(await refusal(v2.edt(oldServer, 't', 2, 'alice', 'a much longer text than before'))).toMatch(OLD_SERVER);
    expect(await refusal(v2.uploadCommit(oldServer, 't', 'f.bin', 'bob'))).toMatch(OLD_SERVER);
    // Nothing of them is kept: the lines, the size and the uploads are as they were.
    expect(await lines(run(a, 'bob', 'RDT t'))).toEqual(before);
    const { kept, recounted } = await sizeAndRecount(a.sql, 't');
    expect(kept).toEqual(recounted);
    expect(await a.sql`SELECT id FROM uploads`).toEqual([]);
    // What it may still do breaks nothing this schema keeps: remove a thread (its lines go with it), read.
    expect(await refusal(v2.rmv(oldServer, 't'))).toBe('accepted');
    expect(await lines(run(a, 'bob', 'LST'))).toEqual(['No threads to list']);
    const counts = await countsAndRecount(a.sql);
    expect(counts.kept).toEqual(counts.recounted);
  });

  it("a CRT that takes a lock of its own instead of CRT's gate is refused; one holding the gate, as schema 3's does, is counted", async () => {
    const a = await pg.openStore({ threadLimits: { maxThreadsPerUser: 2 } });
    expect(await refusal(v2.crtOwnLock(a.sql, 'mine', 'alice'))).toMatch(/thread mine was created without the CRT gate lock: a forum server older than schema 3/);
    expect(await refusal(v2.crtGated(a.sql, 'gated', 'alice'))).toBe('accepted');
    expect(await lines(run(a, 'alice', 'CRT second'))).toEqual(['Thread second created']);
    expect((await lines(run(a, 'alice', 'CRT third')))[0]).toMatch(/^You have created too many threads/);
    expect(await lines(run(a, 'bob', 'LST'))).toEqual(['The list of active threads:', 'gated', 'second']);
  });

  it("this schema's writers and schema 3's pass the fences: lines changed with the size written after them, in one transaction", async () => {
    const a = await pg.openStore();
    await run(a, 'alice', 'CRT t');
    await run(a, 'alice', 'MSG t one');
    // updateThread is how a schema 3 server writes EDT and DLT: the changed lines, then the size, pipelined.
    const edited = await a.updateThread('t', (th) => E.right({ thread: { ...th, entries: th.entries.map((e) => (e.kind === 'message' ? { ...e, text: 'uno' } : e)) }, result: 'ok' }))();
    expect(edited).toEqual(E.right('ok'));
    expect(await lines(run(a, 'alice', 'EDT t 1 eins'))).toEqual(['The message has been edited']);
    expect(await lines(run(a, 'alice', 'DLT t 1'))).toEqual(['The message has been deleted']);
    expect(await lines(run(a, 'bob', 'RDT t'))).toEqual(['Thread t is empty']);
  });

  it('servers starting at once on a schema 2 database: one migrates, every one opens, and the sizes and counts are those of the data', async () => {
    const a = await pg.openStore();
    const schema = await schemaOf(a.sql);
    await backToSchema(a.sql, 2);
    // Written as a schema 2 server did: threads of three accounts, lines without sizes.
    await a.sql`INSERT INTO threads (title, creator) SELECT 't' || g, 'user' || (g % 3) FROM generate_series(1, 30) g`;
    await a.sql`INSERT INTO entries (thread, pos, kind, author, body) SELECT 't' || (g % 30 + 1), g, CASE WHEN g % 4 = 0 THEN 'upload' ELSE 'message' END, 'bob', 'x' FROM generate_series(1, 600) g`;
    const opened = await Promise.all(Array.from({ length: 5 }, () => openPostgresStore(pg.url(), { schema, maxConnections: 2 })()));
    const servers: PostgresStore[] = [];
    for (const o of opened) {
      if (E.isLeft(o)) throw new Error(o.left.message);
      pg.onClose(() => o.right.close());
      servers.push(o.right);
    }
    expect(await a.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    const counts = await countsAndRecount(a.sql);
    expect(counts.kept).toEqual(counts.recounted);
    expect(counts.kept).toEqual({ total: 30, mine: { user0: 10, user1: 10, user2: 10 } });
    for (const title of ['t1', 't17', 't30']) {
      const { kept, recounted } = await sizeAndRecount(a.sql, title);
      expect(kept).toEqual(recounted);
    }
    expect(await lines(run(servers[3] ?? a, 'bob', 'MSG t1 after'))).toEqual(['Message posted to t1 thread']);
  });

  it('servers starting at once on a new schema all open: one creates it, the others find it', async () => {
    const a = await pg.openStore();
    const schema = `${await schemaOf(a.sql)}_fresh`;
    const opened = await Promise.all(Array.from({ length: 16 }, () => openPostgresStore(pg.url(), { schema, maxConnections: 1 })()));
    for (const o of opened) if (E.isRight(o)) pg.onClose(() => o.right.close());
    expect(opened.filter(E.isLeft)).toEqual([]);
  });

  it("migration 5 numbers the threads a schema 4 server wrote; one still running creates threads the default numbers, and its upload tokens are refused as invalid", async () => {
    const a = await pg.openStore();
    const schema = await schemaOf(a.sql);
    await run(a, 'alice', 'CRT first');
    await run(a, 'alice', 'CRT second');
    await backToSchema(a.sql, 4);
    const b = await pg.openPeer(schema);
    expect(await b.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    // What a schema 4 server still running sends: CRT holding the gate, naming no id; a token naming no thread row.
    const oldServer = a.sql;
    expect(await refusal(v2.crtGated(oldServer, 'third', 'bob'))).toBe('accepted');
    const ids = await b.sql<{ title: string; id: string }[]>`SELECT title, id FROM threads ORDER BY title`;
    expect(ids.map((r) => r.title)).toEqual(['first', 'second', 'third']);
    expect(new Set(ids.map((r) => r.id)).size).toBe(3);
    const token = 'cd'.repeat(32);
    await oldServer`INSERT INTO transfer_tokens (token, direction, thread, filename, username, expires_at, keys)
                    VALUES (${token}, 'upload', 'third', 'f', 'bob', ${Date.now() + 60_000}, ${Buffer.alloc(64, 1)})`;
    expect(await createPostgresTransferTokens(b.sql, { randomBytes: (n) => new Uint8Array(n) }).redeem(token, Date.now())()).toEqual(E.right(O.none));
    // This schema's UPD of the old server's thread binds its row.
    const granted = await run(b, 'bob', 'UPD third f');
    expect(granted.kind === 'transfer' ? granted.transfer.incarnation : undefined).toBe(String(ids[2]?.id));
  });

  it("migration 10 beside a schema 9 server still running: its tokens (naming no session) are redeemed by either, and revoked by its own sessions' ends only", async () => {
    const a = await pg.openStore();
    const schema = await schemaOf(a.sql);
    await backToSchema(a.sql, 9);
    const b = await pg.openPeer(schema);
    expect(await b.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    const oldServer = a.sql;
    // What a schema 9 server still running sends: an issue naming no session, and a session's end by username.
    const oldIssue = async (token: string, username: string): Promise<void> => {
      await oldServer`INSERT INTO transfer_tokens (token, direction, thread, filename, username, expires_at, keys, thread_id)
                      VALUES (${token}, 'upload', 't', 'f', ${username}, ${Date.now() + 60_000}, ${Buffer.alloc(64, 1)}, 1)`;
    };
    const oldRevoke = (username: string) => oldServer`DELETE FROM transfer_tokens WHERE username = ${username}`;
    const tb = createPostgresTransferTokens(b.sql, { randomBytes: (n) => Uint8Array.from(randomBytes(n)) });
    const session = { exportKeyingMaterial: (_label: string, context: Uint8Array, length: number) => Uint8Array.from({ length }, (_, i) => (context[i % context.length] ?? 0) ^ i) };
    const newIssue = async (username: string, connectionKey: string): Promise<string> => {
      const t = await tb.issue({ direction: 'upload', thread: 't', filename: 'f', username, expiresAt: Date.now() + 60_000, incarnation: '1', connectionKey }, session)();
      if (E.isLeft(t)) throw new Error('issue failed');
      return t.right;
    };
    const redeemed = async (token: string): Promise<boolean> => {
      const r = await tb.redeem(token, Date.now())();
      return E.isRight(r) && O.isSome(r.right);
    };
    // The old server's token is redeemed by the new one (nothing a redeemer checks is missing)...
    await oldIssue('aa'.repeat(32), 'carol');
    expect(await redeemed('aa'.repeat(32))).toBe(true);
    // ...and a new server's session's end, of the same account, leaves it: its own server revokes it.
    await oldIssue('bb'.repeat(32), 'carol');
    const mine = await newIssue('carol', 'B/c1');
    await tb.revokeSession({ username: 'carol', connectionKey: 'B/c1' })();
    expect((await b.sql<{ token: string }[]>`SELECT token FROM transfer_tokens`).map((r) => r.token)).toEqual(['bb'.repeat(32)]);
    expect(mine).not.toBe('bb'.repeat(32));
    // The old server's session's end revokes every token of the account, the new server's too: the old behaviour, until it stops.
    const newer = await newIssue('carol', 'B/c2');
    await oldRevoke('carol');
    expect(await redeemed('bb'.repeat(32))).toBe(false);
    expect(await redeemed(newer)).toBe(false);
  });

  it('migration 10 may run again: a database marked 9 with its column in place ends as it was', async () => {
    const a = await pg.openStore();
    const schema = await schemaOf(a.sql);
    await a.sql`UPDATE forum_schema SET version = 9`;
    const b = await pg.openPeer(schema);
    expect(await b.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    expect(await b.sql`SELECT data_type, is_nullable FROM information_schema.columns WHERE table_schema = ${schema} AND table_name = 'transfer_tokens' AND column_name = 'connection_key'`).toEqual([
      { data_type: 'text', is_nullable: 'YES' },
    ]);
  });

  it("migration 13 indexes uploads by uploader for the share's read, counting a schema 12 server's rows; it may run again", async () => {
    const a = await pg.openStore();
    const schema = await schemaOf(a.sql);
    await run(a, 'alice', 'CRT t');
    await backToSchema(a.sql, 12);
    // Rows as a schema 12 server writes them: 2,000 committed uploads of 100 accounts.
    await a.sql`INSERT INTO uploads (thread, filename, uploader, size, committed) SELECT 't', 'f' || g, 'u' || (g % 100), 10, true FROM generate_series(1, 2000) g`;
    const b = await pg.openPeer(schema);
    expect(await b.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    const indexed = () => b.sql`SELECT indexdef FROM pg_indexes WHERE schemaname = ${schema} AND indexname = 'uploads_uploader'`;
    expect((await indexed()).map((r) => String(r.indexdef).replace(`${schema}.`, ''))).toEqual(['CREATE INDEX uploads_uploader ON uploads USING btree (uploader)']);
    await b.sql`ANALYZE uploads`;
    const plan = await b.sql.unsafe(`EXPLAIN (FORMAT JSON) ${UPLOADER_BYTES_RECOUNT}`, ['u7']);
    const planText = JSON.stringify(plan);
    expect(planText).toContain('uploads_uploader');
    // No scan of every upload (the plan's nodes, as PostgreSQL's JSON writes their keys: no brace between these two).
    expect(planText).not.toMatch(/"Node Type":"Seq Scan"[^{}]*"Relation Name":"uploads"/);
    expect(await uploaderBytes(b.sql, 'u7')).toBe(200);
    // Marked 12 again with the index in place: migrated again, unchanged.
    await b.sql`UPDATE forum_schema SET version = 12`;
    const c = await pg.openPeer(schema);
    expect(await c.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    expect((await indexed()).length).toBe(1);
  });

  it("migration 14 fills the shares' counters from a schema 13 server's rows; that server's writes beside it keep them exact; it may run again", async () => {
    const users = ['alice', 'bob', 'carol'] as const;
    // No origins (schema 15): this store writes as a schema 13 server, whose tables have no `accounts.origin`.
    const a = await pg.openStore({ doomedUploadSweep: { auto: false }, threadLimits: { originShares: 0 } });
    const schema = await schemaOf(a.sql);
    await backToSchema(a.sql, 13);
    // What a schema 13 server writes (no counter, no trigger of schema 14): lines of three accounts in two threads,
    // one removed, committed uploads and a pending one's chunk.
    await run(a, 'alice', 'CRT t');
    await run(a, 'bob', 'CRT u');
    for (const [i, who] of ['alice', 'bob', 'carol', 'bob', 'carol', 'carol'].entries()) await run(a, who, `MSG ${i % 2 === 0 ? 't' : 'u'} line ${i} "quoted" é`);
    expect(await upload(a, 't', 'one', 'bob', randomBytes(1000))).toEqual(E.right(undefined));
    expect(await upload(a, 'u', 'two', 'carol', randomBytes(3000))).toEqual(E.right(undefined));
    const pending = await a.beginUpload('t', 'pending', 'carol')();
    if (E.isLeft(pending)) throw new Error('not begun');
    await new Promise<void>((resolve) => pending.right.stream.write(randomBytes(UPLOAD_CHUNK_BYTES), () => resolve()));
    await run(a, 'bob', 'DLT u 1');
    expect(await a.sql`SELECT to_regclass('uploader_bytes') AS t`).toEqual([{ t: null }]);
    // A schema 14 server starts beside it: the counters are filled from those rows.
    const b = await pg.openPeer(schema, { doomedUploadSweep: { auto: false } });
    expect(await b.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    const filled = await uploaderCounters(b.sql);
    expect(filled.kept).toEqual({ bob: 1000, carol: 3000 + UPLOAD_CHUNK_BYTES });
    expect(filled.kept).toEqual(filled.recounted);
    const held = await holdings(b, users);
    expect(held.read).toEqual(held.counted);
    // The schema 13 server writes on. Schema 14 changed no statement a server writes (only the shares' reads), so
    // its writes are these: the counters follow them through the triggers, whichever server writes.
    await new Promise<void>((resolve) => pending.right.stream.write(randomBytes(500), () => resolve()));
    expect(await pending.right.commit()).toEqual(E.right(undefined));
    await run(a, 'carol', 'EDT t 2 a longer text than it was');
    await run(a, 'bob', 'RMV u');
    await run(a, 'bob', 'MSG t after');
    const after = await uploaderCounters(b.sql);
    expect(after.kept).toEqual({ bob: 1000, carol: UPLOAD_CHUNK_BYTES + 500 });
    expect(after.kept).toEqual(after.recounted);
    const heldAfter = await holdings(b, users);
    expect(heldAfter.read).toEqual(heldAfter.counted);
    // Marked 13 again with its tables in place: migrated again, refilled to the same counts.
    await b.sql`UPDATE forum_schema SET version = 13`;
    const c = await pg.openPeer(schema);
    expect(await c.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    expect(await uploaderCounters(c.sql)).toEqual(after);
    expect(await holdings(c, users)).toEqual(heldAfter);
  });

  it('migration 4 may run again: a database marked 3 with its tables in place ends as it was', async () => {
    const a = await pg.openStore();
    const schema = await schemaOf(a.sql);
    for (let i = 0; i < 5; i++) await run(a, `u${i % 2}`, `CRT t${i}`);
    const before = await countsAndRecount(a.sql);
    await a.sql`UPDATE forum_schema SET version = 3`;
    const b = await pg.openPeer(schema);
    expect(await b.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    expect(await countsAndRecount(b.sql)).toEqual(before);
    expect(await lines(run(b, 'u0', 'CRT again'))).toEqual(['Thread again created']);
    expect(await lines(run(b, 'u0', 'MSG again hi'))).toEqual(['Message posted to again thread']);
  });
});
