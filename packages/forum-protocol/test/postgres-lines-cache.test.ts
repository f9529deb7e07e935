/**
 * The encoded lines cache (src/protocol/encoded-lines-cache.ts) with servers sharing a PostgreSQL store: another
 * server's write changes a thread without this server's store knowing, so a cached thread must never be served
 * after it. The cache is keyed by the thread value, and the store returns the value it read before only while
 * the thread's row is at the version it was read at: this server's next read after any write, its own or
 * another's, encodes what the database holds now.
 */
import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import { describe, expect, it } from 'vitest';
import { EncodedLinesCache, encodeServerMessage, type ForumStore, type Reply } from '../src/index.js';
import type { PostgresStore } from '../src/postgres.js';
import { replyOf, run } from './helpers.js';
import { usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 2 });

const TEXT = 'lorem ipsum '.repeat(334).slice(0, 4000);
const old = (reply: Reply): Buffer => Buffer.from(new TextEncoder().encode(JSON.stringify(reply)));
/** RDT `title` on `store` (one server), encoded with its `cache`; fails unless the bytes are JSON.stringify's. */
const read = async (store: ForumStore, cache: EncodedLinesCache, id: string): Promise<readonly string[]> => {
  const reply = replyOf(await run(store, 'carol', 'RDT big', id));
  expect(reply.status).toBe('ok');
  expect(Buffer.from(encodeServerMessage(reply, cache)).equals(old(reply))).toBe(true);
  return reply.lines;
};
/** Two servers on one fresh forum, a cache for the first, and a thread `big` of 40 messages of 4,000 characters. */
const twoServersAndABigThread = async (): Promise<{ readonly a: PostgresStore; readonly b: PostgresStore; readonly cache: EncodedLinesCache }> => {
  const a = await pg.openStore();
  const b = await pg.openPeer(a);
  expect(replyOf(await run(a, 'alice', 'CRT big')).status).toBe('ok');
  for (let i = 0; i < 40; i++) expect(replyOf(await run(a, 'alice', `MSG big ${TEXT}`)).status).toBe('ok');
  return { a, b, cache: new EncodedLinesCache(32 * 1024 * 1024) };
};

describe('encoded lines and PostgreSQL', () => {
  it("another server's MSG, EDT and DLT are seen by this server's next RDT, its cache notwithstanding", async () => {
    const { a, b, cache: cacheA } = await twoServersAndABigThread();
    expect((await read(a, cacheA, 'r1')).length).toBe(40);
    expect((await read(a, cacheA, 'r2')).length).toBe(40);
    await run(b, 'bob', 'MSG big from the other server');
    expect((await read(a, cacheA, 'r3')).at(-1)).toBe('41 bob: from the other server');
    // Same lines, same bytes long: only what the database holds tells the change.
    await run(b, 'alice', `EDT big 1 ${TEXT.replace('lorem', 'LOREM')}`);
    expect((await read(a, cacheA, 'r4'))[0]).toBe(`1 alice: ${TEXT.replace('lorem', 'LOREM')}`);
    await run(b, 'alice', 'DLT big 2');
    expect((await read(a, cacheA, 'r5')).length).toBe(40);
    // The second read of the unchanged thread is served from the cache; each read after another server's write is not.
    expect({ hits: cacheA.hits, misses: cacheA.misses }).toEqual({ hits: 1, misses: 4 });
  });

  it("an RDT of an unchanged large thread is the value read before; RMV and CRT of the title by another server, an upload's line, are seen", async () => {
    const { a, b, cache } = await twoServersAndABigThread();
    await read(a, cache, 'r1');
    await read(a, cache, 'r2');
    // The same value both times: read from its row's version, not built again from its lines.
    const [once, twice] = [await a.getThread('big')(), await a.getThread('big')()];
    expect(E.isRight(once) && O.isSome(once.right) && E.isRight(twice) && O.isSome(twice.right) && once.right.value === twice.right.value).toBe(true);
    await run(b, 'alice', 'RMV big');
    await run(b, 'bob', 'CRT big');
    for (let i = 0; i < 40; i++) await run(b, 'bob', `MSG big ${TEXT}`);
    expect((await read(a, cache, 'r3'))[0]).toBe(`1 bob: ${TEXT}`);
    const w = await b.beginUpload('big', 'f', 'bob')();
    if (E.isLeft(w)) throw new Error('beginUpload failed');
    expect(await w.right.commit()).toEqual(E.right(undefined));
    expect((await read(a, cache, 'r4')).at(-1)).toBe('bob uploaded f');
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 3 });
  });
});
