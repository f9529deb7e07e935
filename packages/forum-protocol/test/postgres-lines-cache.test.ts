/**
 * The encoded lines cache (src/protocol/encoded-lines-cache.ts) with servers sharing a PostgreSQL store: another
 * server's write changes a thread without this server's store knowing, so a cached thread must never be served
 * after it. Each read builds a new thread value from the database, and the cache is keyed by the value: this
 * server's next read after any write, its own or another's, encodes what the database holds now.
 */
import { describe, expect, it } from 'vitest';
import { EncodedLinesCache, encodeServerMessage, type ForumStore, type Reply } from '../src/index.js';
import type { PostgresStore } from '../src/postgres.js';
import { replyOf, run } from './helpers.js';
import { usePostgres } from './postgres-harness.js';

const pg = usePostgres();

const TEXT = 'lorem ipsum '.repeat(334).slice(0, 4000);
const old = (reply: Reply): Buffer => Buffer.from(new TextEncoder().encode(JSON.stringify(reply)));
const schemaOf = async (store: PostgresStore): Promise<string> => (await store.sql<{ s: string }[]>`SELECT current_schema() AS s`)[0]?.s ?? '';

/** RDT `title` on `store` (one server), encoded with its `cache`; fails unless the bytes are JSON.stringify's. */
const read = async (store: ForumStore, cache: EncodedLinesCache, id: string): Promise<readonly string[]> => {
  const reply = replyOf(await run(store, 'carol', 'RDT big', id));
  expect(reply.status).toBe('ok');
  expect(Buffer.from(encodeServerMessage(reply, cache)).equals(old(reply))).toBe(true);
  return reply.lines;
};

describe('encoded lines and PostgreSQL', () => {
  it("another server's MSG, EDT and DLT are seen by this server's next RDT, its cache notwithstanding", async () => {
    const a = await pg.openStore();
    const b = await pg.openPeer(await schemaOf(a));
    const cacheA = new EncodedLinesCache(32 * 1024 * 1024);
    expect(replyOf(await run(a, 'alice', 'CRT big')).status).toBe('ok');
    for (let i = 0; i < 40; i++) expect(replyOf(await run(a, 'alice', `MSG big ${TEXT}`)).status).toBe('ok');
    expect((await read(a, cacheA, 'r1')).length).toBe(40);
    expect((await read(a, cacheA, 'r2')).length).toBe(40);
    await run(b, 'bob', 'MSG big from the other server');
    expect((await read(a, cacheA, 'r3')).at(-1)).toBe('41 bob: from the other server');
    // Same lines, same bytes long: only what the database holds tells the change.
    await run(b, 'alice', `EDT big 1 ${TEXT.replace('lorem', 'LOREM')}`);
    expect((await read(a, cacheA, 'r4'))[0]).toBe(`1 alice: ${TEXT.replace('lorem', 'LOREM')}`);
    await run(b, 'alice', 'DLT big 2');
    expect((await read(a, cacheA, 'r5')).length).toBe(40);
    // Each read is a new value: nothing read from PostgreSQL is served from the cache.
    expect({ hits: cacheA.hits, misses: cacheA.misses }).toEqual({ hits: 0, misses: 5 });
  });
});
