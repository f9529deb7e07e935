/**
 * Migration 14 (the shares' counters) run by two servers starting at once on a schema 13 database with data,
 * while a server of schema 13 goes on writing lines, uploads and RMVs: its writes wait for the migration's
 * locks and are counted by the fill or by the triggers, never both, never neither.
 */
import * as E from 'fp-ts/lib/Either.js';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, UPLOAD_CHUNK_BYTES } from '../src/postgres.js';
import { run, upload } from './helpers.js';
import { backToSchema, insertThread, schemaOf, usePostgres } from './postgres-harness.js';
import { holdings, uploaderCounters } from './postgres-share-recount.js';

const pg = usePostgres({ migrated: 1 });

describe('migration 14 beside a schema 13 server writing', () => {
  it('two servers migrating at once fill counters that equal the rows, the old server writing all along', async () => {
    const users = ['alice', 'bob', 'carol'] as const;
    // No origins (schema 15): this store writes as a schema 13 server, whose tables have no `accounts.origin`.
    const a = await pg.openStore({ doomedUploadSweep: { auto: false }, threadLimits: { originShares: 0 } });
    const schema = await schemaOf(a.sql);
    await backToSchema(a.sql, 13);
    // Lines and uploads written before (its statements are schema 13's: schema 14 changed only the shares' reads).
    for (const t of ['t0', 't1', 't2']) await run(a, 'alice', `CRT ${t}`);
    for (let i = 0; i < 30; i++) await run(a, users[i % 3] ?? 'alice', `MSG t${i % 3} before ${i} "q" é 😀`);
    for (let i = 0; i < 4; i++) expect(await upload(a, `t${i % 3}`, `pre${i}`, users[i % 3] ?? 'alice', randomBytes(UPLOAD_CHUNK_BYTES + i))).toEqual(E.right(undefined));
    // A thread of 9,000 lines, so that the fill takes a while (its holdings read from every line).
    await insertThread(a.sql, { title: 'big', creator: 'alice', entries: Array.from({ length: 9_000 }, (_, i) => ({ kind: 'message' as const, author: users[i % 3] ?? 'alice', text: 'x'.repeat(i % 300) })) });
    // The old server writes on while two new ones start (each migrates or waits for the other's migration).
    let writing = true;
    let wrote = 0;
    const writer = (async () => {
      // Five writes more once both have opened: those go through the triggers only.
      for (let i = 0, after = 0; after < 5; i++) {
        if (!writing) after++;
        const who = users[i % 3] ?? 'alice';
        if (i % 5 === 4) expect(await upload(a, `t${i % 2}`, `during${i}`, who, randomBytes(UPLOAD_CHUNK_BYTES / 2 + i))).toEqual(E.right(undefined));
        else expect((await run(a, who, `MSG t${i % 3} during ${i}`)).kind).toBe('reply');
        if (i === 12) expect((await run(a, 'alice', 'RMV t2')).kind).toBe('reply');
        wrote = i + 1;
      }
    })();
    const [b, c] = await Promise.all([pg.openPeer(schema, { doomedUploadSweep: { auto: false } }), pg.openPeer(schema, { doomedUploadSweep: { auto: false } })]);
    const wroteWhileOpening = wrote;
    writing = false;
    await writer;
    // Its writes landed while the two opened (before, during or after the migration), and after.
    expect(wroteWhileOpening).toBeGreaterThan(0);
    expect(wrote).toBeGreaterThanOrEqual(wroteWhileOpening + 5);
    expect(await c.sql`SELECT version FROM forum_schema`).toEqual([{ version: SCHEMA_VERSION }]);
    const counters = await uploaderCounters(b.sql);
    expect(counters.kept).toEqual(counters.recounted);
    // Alice's and bob's uploads at least (carol's only upload before went with t2, her next one comes at the 15th write).
    expect(Object.keys(counters.kept).length).toBeGreaterThanOrEqual(2);
    const held = await holdings(c, users);
    expect(held.read).toEqual(held.counted);
    expect(Object.keys(held.read).length).toBeGreaterThan(3);
  });
});
