/**
 * The connections of a server share one cache of encoded thread lines (forum-protocol's EncodedLinesCache,
 * `ServerContext.linesCache`): an RDT of a full thread encoded its 4 MiB of JSON on the main thread each time
 * (11–17 ms, a stall for every client however the reads were paced), now the same thread value is encoded once
 * and copied into each reply. Driven with fake connections over a memory store; the cache's counts say what was
 * encoded, not a clock.
 */
import { EncodedLinesCache } from 'forum-protocol';
import { expect, it } from 'vitest';
import { bigThread, loggedIn, memoryContext } from './served-connection.js';

it("the connections of a server encode an unchanged thread's lines once between them, and a change to it is read at once", async () => {
  const cache = new EncodedLinesCache(32 * 1024 * 1024);
  const ctx = memoryContext([bigThread], { linesCache: cache });
  const alice = await loggedIn(ctx, 'alice', '127.0.0.1');
  const bob = await loggedIn(ctx, 'bob', '127.0.0.2');
  const first = await alice.request('RDT', ['big'], 'r1');
  const second = await bob.request('RDT', ['big'], 'r2');
  expect(first.lines.length).toBe(980);
  expect(second.lines).toEqual(first.lines);
  expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 1 });
  // Each reply its own buffer, of its own size: what the reply budget charges is what the connection holds.
  const [a, b] = [alice.sent.at(-1), bob.sent.at(-1)];
  // Not .not.toBe: on failing identity it compares the two equal ~4 MB buffers byte by byte for its message.
  expect(a?.buffer === b?.buffer, 'the two replies share a buffer').toBe(false);
  expect(b?.buffer.byteLength).toBe(b?.length);
  expect((await alice.request('MSG', ['big', 'the newest'], 'm1')).status).toBe('ok');
  expect((await bob.request('RDT', ['big'], 'r3')).lines.at(-1)).toBe('981 alice: the newest');
  expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 2 });
});
