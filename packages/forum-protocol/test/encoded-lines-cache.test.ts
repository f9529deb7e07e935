/**
 * The encoded lines of a thread are cached by the thread value (src/protocol/encoded-lines-cache.ts): an RDT of
 * an unchanged full thread encoded its 4 MiB of JSON again each time, 11–17 ms of the server's main thread, a
 * stall for every client however the reads were paced. Now the second copies them. What must hold: a changed
 * thread (a new value) is always read afresh, the bytes are those JSON.stringify gives, the cache's memory stays
 * within its bound whatever it is given, and it keeps no thread alive.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createMemoryStore,
  EncodedLinesCache,
  encodeServerMessage,
  ENTRY_OVERHEAD,
  MIN_CACHED_BYTES,
  openFileStore,
  simpleReply,
  threadLines,
  type ForumStore,
  type Reply,
  type Thread,
} from '../src/index.js';
import { replyOf, run } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

afterEach(() => vi.restoreAllMocks());

const TEXT = 'lorem ipsum '.repeat(334).slice(0, 4000);
/** A thread of `messages` messages of 4,000 characters (256 make 1 MiB of JSON; 1,000 nearly a full thread's 4 MiB). */
const bigThread = (title: string, messages: number, text = TEXT): Thread => ({
  title,
  creator: 'alice',
  entries: Array.from({ length: messages }, (_, i) => ({ kind: 'message', author: 'alice', text: `${text}${i}` })),
});
/** What the reply was before any encoder of its own: JSON.stringify, then TextEncoder. */
const old = (reply: Reply): Buffer => Buffer.from(new TextEncoder().encode(JSON.stringify(reply)));
/** The RDT reply of `thread` as the handler makes it. */
const rdtReply = (id: string, thread: Thread): Reply => {
  const lines = threadLines(thread);
  return simpleReply(id, 'ok', lines, { kind: 'threadLines', title: thread.title, count: lines.length });
};
/** RDT `title` through the store and the handler, encoded with `cache`; fails unless the bytes are JSON.stringify's. */
const readEncoded = async (store: ForumStore, title: string, id: string, cache: EncodedLinesCache): Promise<Reply> => {
  const reply = replyOf(await run(store, 'bob', `RDT ${title}`, id));
  expect(reply.status).toBe('ok');
  expect(Buffer.from(encodeServerMessage(reply, cache)).equals(old(reply))).toBe(true);
  return reply;
};
/** A macrotask: the finalizers a collection queued run before it. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** A full collection in a turn of its own, and a turn after it for what it left to finish. */
const settled = async (): Promise<void> => {
  await turn();
  gc();
  await turn();
};

describe('encoded lines cached by thread', () => {
  it('the second RDT of an unchanged full thread copies its lines: they are encoded once, and each reply is its own buffer', async () => {
    const thread = bigThread('big', 980);
    const store = createMemoryStore({ threads: [thread] });
    const cache = new EncodedLinesCache(32 * 1024 * 1024);
    const first = replyOf(await run(store, 'bob', 'RDT big', 'r1'));
    const a = encodeServerMessage(first, cache);
    expect(a.length).toBeGreaterThan(3_900_000);
    expect(cache.misses).toBe(1);
    // Writing to a sent reply (nobody should) cannot change a later one: the cache keeps its own copy.
    const aCopy = Buffer.from(a);
    a.fill(0);
    const second = replyOf(await run(store, 'carol', 'RDT big', 'another-id'));
    // Not written again piece by piece: the head, the cached lines and the tail (the first wrote 3,000 pieces).
    const write = vi.spyOn(Buffer.prototype, 'write');
    const b = encodeServerMessage(second, cache);
    expect(write.mock.calls.length).toBeLessThanOrEqual(2);
    expect(cache.hits).toBe(1);
    expect(cache.misses).toBe(1);
    expect(Buffer.from(b).equals(old(second))).toBe(true);
    expect(aCopy.equals(old(first))).toBe(true);
    expect(b.buffer.byteLength).toBe(b.length);
  });

  it('a change to the thread is always seen, in memory and in the data directory: MSG, EDT, DLT, and a new thread of the same title', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lines-cache-'));
    try {
      const opened = await openFileStore(dir, { writeBudget: false })();
      if (E.isLeft(opened)) throw new Error(opened.left.message);
      for (const store of [createMemoryStore(), opened.right]) {
        const cache = new EncodedLinesCache(32 * 1024 * 1024);
        expect(replyOf(await run(store, 'alice', 'CRT t')).status).toBe('ok');
        for (let i = 0; i < 40; i++) expect(replyOf(await run(store, 'alice', `MSG t ${TEXT}`)).status).toBe('ok');
        await readEncoded(store, 't', 'r1', cache);
        await readEncoded(store, 't', 'r2', cache);
        expect(cache.hits).toBe(1);
        await run(store, 'alice', 'MSG t the newest');
        expect((await readEncoded(store, 't', 'r3', cache)).lines.at(-1)).toBe('41 alice: the newest');
        // The same length in lines and bytes: only the thread's value tells the change.
        await run(store, 'alice', `EDT t 1 ${TEXT.replace('lorem', 'LOREM')}`);
        expect((await readEncoded(store, 't', 'r4', cache)).lines[0]).toBe(`1 alice: ${TEXT.replace('lorem', 'LOREM')}`);
        await run(store, 'alice', 'DLT t 2');
        expect((await readEncoded(store, 't', 'r5', cache)).lines.length).toBe(40);
        await run(store, 'alice', 'RMV t');
        await run(store, 'alice', 'CRT t');
        await run(store, 'alice', 'MSG t again');
        expect((await readEncoded(store, 't', 'r6', cache)).lines).toEqual(['1 alice: again']);
        // Each change was a miss, and nothing else was.
        expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 5 });
        await readEncoded(store, 't', 'r7', cache);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stays within its bytes under many distinct big threads, all alive: what it drops it lets go', async () => {
    const max = 10 * 1024 * 1024;
    const cache = new EncodedLinesCache(max);
    const threads = Array.from({ length: 40 }, (_, i) => bigThread(`t${i}`, 256));
    await settled();
    const before = process.memoryUsage().arrayBuffers;
    for (const th of threads) {
      for (const id of ['a', 'b']) expect(Buffer.from(encodeServerMessage(rdtReply(id, th), cache)).equals(old(rdtReply(id, th)))).toBe(true);
      expect(cache.bytes).toBeLessThanOrEqual(max);
    }
    // Each 1 MiB thread: a miss, then a hit; the latest that fit together are kept, each counted as its lines' bytes and the overhead.
    const costs = threads.map((th) => Buffer.byteLength(JSON.stringify(threadLines(th))) - 2 + ENTRY_OVERHEAD);
    let kept = 0;
    let held = 0;
    while (kept < costs.length && held + (costs[costs.length - 1 - kept] as number) <= max) held += costs[costs.length - 1 - kept++] as number;
    expect(kept).toBeGreaterThan(5);
    expect({ hits: cache.hits, misses: cache.misses, size: cache.size, bytes: cache.bytes }).toEqual({ hits: 40, misses: 40, size: kept, bytes: held });
    // Held is what it counts: the threads are still alive, and an entry dropped while its thread lived
    // kept its bytes only if its slot stayed (40 MiB then). The replies are garbage: collected, and their
    // memory freed once the collector's sweeping (which may lag a collection under load) has run.
    const bound = max + 2 * 1024 * 1024;
    let grown = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 10 && grown >= bound; i++) {
      await settled();
      grown = process.memoryUsage().arrayBuffers - before;
    }
    expect(grown).toBeLessThan(bound);
    expect(threads.length).toBe(40);
  });

  it('keeps no thread alive, and lets go of its lines once the thread is collected', async () => {
    const cache = new EncodedLinesCache(32 * 1024 * 1024);
    const ref = ((): WeakRef<Thread> => {
      const th = bigThread('gone', 256);
      encodeServerMessage(rdtReply('1', th), cache);
      return new WeakRef(th);
    })();
    expect(cache.size).toBe(1);
    // A collection that finishes a marking already under way keeps what was allocated during it (a big
    // earlier test starts one): the second collects it. Its finalizer then runs in a later task.
    for (let i = 0; i < 10 && (ref.deref() !== undefined || cache.size > 0); i++) {
      await turn();
      gc();
    }
    expect(ref.deref()).toBeUndefined();
    expect({ size: cache.size, bytes: cache.bytes }).toEqual({ size: 0, bytes: 0 });
  });

  it('drops the least recently used first, caches nothing under its minimum or past its bound, and refuses a bad bound', () => {
    const size = 100_000;
    const cache = new EncodedLinesCache(2 * (size + ENTRY_OVERHEAD));
    const [a, b, c] = [{}, {}, {}];
    cache.set(a, Buffer.alloc(size, 1));
    cache.set(b, Buffer.alloc(size, 2));
    expect(cache.get(a)?.[0]).toBe(1);
    cache.set(c, Buffer.alloc(size, 3));
    expect(cache.get(b)).toBeUndefined();
    expect([cache.get(a)?.[0], cache.get(c)?.[0], cache.size, cache.bytes]).toEqual([1, 3, 2, 2 * (size + ENTRY_OVERHEAD)]);
    // Again for one source: the old bytes go.
    cache.set(a, Buffer.alloc(size, 4));
    expect([cache.get(a)?.[0], cache.size, cache.bytes]).toEqual([4, 2, 2 * (size + ENTRY_OVERHEAD)]);
    const small = {};
    cache.set(small, Buffer.alloc(MIN_CACHED_BYTES - 1));
    expect(cache.get(small)).toBeUndefined();
    const none = new EncodedLinesCache(0);
    none.set(a, Buffer.alloc(size));
    expect([none.get(a), none.bytes]).toEqual([undefined, 0]);
    expect(() => new EncodedLinesCache(-1)).toThrow(RangeError);
    expect(() => new EncodedLinesCache(1.5)).toThrow(RangeError);
  });

  it('gives the bytes JSON.stringify gives when hit, whatever the id and status around the lines', () => {
    const cache = new EncodedLinesCache(32 * 1024 * 1024);
    const th = bigThread('esc', 20, `"\\\u0001 é 😀 \u2028 ${TEXT}`);
    for (const id of ['1', '', 'é"\\', 'x'.repeat(64)]) {
      const reply = { ...rdtReply(id, th), status: id === '' ? ('error' as const) : ('ok' as const) };
      expect(Buffer.from(encodeServerMessage(reply, cache)).equals(old(reply))).toBe(true);
    }
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 3, misses: 1 });
    // Lines of no thread (an LST, an error) are never cached.
    const plain = simpleReply('2', 'ok', Array.from({ length: 20 }, () => TEXT));
    expect(Buffer.from(encodeServerMessage(plain, cache)).equals(old(plain))).toBe(true);
    expect(cache.size).toBe(1);
  });
});
