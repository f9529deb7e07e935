/**
 * The thread-size limit under two changes at once, on two servers of one
 * database, made to interleave where a missing lock would let them: a test
 * transaction holds the thread's row while both commands start, and lets go
 * only once both wait on a lock (seen in `pg_stat_activity`). With the row
 * locked by `lockThreadSize` (`SELECT … FOR UPDATE`) they wait before reading
 * the size and run one after the other; without it (attack round 23: removing
 * the `FOR UPDATE` failed no test) both read the size first, both fit, and the
 * thread passed its limit, the size kept on its row then wrong.
 */
import * as O from 'fp-ts/lib/Option.js';
import type { Sql } from 'postgres';
import { describe, expect, it } from 'vitest';
import { MAX_THREAD_REPLY_BYTES } from '../src/protocol/limits.js';
import type { PostgresStore } from '../src/postgres.js';
import { threadLines, type Thread } from '../src/store/thread.js';
import { replyOf, run } from './helpers.js';
import { insertThread, usePostgres } from './postgres-harness.js';
import { heldUntilWaiting } from './held-lock.js';

const pg = usePostgres({ migrated: 4 });

const FULL = (title: string): string => `Thread ${title} is full: it cannot grow any longer (delete or shorten messages, or start a new thread)`;

// The waits are released by the test as soon as both commands wait: a lock_timeout (2 s by default) on a loaded machine must not end them first.
const TIMEOUTS = { timeouts: { lockMs: 30_000 } } as const;

/** Two stores ("servers") on one schema. */
const twoServers = async (): Promise<readonly [PostgresStore, PostgresStore]> => {
  const a = await pg.openStore(TIMEOUTS);
  return [a, await pg.openPeer(a, TIMEOUTS)];
};

const readThread = async (store: PostgresStore, title: string): Promise<Thread> => {
  const got = await store.getThread(title)();
  if (got._tag === 'Left' || O.isNone(got.right)) throw new Error(`no thread ${title}`);
  return got.right.value;
};

/** RDT's reply bytes of `thread` as the store counts them (JSON of the lines, and one comma too many). */
const recountedBytes = (thread: Thread): number => Buffer.byteLength(JSON.stringify(threadLines(thread))) + (thread.entries.length === 0 ? 0 : 1);

const storedBytes = async (sql: Sql, title: string): Promise<number> => Number((await sql<{ b: string }[]>`SELECT reply_bytes AS b FROM threads WHERE title = ${title}`)[0]?.b);

/** JSON bytes of message line `n` with its comma. */
const lineCost = (n: number, author: string, text: string): number => Buffer.byteLength(JSON.stringify(`${n} ${author}: ${text}`)) + 1;

/** The text of every message but the last of a {@link nearlyFull} thread. */
const FILLER = 'y'.repeat(1000);

/**
 * A thread `title` by `author` of messages of {@link FILLER} and a last one as long as it takes for the reply to
 * have exactly `room` bytes left under its limit.
 */
const nearlyFull = async (sql: Sql, title: string, author: string, room: number): Promise<{ readonly messages: number }> => {
  const entries: { kind: 'message'; author: string; text: string }[] = [];
  let bytes = 2;
  while (bytes + lineCost(entries.length + 1, author, FILLER) + 1100 <= MAX_THREAD_REPLY_BYTES - room) {
    entries.push({ kind: 'message', author, text: FILLER });
    bytes += lineCost(entries.length, author, FILLER);
  }
  const last = MAX_THREAD_REPLY_BYTES - room - bytes - lineCost(entries.length + 1, author, '');
  entries.push({ kind: 'message', author, text: 'w'.repeat(last) });
  const thread: Thread = { title, creator: author, entries };
  expect(recountedBytes(thread)).toBe(MAX_THREAD_REPLY_BYTES - room);
  await insertThread(sql, thread);
  return { messages: entries.length };
};

/** Runs `commands` while a transaction holds thread `title`'s row (FOR UPDATE: every mode of row lock waits for it). */
const heldUntilAllWait = <A>(sql: Sql, title: string, waiters: number, commands: () => readonly Promise<A>[]): Promise<readonly A[]> =>
  heldUntilWaiting(sql, (tx) => tx`SELECT 1 FROM threads WHERE title = ${title} FOR UPDATE`, waiters, commands);

describe('PostgreSQL thread size under changes at once on two servers', () => {
  it('two EDTs that each fit alone: one is refused, the thread stays within its limit and its size stays exact', async () => {
    const [a, b] = await twoServers();
    // Room for 3,000 bytes more: each edit adds 2,000 to a message.
    const { messages } = await nearlyFull(a.sql, 'edits', 'mallory', 3000);
    const grown = 'e'.repeat(2000);
    const outcomes = await heldUntilAllWait(a.sql, 'edits', 2, () => [run(a, 'mallory', `EDT edits 1 ${FILLER}${grown}`), run(b, 'mallory', `EDT edits 2 ${FILLER}${grown}`)]);
    const answers = outcomes.map((o) => replyOf(o).lines[0]);
    expect(answers.slice().sort()).toEqual([FULL('edits'), 'The message has been edited'].sort());
    const thread = await readThread(a, 'edits');
    expect(thread.entries).toHaveLength(messages);
    expect(recountedBytes(thread)).toBeLessThanOrEqual(MAX_THREAD_REPLY_BYTES);
    expect(await storedBytes(a.sql, 'edits')).toBe(recountedBytes(thread));
  });

  it('a MSG and an EDT that each fit alone: one is refused', async () => {
    const [a, b] = await twoServers();
    const { messages } = await nearlyFull(a.sql, 'mixed', 'mallory', 3000);
    const grown = 'e'.repeat(2000);
    const outcomes = await heldUntilAllWait(a.sql, 'mixed', 2, () => [run(a, 'mallory', `MSG mixed ${grown}`), run(b, 'mallory', `EDT mixed 1 ${FILLER}${grown}`)]);
    expect(outcomes.map((o) => replyOf(o).lines[0]).filter((l) => l === FULL('mixed'))).toHaveLength(1);
    const thread = await readThread(a, 'mixed');
    expect(thread.entries.length).toBeLessThanOrEqual(messages + 1);
    expect(recountedBytes(thread)).toBeLessThanOrEqual(MAX_THREAD_REPLY_BYTES);
    expect(await storedBytes(a.sql, 'mixed')).toBe(recountedBytes(thread));
  });

  it('an EDT and a DLT at once: the size kept on the row is the recount of the lines after both', async () => {
    const [a, b] = await twoServers();
    await nearlyFull(a.sql, 'both', 'mallory', 100_000);
    const outcomes = await heldUntilAllWait(a.sql, 'both', 2, () => [run(a, 'mallory', `EDT both 1 ${FILLER}${'e'.repeat(2000)}`), run(b, 'mallory', 'DLT both 2')]);
    expect(outcomes.map((o) => replyOf(o).lines[0]).sort()).toEqual(['The message has been deleted', 'The message has been edited']);
    expect(await storedBytes(a.sql, 'both')).toBe(recountedBytes(await readThread(a, 'both')));
  });

  it("an upload's commit and an EDT that each fit alone: one is refused", async () => {
    const [a, b] = await twoServers();
    const { messages } = await nearlyFull(a.sql, 'files', 'mallory', 3000);
    // The edit takes all the room but what the upload's line needs, less a byte: either fits alone, not both.
    const line = Buffer.byteLength(JSON.stringify('mallory uploaded f.bin')) + 1;
    const grown = 'e'.repeat(3000 - line + 1);
    const writer = await b.beginUpload('files', 'f.bin', 'mallory')();
    if (writer._tag === 'Left') throw new Error(writer.left.kind);
    await new Promise<void>((resolve, reject) => writer.right.stream.write(Buffer.from('data'), (e) => (e ? reject(e) : resolve())));
    const [edit, committed] = await heldUntilAllWait(a.sql, 'files', 2, () => [run(a, 'mallory', `EDT files 1 ${FILLER}${grown}`).then((o) => replyOf(o).lines[0]), writer.right.commit().then((c) => (c._tag === 'Left' ? c.left.kind : 'ok'))]);
    expect([edit === 'The message has been edited', committed === 'ok'].filter(Boolean)).toHaveLength(1);
    const thread = await readThread(a, 'files');
    expect(thread.entries).toHaveLength(committed === 'ok' ? messages + 1 : messages);
    expect(recountedBytes(thread)).toBeLessThanOrEqual(MAX_THREAD_REPLY_BYTES);
    expect(await storedBytes(a.sql, 'files')).toBe(recountedBytes(thread));
  });
});
