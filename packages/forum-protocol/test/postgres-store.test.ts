import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { createPostgresSessionRegistry, createPostgresTransferTokens, openPostgresStore, SCHEMA_VERSION, UPLOAD_CHUNK_BYTES } from '../src/postgres.js';
import { deriveTransferKeys } from '../src/transfer/transfer-keys.js';
import { MAX_THREAD_ENTRIES } from '../src/protocol/limits.js';
import { lines, readAll, run, upload } from './helpers.js';
import { backToSchema, insertThread, schemaOf, usePostgres } from './postgres-harness.js';
import { threadOfLines } from './thread-seed.js';

const pg = usePostgres({ migrated: 20 });

/** What the store's schema defines, each definition with the schema's name as `S`. */
const schemaDefinition = async (sql: postgres.Sql): Promise<readonly string[]> => {
  const schema = await schemaOf(sql);
  const rows = await sql<{ d: string }[]>`
    SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') AS d
      FROM information_schema.columns WHERE table_schema = ${schema}
    UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = ${schema}
    UNION ALL SELECT 'constraint ' || c.conname || ' ' || pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = ${schema}
    UNION ALL SELECT 'function ' || pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ${schema}
    UNION ALL SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace WHERE n.nspname = ${schema} AND NOT t.tgisinternal
    UNION ALL SELECT 'relation ' || r.relname || ' ' || r.relkind::text FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace WHERE n.nspname = ${schema}`;
  return rows.map((r) => r.d.replaceAll(schema, 'S')).sort();
};

describe('PostgreSQL store', () => {
  it('creates its tables with a version row, and opening again migrates nothing', async () => {
    // A new schema, not one of the template's: the tables are created as this store opens.
    const a = await pg.openNewStore();
    expect(a.schemaFound).toBe(0);
    const schema = await schemaOf(a.sql);
    expect(await a.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    await run(a, 'alice', 'CRT kept');
    const b = await pg.openPeer(schema);
    expect(b.schemaFound).toBe(SCHEMA_VERSION);
    expect(await b.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    expect(await lines(run(b, 'bob', 'LST'))).toEqual(['The list of active threads:', 'kept']);
  });

  it("a schema of the harness's template is the one a new database's store makes: tables, columns, indexes, constraints, functions, triggers", async () => {
    const fromTemplate = await pg.openStore();
    const made = await pg.openNewStore();
    expect(fromTemplate.schemaFound).toBe(SCHEMA_VERSION);
    expect(made.schemaFound).toBe(0);
    expect(await schemaDefinition(fromTemplate.sql)).toEqual(await schemaDefinition(made.sql));
  });

  it('migrates a version 1 database: its transfer tokens (which had no keys) are dropped, the keys column added', async () => {
    const a = await pg.openStore();
    const schema = await schemaOf(a.sql);
    // Back to version 1 as a server of that version left it, with one outstanding token.
    await backToSchema(a.sql, 1);
    await a.sql`INSERT INTO transfer_tokens (token, direction, thread, filename, username, expires_at) VALUES ('old', 'upload', 't', 'f', 'u', ${Date.now() + 60_000})`;
    // A thread as that server's CRT wrote it (this server's CRT needs schema 4's counts).
    await a.sql`INSERT INTO threads (title, creator) VALUES ('kept', 'alice')`;
    const b = await pg.openPeer(schema);
    expect(await b.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    expect(await b.sql`SELECT token FROM transfer_tokens`).toEqual([]);
    expect(await b.sql`SELECT data_type FROM information_schema.columns WHERE table_schema = ${schema} AND table_name = 'transfer_tokens' AND column_name = 'keys'`).toEqual([
      { data_type: 'bytea' },
    ]);
    expect(await lines(run(b, 'bob', 'LST'))).toEqual(['The list of active threads:', 'kept']);
  });

  it('refuses a database migrated by a newer server', async () => {
    const a = await pg.openStore();
    const schema = await schemaOf(a.sql);
    await a.sql`UPDATE forum_schema SET version = ${SCHEMA_VERSION + 1}`;
    const opened = await openPostgresStore(pg.url(), { schema })();
    expect(opened).toEqual(E.left({ kind: 'io', message: `the database schema is version ${SCHEMA_VERSION + 1}, newer than this server's ${SCHEMA_VERSION}` }));
  });

  it('two servers posting to one thread at once never give two messages one number', async () => {
    const a = await pg.openStore();
    const b = await pg.openPeer(a);
    await run(a, 'alice', 'CRT busy');
    const posts = Array.from({ length: 60 }, (_, i) => ({ store: i % 2 === 0 ? a : b, user: `u${i}` }));
    const replies = await Promise.all(posts.map((p) => lines(run(p.store, p.user, `MSG busy from ${p.user}`))));
    expect(replies.every((r) => r[0] === 'Message posted to busy thread')).toBe(true);
    const shown = await lines(run(b, 'alice', 'RDT busy'));
    expect(shown.map((l) => l.split(' ')[0])).toEqual(posts.map((_, i) => String(i + 1)));
    expect(new Set(shown.map((l) => l.replace(/^\d+ /, '')))).toEqual(new Set(posts.map((p) => `${p.user}: from ${p.user}`)));
  });

  it('stores an upload in chunks and streams it back whole; a removed thread takes its chunks', async () => {
    const s = await pg.openStore();
    await run(s, 'alice', 'CRT files');
    const bytes = randomBytes(4 * UPLOAD_CHUNK_BYTES + 3);
    expect(E.isRight(await upload(s, 'files', 'big.bin', 'alice', bytes))).toBe(true);
    const chunks = await s.sql<{ n: string; biggest: number }[]>`SELECT count(*) AS n, max(length(data)) AS biggest FROM upload_chunks`;
    expect(chunks).toEqual([{ n: '5', biggest: UPLOAD_CHUNK_BYTES }]);
    const d = await s.openDownload('files', 'big.bin')();
    if (E.isLeft(d)) throw new Error('openDownload failed');
    expect(d.right.size).toBe(bytes.length);
    expect((await readAll(d.right.stream)).equals(bytes)).toBe(true);
    expect(await lines(run(s, 'alice', 'RMV files'))).toEqual(['Thread files removed']);
    // Doomed with the thread, deleted by the sweep after the reply (the one the RMV started, or this).
    await s.sweepDoomedUploads();
    expect(await s.sql`SELECT count(*)::int AS n FROM upload_chunks`).toEqual([{ n: 0 }]);
  });

  it('an empty upload downloads as zero bytes', async () => {
    const s = await pg.openStore();
    await run(s, 'alice', 'CRT t');
    expect(E.isRight(await upload(s, 't', 'empty', 'alice', new Uint8Array(0)))).toBe(true);
    const d = await s.openDownload('t', 'empty')();
    if (E.isLeft(d)) throw new Error('openDownload failed');
    expect((await readAll(d.right.stream)).length).toBe(0);
  });

  it('of two uploads of one name committed by two servers, one wins and the other leaves nothing', async () => {
    const a = await pg.openStore();
    const b = await pg.openPeer(a);
    await run(a, 'alice', 'CRT t');
    const [wa, wb] = await Promise.all([a.beginUpload('t', 'f', 'alice')(), b.beginUpload('t', 'f', 'bob')()]);
    if (E.isLeft(wa) || E.isLeft(wb)) throw new Error('beginUpload failed');
    wa.right.stream.write(Buffer.from('from a'));
    wb.right.stream.write(Buffer.from('from b'));
    const results = await Promise.all([wa.right.commit(), wb.right.commit()]);
    expect(results.filter(E.isRight)).toHaveLength(1);
    expect(results.filter(E.isLeft)).toEqual([E.left({ kind: 'fileExists', title: 't', filename: 'f' })]);
    expect((await lines(run(a, 'x', 'RDT t'))).filter((l) => l.endsWith('uploaded f'))).toHaveLength(1);
    expect(await a.sql`SELECT count(*)::int AS n FROM uploads`).toEqual([{ n: 1 }]);
  });

  it('uploads committed by two servers and MSGs racing for the last lines of a thread end at its limit; a refused upload leaves no row and no chunk', async () => {
    const a = await pg.openStore();
    const b = await pg.openPeer(a);
    await insertThread(a.sql, threadOfLines('t', 'mallory', MAX_THREAD_ENTRIES - 2));
    // Chunks are stored as they arrive: each upload has one in the table before it commits.
    const bytes = randomBytes(UPLOAD_CHUNK_BYTES + 1);
    const writers = await Promise.all(
      ['f0', 'f1', 'f2', 'f3'].map(async (f, i) => {
        const w = await (i % 2 === 0 ? a : b).beginUpload('t', f, 'mallory')();
        if (E.isLeft(w)) throw new Error('beginUpload failed');
        await new Promise<void>((resolve, reject) => w.right.stream.write(bytes, (err) => (err ? reject(err) : resolve())));
        return w.right;
      }),
    );
    const [commits, posts] = await Promise.all([
      Promise.all(writers.map((w) => w.commit())),
      Promise.all(['m0', 'm1'].map((u, i) => lines(run(i === 0 ? a : b, u, `MSG t from ${u}`, u)))),
    ]);
    const committed = commits.filter(E.isRight).length;
    expect(committed + posts.filter((r) => r[0] === 'Message posted to t thread').length).toBe(2);
    expect(commits.filter(E.isLeft)).toEqual(Array.from({ length: 4 - committed }, () => E.left({ kind: 'threadFull', title: 't' })));
    expect(await a.sql`SELECT count(*)::int AS n FROM entries WHERE thread = 't'`).toEqual([{ n: MAX_THREAD_ENTRIES }]);
    expect(await a.sql`SELECT entry_count FROM threads WHERE title = 't'`).toEqual([{ entry_count: MAX_THREAD_ENTRIES }]);
    expect(await a.sql`SELECT count(*)::int AS n FROM uploads`).toEqual([{ n: committed }]);
    // The refused ones' chunks, doomed with their rows, once swept.
    await Promise.all([a.sweepDoomedUploads(), b.sweepDoomedUploads()]);
    expect(await a.sql`SELECT count(*)::int AS n FROM upload_chunks`).toEqual([{ n: 2 * committed }]);
    // Refused as it begins: no pending row is made.
    expect(await b.beginUpload('t', 'g', 'mallory')()).toEqual(E.left({ kind: 'threadFull', title: 't' }));
    expect(await a.sql`SELECT count(*)::int AS n FROM uploads`).toEqual([{ n: committed }]);
  });
});

describe('PostgreSQL store: a thread removed under an upload', () => {
  const writeAll = (w: { readonly stream: NodeJS.WritableStream }, bytes: Uint8Array): Promise<void> =>
    new Promise<void>((resolve) => w.stream.write(bytes, () => resolve()));

  it("a grant names the thread's row: another server's RMV and CRT of the title in between refuse the upload as it begins", async () => {
    const a = await pg.openStore();
    const b = await pg.openPeer(a);
    await run(a, 'alice', 'CRT t');
    const granted = await run(a, 'alice', 'UPD t f');
    if (granted.kind !== 'transfer') throw new Error('expected a transfer');
    const [row] = await a.sql<{ id: string }[]>`SELECT id FROM threads WHERE title = 't'`;
    expect(granted.transfer.incarnation).toBe(String(row?.id));
    expect(await lines(run(b, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
    expect(await lines(run(b, 'bob', 'CRT t'))).toEqual(['Thread t created']);
    expect(await a.beginUpload('t', 'f', 'alice', granted.transfer.incarnation ?? undefined)()).toEqual(E.left({ kind: 'noThread', title: 't' }));
    expect(await a.sql`SELECT count(*)::int AS n FROM uploads`).toEqual([{ n: 0 }]);
  });

  it("another server's RMV stops an upload as it stores its next chunk, or refuses it at commit; either leaves no row", async () => {
    const a = await pg.openStore();
    const b = await pg.openPeer(a);
    await run(a, 'alice', 'CRT t');
    const begin = async (filename: string) => {
      const w = await a.beginUpload('t', filename, 'bob')();
      if (E.isLeft(w)) throw new Error('beginUpload failed');
      await writeAll(w.right, Buffer.from('first bytes'));
      return w.right;
    };
    const chunked = await begin('chunked');
    const small = await begin('small');
    expect(await lines(run(b, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
    expect(await lines(run(b, 'carol', 'CRT t'))).toEqual(['Thread t created']);
    // Server a learns of b's RMV as the next chunk goes to the table: stopped, its sender to be told.
    await writeAll(chunked, randomBytes(UPLOAD_CHUNK_BYTES));
    expect(await chunked.stopped).toEqual({ kind: 'noThread', title: 't' });
    expect(await chunked.commit()).toEqual(E.left({ kind: 'noThread', title: 't' }));
    // Less than a chunk: nothing stored meanwhile, so refused at commit (not landing in carol's new thread).
    expect(await small.commit()).toEqual(E.left({ kind: 'noThread', title: 't' }));
    expect(await lines(run(a, 'carol', 'RDT t'))).toEqual(['Thread t is empty']);
    expect(await a.sql`SELECT count(*)::int AS n FROM uploads`).toEqual([{ n: 0 }]);
    // The chunks, doomed with their rows, go with the sweep (the one the RMV and the stop asked for, or this).
    await a.sweepDoomedUploads();
    await b.sweepDoomedUploads();
    expect(await a.sql`SELECT count(*)::int AS n FROM upload_chunks`).toEqual([{ n: 0 }]);
  });
});

describe('PostgreSQL store: a thread removed under a download', () => {
  it("a DWN grant names the thread's row: another server's RMV, CRT and upload of the name in between refuse the download as it opens", async () => {
    const a = await pg.openStore();
    const b = await pg.openPeer(a);
    await run(a, 'alice', 'CRT t');
    await upload(a, 't', 'f', 'alice', Buffer.from('the old thread\'s file'));
    const granted = await run(a, 'bob', 'DWN t f');
    if (granted.kind !== 'transfer') throw new Error('expected a transfer');
    const [row] = await a.sql<{ id: string }[]>`SELECT id FROM threads WHERE title = 't'`;
    expect(granted.transfer.incarnation).toBe(String(row?.id));
    expect(await lines(run(b, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
    expect(await lines(run(b, 'carol', 'CRT t'))).toEqual(['Thread t created']);
    expect(E.isRight(await upload(b, 't', 'f', 'carol', Buffer.from("carol's file")))).toBe(true);
    // Before, the grant named the title only, and carol's file was served for the old thread's.
    expect(await a.openDownload('t', 'f', granted.transfer.incarnation)()).toEqual(E.left({ kind: 'noThread', title: 't' }));
  });

  it("another server's RMV stops a download as it reads its next chunk, with the missing-thread error", async () => {
    const a = await pg.openStore();
    const b = await pg.openPeer(a);
    await run(a, 'alice', 'CRT t');
    const bytes = randomBytes(3 * UPLOAD_CHUNK_BYTES);
    expect(E.isRight(await upload(a, 't', 'f', 'alice', bytes))).toBe(true);
    const d = await a.openDownload('t', 'f')();
    if (E.isLeft(d)) throw new Error('openDownload failed');
    const { stream, stopped } = d.right;
    // The first chunk is read, the rest waits for the receiver.
    await new Promise<void>((resolve) => stream.once('readable', () => resolve()));
    expect(await lines(run(b, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
    // The receiver asks for more: the next chunk went with the thread, and the download is stopped, saying why.
    const rest = readAll(stream);
    expect(await stopped).toEqual({ kind: 'noThread', title: 't' });
    await expect(rest).rejects.toThrow();
  });

  it("this server's RMV stops its downloads of the thread at once, before another chunk is asked for", async () => {
    const a = await pg.openStore();
    await run(a, 'alice', 'CRT t');
    expect(E.isRight(await upload(a, 't', 'f', 'alice', randomBytes(2 * UPLOAD_CHUNK_BYTES)))).toBe(true);
    const d = await a.openDownload('t', 'f')();
    if (E.isLeft(d)) throw new Error('openDownload failed');
    await new Promise<void>((resolve) => d.right.stream.once('readable', () => resolve()));
    let settled: unknown;
    void d.right.stopped.then((reason) => (settled = reason));
    expect(await lines(run(a, 'alice', 'RMV t'))).toEqual(['Thread t removed']);
    await Promise.resolve();
    expect(settled).toEqual({ kind: 'noThread', title: 't' });
    expect(d.right.stream.destroyed).toBe(true);
  });
});

describe('PostgreSQL session leases', () => {
  it('one live session per account across servers; a crashed server’s leases expire', async () => {
    const store = await pg.openStore();
    const schema = await schemaOf(store.sql);
    // Server A gets its own pool, which "crashes" (ends) with its leases in place.
    const crashed = postgres(pg.url(), { max: 2, connection: { search_path: schema }, onnotice: () => undefined });
    const leaseMs = 600;
    const a = createPostgresSessionRegistry(crashed, { serverId: 'A', leaseMs });
    const b = createPostgresSessionRegistry(store.sql, { serverId: 'B', leaseMs });
    // A's heartbeat (every 200 ms) stopped with the file: it beat on at the ended pool in the shared worker's later
    // files. Its close's release goes to that ended pool too, so the leases stay, as after a crash.
    pg.onClose(() => a.close());
    pg.onClose(() => b.close());
    expect(await a.tryAcquire('alice', 'A/c1')()).toEqual(E.right(true));
    expect(await a.tryAcquire('alice', 'A/c1')()).toEqual(E.right(true));
    expect(await b.tryAcquire('alice', 'B/c1')()).toEqual(E.right(false));
    expect(await b.holder('alice')()).toEqual(E.right('A/c1'));
    // A live server keeps its lease past leaseMs through its heartbeat.
    await store.sql`SELECT pg_sleep(${(leaseMs * 2) / 1000})`;
    expect(await b.tryAcquire('alice', 'B/c1')()).toEqual(E.right(false));
    // Crash: no release (close() would free the leases), and with its pool gone no renewal succeeds.
    await crashed.end({ timeout: 1 });
    const expiry = await store.sql<{ left_ms: number }[]>`
      SELECT (extract(epoch FROM expires_at - now()) * 1000)::float8 AS left_ms FROM session_leases WHERE username = 'alice'`;
    expect(expiry[0]?.left_ms ?? -1).toBeLessThanOrEqual(leaseMs);
    await store.sql`SELECT pg_sleep(${Math.max(0, (expiry[0]?.left_ms ?? 0) + 50) / 1000})`;
    expect(await b.tryAcquire('alice', 'B/c1')()).toEqual(E.right(true));
    await b.release('alice', 'A/c1')();
    expect(await b.holder('alice')()).toEqual(E.right('B/c1'));
    await b.release('alice', 'B/c1')();
    expect(await b.holder('alice')()).toEqual(E.right(undefined));
  });

  it('a server restarted with the same id does not renew its old process’s leases, even of a connection key it reuses', async () => {
    const store = await pg.openStore();
    // The old process of server A (crashed: its leases left) held alice on A/c1; the new one numbers its
    // connections from c1 again, and its A/c1 logs in as bob.
    await store.sql`INSERT INTO session_leases (username, server_id, connection_key, expires_at) VALUES ('alice', 'A', 'A/c1', now() + interval '1 second')`;
    const a = createPostgresSessionRegistry(store.sql, { serverId: 'A', leaseMs: 60_000 });
    pg.onClose(() => a.close());
    expect(await a.tryAcquire('bob', 'A/c1')()).toEqual(E.right(true));
    await a.renew();
    const left = await store.sql<{ username: string; left_ms: number }[]>`
      SELECT username, (extract(epoch FROM expires_at - now()) * 1000)::float8 AS left_ms FROM session_leases ORDER BY username`;
    // Before: alice's lease renewed with bob's (by the connection key alone), for as long as A/c1 lived.
    expect(left.map((r) => [r.username, r.left_ms > 1_000])).toEqual([
      ['alice', false],
      ['bob', true],
    ]);
  });
});

describe('PostgreSQL session leases: a lapsed lease taken by another server', () => {
  it('is reported to the server that lost it at its next renewal, and only then', async () => {
    const store = await pg.openStore();
    const lost: string[] = [];
    const a = createPostgresSessionRegistry(store.sql, { serverId: 'A', leaseMs: 60_000, onLeaseLost: (u, k) => lost.push(`${u} ${k}`) });
    const b = createPostgresSessionRegistry(store.sql, { serverId: 'B', leaseMs: 60_000 });
    pg.onClose(() => a.close());
    pg.onClose(() => b.close());
    expect(await a.tryAcquire('carol', 'A/c1')()).toEqual(E.right(true));
    expect(await a.tryAcquire('dave', 'A/c2')()).toEqual(E.right(true));
    await a.renew();
    expect(lost).toEqual([]);
    // A was cut off long enough for carol's lease to lapse, and B took the account.
    await store.sql`UPDATE session_leases SET expires_at = now() - interval '1 second' WHERE username = 'carol'`;
    expect(await b.tryAcquire('carol', 'B/c1')()).toEqual(E.right(true));
    await a.renew();
    expect(lost).toEqual(['carol A/c1']);
    await a.renew();
    expect(lost).toEqual(['carol A/c1']);
    expect(await b.holder('dave')()).toEqual(E.right('A/c2'));
  });
});

describe('PostgreSQL transfer tokens', () => {
  it('a token is redeemed once, by exactly one of two servers redeeming it at once', async () => {
    const a = await pg.openStore();
    const b = await pg.openPeer(a);
    const ta = createPostgresTransferTokens(a.sql, { randomBytes });
    const tb = createPostgresTransferTokens(b.sql, { randomBytes });
    const allowance = { direction: 'download' as const, thread: 't', filename: 'f', username: 'u', expiresAt: Date.now() + 60_000, incarnation: '7' };
    const grant = { ...allowance, connectionKey: 'A/c1' };
    // A stand-in for the asking client's rudp session, whose bytes depend on the context (the token).
    const session = { exportKeyingMaterial: (_label: string, context: Uint8Array, length: number) => Uint8Array.from({ length }, (_, i) => (context[i % context.length] ?? 0) ^ i) };
    for (let i = 0; i < 10; i++) {
      const token = await ta.issue(grant, session)();
      if (E.isLeft(token)) throw new Error('issue failed');
      const both = await Promise.all([ta.redeem(token.right, Date.now())(), tb.redeem(token.right, Date.now())()]);
      // The redeeming server gets the keys the issuing server derived from the session and this token.
      expect(both.filter((r) => E.isRight(r) && O.isSome(r.right))).toEqual([E.right(O.some({ ...allowance, keys: deriveTransferKeys(session, token.right) }))]);
    }
    const expired = await ta.issue({ ...grant, expiresAt: 1000 }, session)();
    if (E.isLeft(expired)) throw new Error('issue failed');
    expect(await tb.redeem(expired.right, 1001)()).toEqual(E.right(O.none));
    const revoked = await ta.issue(grant, session)();
    if (E.isLeft(revoked)) throw new Error('issue failed');
    await tb.revokeSession({ username: 'u', connectionKey: 'A/c1' })();
    expect(await ta.redeem(revoked.right, Date.now())()).toEqual(E.right(O.none));
  });

  it("a session's end on one server revokes its own tokens only: the account's new session on another server keeps its token", async () => {
    const a = await pg.openStore();
    const b = await pg.openPeer(a);
    const ta = createPostgresTransferTokens(a.sql, { randomBytes });
    const tb = createPostgresTransferTokens(b.sql, { randomBytes });
    const session = { exportKeyingMaterial: (_label: string, context: Uint8Array, length: number) => Uint8Array.from({ length }, (_, i) => (context[i % context.length] ?? 0) ^ i) };
    const allowance = { direction: 'upload' as const, thread: 't', filename: 'f', username: 'u', expiresAt: Date.now() + 60_000, incarnation: '7' };
    const issue = async (tokens: typeof ta, connectionKey: string, username = 'u'): Promise<string> => {
      const t = await tokens.issue({ ...allowance, username, connectionKey }, session)();
      if (E.isLeft(t)) throw new Error('issue failed');
      return t.right;
    };
    // u's session on A (its lease lapsed) and the login on B that took the account over, each granted tokens.
    const oldToken = await issue(ta, 'A/c1');
    const newToken = await issue(tb, 'B/c1');
    const otherUser = await issue(ta, 'A/c1', 'w');
    // A's renewal finds the lease gone and ends the old session; its XIT finishing after ends it again.
    await ta.revokeSession({ username: 'u', connectionKey: 'A/c1' })();
    await ta.revokeSession({ username: 'u', connectionKey: 'A/c1' })();
    expect((await a.sql<{ token: string }[]>`SELECT token FROM transfer_tokens ORDER BY token`).map((r) => r.token)).toEqual([newToken, otherUser].sort());
    expect(await ta.redeem(oldToken, Date.now())()).toEqual(E.right(O.none));
    expect(await ta.redeem(newToken, Date.now())()).toEqual(E.right(O.some({ ...allowance, keys: deriveTransferKeys(session, newToken) })));
  });

  it("an upload or download token keeps its thread's row for the redeeming server; one issued by a schema 4 server (without) is refused as invalid", async () => {
    const a = await pg.openStore();
    const b = await pg.openPeer(a);
    const ta = createPostgresTransferTokens(a.sql, { randomBytes });
    const tb = createPostgresTransferTokens(b.sql, { randomBytes });
    const session = { exportKeyingMaterial: (_label: string, context: Uint8Array, length: number) => Uint8Array.from({ length }, (_, i) => (context[i % context.length] ?? 0) ^ i) };
    const allowance = { direction: 'upload' as const, thread: 't', filename: 'f', username: 'u', expiresAt: Date.now() + 60_000, incarnation: '42' };
    const grant = { ...allowance, connectionKey: 'A/c1' };
    const token = await ta.issue(grant, session)();
    if (E.isLeft(token)) throw new Error('issue failed');
    expect(await tb.redeem(token.right, Date.now())()).toEqual(E.right(O.some({ ...allowance, keys: deriveTransferKeys(session, token.right) })));
    // As a server of schema 4 wrote it (it knows no thread_id), e.g. just before a restart into this version.
    const old = 'ab'.repeat(32);
    await a.sql`INSERT INTO transfer_tokens (token, direction, thread, filename, username, expires_at, keys)
                VALUES (${old}, 'upload', 't', 'f', 'u', ${Date.now() + 60_000}, ${Buffer.alloc(64, 1)})`;
    expect(await tb.redeem(old, Date.now())()).toEqual(E.right(O.none));
    // A download's too: it would read the file of whatever thread holds the title when it is redeemed.
    const down = { ...allowance, direction: 'download' as const, incarnation: '43' };
    const downToken = await ta.issue({ ...down, connectionKey: 'A/c1' }, session)();
    if (E.isLeft(downToken)) throw new Error('issue failed');
    expect(await tb.redeem(downToken.right, Date.now())()).toEqual(E.right(O.some({ ...down, keys: deriveTransferKeys(session, downToken.right) })));
    const oldDown = 'ef'.repeat(32);
    await a.sql`INSERT INTO transfer_tokens (token, direction, thread, filename, username, expires_at, keys)
                VALUES (${oldDown}, 'download', 't', 'f', 'u', ${Date.now() + 60_000}, ${Buffer.alloc(64, 1)})`;
    expect(await tb.redeem(oldDown, Date.now())()).toEqual(E.right(O.none));
    expect(await a.sql`SELECT token FROM transfer_tokens`).toEqual([]);
  });

  it("caps each user's tokens over all servers, dropping only that user's oldest, even with concurrent issues", async () => {
    const a = await pg.openStore();
    const b = await pg.openPeer(a);
    const ta = createPostgresTransferTokens(a.sql, { randomBytes, perUser: 3 });
    const tb = createPostgresTransferTokens(b.sql, { randomBytes, perUser: 3 });
    const session = { exportKeyingMaterial: (_label: string, context: Uint8Array, length: number) => Uint8Array.from({ length }, (_, i) => (context[i % context.length] ?? 0) ^ i) };
    const issue = async (tokens: typeof ta, username: string, expiresAt: number): Promise<string> => {
      const t = await tokens.issue({ direction: 'upload', thread: 't', filename: 'f', username, expiresAt, incarnation: '1', connectionKey: 'A/c1' }, session)();
      if (E.isLeft(t)) throw new Error('issue failed');
      return t.right;
    };
    const base = Date.now() + 60_000;
    const victim = await issue(ta, 'victim', base);
    // Issued in order (later tokens expire later, as with one lifetime): only mallory's newest three are left.
    const own: string[] = [];
    for (let i = 0; i < 6; i++) own.push(await issue(i % 2 === 0 ? ta : tb, 'mallory', base + 1 + i));
    const left = await a.sql<{ token: string }[]>`SELECT token FROM transfer_tokens WHERE username = 'mallory' ORDER BY expires_at`;
    expect(left.map((r) => r.token)).toEqual(own.slice(3));
    // Many issues at once from two servers never exceed the cap.
    await Promise.all(Array.from({ length: 40 }, (_, i) => issue(i % 2 === 0 ? ta : tb, 'mallory', base + 100 + i)));
    expect(await a.sql`SELECT count(*)::int AS n FROM transfer_tokens WHERE username = 'mallory'`).toEqual([{ n: 3 }]);
    const redeemed = await tb.redeem(victim, Date.now())();
    expect(E.isRight(redeemed) && O.isSome(redeemed.right)).toBe(true);
  });
});
