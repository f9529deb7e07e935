/**
 * One account's share of another user's thread (store/thread-share.ts) under
 * two of its changes at once on two servers of one database, made to
 * interleave where a share counted outside the thread row's lock would let
 * them: a test transaction holds the thread's row while both commands start,
 * and lets go only once both wait on it. Counted under `lockThreadSize`'s
 * lock, they run one after the other and the second sees the first's line.
 */
import * as O from 'fp-ts/lib/Option.js';
import type { Sql } from 'postgres';
import { describe, expect, it } from 'vitest';
import type { PostgresStore } from '../src/postgres.js';
import { MAX_USER_THREAD_ENTRIES, MAX_USER_THREAD_REPLY_BYTES } from '../src/store/thread-share.js';
import type { Thread, ThreadEntry } from '../src/store/thread.js';
import { lines, run } from './helpers.js';
import { insertThread, usePostgres } from './postgres-harness.js';
import { heldUntilWaiting } from './held-lock.js';

const pg = usePostgres({ migrated: 4 });

// The waits are released by the test as soon as both commands wait: a lock_timeout on a loaded machine must not end them first.
const TIMEOUTS = { timeouts: { lockMs: 30_000 } } as const;

const SHARE_FULL = (title: string, limit: number, unit: string): string =>
  `Your messages hold as much of Thread ${title} as one user may: at most ${limit} ${unit} of it (delete some of your messages in it to make room)`;

const POSTED = (title: string): string => `Message posted to ${title} thread`;

/** Two stores ("servers") on one schema. */
const twoServers = async (): Promise<readonly [PostgresStore, PostgresStore]> => {
  const a = await pg.openStore(TIMEOUTS);
  return [a, await pg.openPeer(a, TIMEOUTS)];
};

/** Runs `commands` while a transaction holds thread `title`'s row (every change of its lines waits for it). */
const heldUntilAllWait = <A>(sql: Sql, title: string, waiters: number, commands: () => readonly Promise<A>[]): Promise<readonly A[]> =>
  heldUntilWaiting(sql, (tx) => tx`SELECT 1 FROM threads WHERE title = ${title} FOR UPDATE`, waiters, commands);

/** JSON bytes of message line `n` with its comma, as RDT's reply holds it. */
const lineCost = (n: number, author: string, text: string): number => Buffer.byteLength(JSON.stringify(`${n} ${author}: ${text}`)) + 1;

const mallorysLines = async (store: PostgresStore, title: string): Promise<readonly ThreadEntry[]> => {
  const got = await store.getThread(title)();
  if (got._tag === 'Left' || O.isNone(got.right)) throw new Error(`no thread ${title}`);
  return got.right.value.entries.filter((e) => e.kind === 'message' && e.author === 'mallory');
};

/** Alice's thread of 100 of her messages, then mallory's messages holding exactly `room` bytes less than its share. */
const nearShareBytes = (title: string, room: number): Thread => {
  const entries: ThreadEntry[] = Array.from({ length: 100 }, () => ({ kind: 'message', author: 'alice', text: 'a'.repeat(100) }));
  const filler = 'y'.repeat(1000);
  let held = 0;
  while (held + lineCost(entries.length + 1, 'mallory', filler) + 1100 <= MAX_USER_THREAD_REPLY_BYTES - room) {
    entries.push({ kind: 'message', author: 'mallory', text: filler });
    held += lineCost(entries.length, 'mallory', filler);
  }
  const last = MAX_USER_THREAD_REPLY_BYTES - room - held - lineCost(entries.length + 1, 'mallory', '');
  entries.push({ kind: 'message', author: 'mallory', text: 'w'.repeat(last) });
  return { title, creator: 'alice', entries };
};

describe("PostgreSQL: one account's share of a thread under its changes at once on two servers", () => {
  it('two MSGs for the last line of its share: one is posted, the other refused', async () => {
    const [a, b] = await twoServers();
    const entries: ThreadEntry[] = [
      ...Array.from({ length: 100 }, (): ThreadEntry => ({ kind: 'message', author: 'alice', text: 'a' })),
      ...Array.from({ length: MAX_USER_THREAD_ENTRIES - 1 }, (): ThreadEntry => ({ kind: 'message', author: 'mallory', text: 'm' })),
    ];
    await insertThread(a.sql, { title: 'lines', creator: 'alice', entries });
    const answers = await heldUntilAllWait(a.sql, 'lines', 2, () => [lines(run(a, 'mallory', 'MSG lines one')), lines(run(b, 'mallory', 'MSG lines two'))]);
    expect(answers.map((l) => l[0]).sort()).toEqual([POSTED('lines'), SHARE_FULL('lines', MAX_USER_THREAD_ENTRIES, 'lines')].sort());
    expect(await mallorysLines(a, 'lines')).toHaveLength(MAX_USER_THREAD_ENTRIES);
  });

  it('two MSGs that each fit its share alone: one is refused, and its lines stay within the share', async () => {
    const [a, b] = await twoServers();
    await insertThread(a.sql, nearShareBytes('bytes', 3000));
    const text = 'e'.repeat(2000);
    const answers = await heldUntilAllWait(a.sql, 'bytes', 2, () => [lines(run(a, 'mallory', `MSG bytes ${text}`)), lines(run(b, 'mallory', `MSG bytes ${text}`))]);
    expect(answers.map((l) => l[0]).sort()).toEqual([POSTED('bytes'), SHARE_FULL('bytes', MAX_USER_THREAD_REPLY_BYTES, 'bytes')].sort());
    // Numbered as RDT numbers them: alice's 100 messages come first.
    const held = (await mallorysLines(a, 'bytes')).reduce((sum, e, i) => sum + (e.kind === 'message' ? lineCost(101 + i, e.author, e.text) : 0), 0);
    expect(held).toBeLessThanOrEqual(MAX_USER_THREAD_REPLY_BYTES);
    expect(held).toBeGreaterThan(MAX_USER_THREAD_REPLY_BYTES - 3000);
  });
});
