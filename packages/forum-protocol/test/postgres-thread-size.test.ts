import * as O from 'fp-ts/lib/Option.js';
import type postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { MAX_THREAD_ENTRIES, MAX_THREAD_REPLY_BYTES } from '../src/protocol/limits.js';
import type { PostgresStore } from '../src/postgres.js';
import { threadLines, type Thread } from '../src/store/thread.js';
import { lines, replyOf, run, upload } from './helpers.js';
import { backToSchema, usePostgres } from './postgres-harness.js';
import { prng } from './seeded-random.js';

const pg = usePostgres({ migrated: 5 });

const FULL = (title: string): string => `Thread ${title} is full: it cannot grow any longer (delete or shorten messages, or start a new thread)`;

/** The thread's size counted from its lines, as RDT shows them: JSON bytes of the lines, plus the one comma too many the store counts. */
const recount = (thread: Thread): { entry_count: number; message_count: number; reply_bytes: string } => ({
  entry_count: thread.entries.length,
  message_count: thread.entries.filter((e) => e.kind === 'message').length,
  reply_bytes: String(Buffer.byteLength(JSON.stringify(threadLines(thread))) + (thread.entries.length === 0 ? 0 : 1)),
});

const readThread = async (store: PostgresStore, title: string): Promise<Thread> => {
  const got = await store.getThread(title)();
  if (got._tag === 'Left' || O.isNone(got.right)) throw new Error(`no thread ${title}`);
  return got.right.value;
};

const storedSize = async (sql: postgres.Sql, title: string): Promise<unknown> =>
  (await sql`SELECT entry_count, message_count, reply_bytes FROM threads WHERE title = ${title}`)[0];

/**
 * Turns the store's schema back into version 2 (no thread sizes), as a
 * server of that version left it, for `write` to add threads as that server
 * would; then opens a server of this version on it, which migrates.
 */
const writtenByVersion2 = async (store: PostgresStore, write: (sql: postgres.Sql) => Promise<void>): Promise<PostgresStore> => {
  await backToSchema(store.sql, 2);
  await write(store.sql);
  return pg.openPeer(store);
};

/** JSON bytes of message number `n`'s line, with its comma. */
const lineCost = (n: number, author: string, text: string): number => Buffer.byteLength(JSON.stringify(`${n} ${author}: ${text}`)) + 1;

describe('PostgreSQL thread sizes', () => {
  it('the migration counts the threads an old server wrote: numbers, escapes, uploads and other lines', async () => {
    const texts = ['plain', 'quote " and \\ backslash', 'é and 😀', '\u0001\u001f control', '\t tab \b\f', '', 'x'.repeat(4000), '\u2028 separator'];
    const b = await writtenByVersion2(await pg.openStore(), async (sql) => {
      await sql`INSERT INTO threads (title, creator) VALUES ('mixed', 'alice'), ('empty', 'alice')`;
      const rows = Array.from({ length: 130 }, (_, i) =>
        i % 11 === 5
          ? { thread: 'mixed', pos: 2 * i + 1, kind: 'upload', author: 'bob', body: `f${i}.bin` }
          : i % 17 === 8
            ? { thread: 'mixed', pos: 2 * i + 1, kind: 'other', author: '', body: `  a "hand-written" line ${i}` }
            : { thread: 'mixed', pos: 2 * i + 1, kind: 'message', author: i % 2 === 0 ? 'bob' : 'carol', body: texts[i % texts.length] ?? '' },
      );
      await sql`INSERT INTO entries ${sql(rows, 'thread', 'pos', 'kind', 'author', 'body')}`;
    });
    expect(await storedSize(b.sql, 'mixed')).toEqual(recount(await readThread(b, 'mixed')));
    expect(await storedSize(b.sql, 'empty')).toEqual({ entry_count: 0, message_count: 0, reply_bytes: '2' });
    // And what is stored is what the store goes on from.
    expect(await lines(run(b, 'bob', 'MSG mixed one more'))).toEqual(['Message posted to mixed thread']);
    expect(await storedSize(b.sql, 'mixed')).toEqual(recount(await readThread(b, 'mixed')));
  });

  it('stays equal to a recount through a random mix of MSG, EDT, DLT and uploads from two servers at once', async () => {
    const a = await pg.openStore();
    const b = await pg.openPeer(a);
    await run(a, 'alice', 'CRT mix');
    const random = prng(11);
    const users = ['alice', 'bob', 'carol'];
    const texts = ['hi', 'quote " here', 'back \\ slash', 'é 😀', '\t tab', 'y'.repeat(300)];
    const pick = <A>(xs: readonly A[]): A => xs[Math.floor(random() * xs.length)] as A;
    const done = new Map<string, number>();
    for (let round = 0; round < 12; round++) {
      const commands = Array.from({ length: 16 }, (_, i) => {
        const user = pick(users);
        const r = random();
        // Message numbers up to about the thread's length: some name someone else's message, or none, and are refused.
        const n = 1 + Math.floor(random() * (round * 8 + 4));
        const line = r < 0.5 ? `MSG mix ${pick(texts)}` : r < 0.75 ? `EDT mix ${n} ${pick(texts)}` : `DLT mix ${n}`;
        return run(i % 2 === 0 ? a : b, user, line).then((o) => {
          if (replyOf(o).status === 'ok') done.set(line.slice(0, 3), (done.get(line.slice(0, 3)) ?? 0) + 1);
        });
      });
      const uploads = round % 4 === 0 ? [upload(b, 'mix', `f${round}.bin`, pick(users), Buffer.from('data'))] : [];
      await Promise.all([...commands, ...uploads]);
      expect(await storedSize(a.sql, 'mix')).toEqual(recount(await readThread(a, 'mix')));
    }
    expect((await readThread(a, 'mix')).entries.filter((e) => e.kind === 'message').length).toBeGreaterThan(10);
    expect(Math.min(done.get('EDT') ?? 0, done.get('DLT') ?? 0)).toBeGreaterThan(5);
  });

  it('MSG and EDT refuse at exactly the byte where a recount of the lines passes the limit, also when several post at once', async () => {
    const author = 'filler';
    const filler = 'y'.repeat(4000);
    // Fill to within a few kilobytes of the limit (written as an old server would, so the migration counts it).
    let bytes = 2;
    let n = 0;
    while (bytes + lineCost(n + 1, author, filler) <= MAX_THREAD_REPLY_BYTES - 6000) bytes += lineCost(++n, author, filler);
    const b = await writtenByVersion2(await pg.openStore(), async (sql) => {
      await sql`INSERT INTO threads (title, creator) VALUES ('big', 'alice')`;
      await sql`INSERT INTO entries (thread, pos, kind, author, body) SELECT 'big', g, 'message', ${author}, ${filler} FROM generate_series(1, ${n}) g`;
    });
    const c = await pg.openPeer(b);
    const room = MAX_THREAD_REPLY_BYTES - bytes;
    // Three messages of a third of the room but 500 bytes, posted ten at once over two servers: exactly three fit.
    const third = 'z'.repeat(Math.floor((room - 500) / 3) - lineCost(n + 1, 'mallory', ''));
    const posts = await Promise.all(Array.from({ length: 10 }, (_, i) => run(i % 2 === 0 ? b : c, 'mallory', `MSG big ${third}`)));
    expect(posts.map((p) => replyOf(p).lines[0])).toEqual(expect.arrayContaining([FULL('big')]));
    expect(posts.filter((p) => replyOf(p).status === 'ok')).toHaveLength(3);
    const left = MAX_THREAD_REPLY_BYTES - Number(recount(await readThread(b, 'big')).reply_bytes);
    expect(left).toBeGreaterThanOrEqual(0);
    // One byte more than the room left is refused; exactly the room is taken.
    const exact = 'z'.repeat(left - lineCost(n + 4, 'mallory', ''));
    expect(replyOf(await run(c, 'mallory', `MSG big ${exact}z`)).lines).toEqual([FULL('big')]);
    expect(replyOf(await run(b, 'mallory', `MSG big ${exact}`)).lines).toEqual(['Message posted to big thread']);
    const full = await readThread(c, 'big');
    expect(Number(recount(full).reply_bytes)).toBe(MAX_THREAD_REPLY_BYTES);
    expect(await storedSize(c.sql, 'big')).toEqual(recount(full));
    expect(replyOf(await run(b, 'mallory', 'MSG big z')).lines).toEqual([FULL('big')]);
    // An edit one byte longer is refused; one of the same length is not; a DLT makes room again.
    expect(replyOf(await run(c, 'mallory', `EDT big ${n + 4} ${exact}zz`)).lines).toEqual([FULL('big')]);
    expect(replyOf(await run(c, 'mallory', `EDT big ${n + 4} ${'q'.repeat(exact.length)}`)).lines).toEqual(['The message has been edited']);
    expect(replyOf(await run(b, 'mallory', `DLT big ${n + 1}`)).lines).toEqual(['The message has been deleted']);
    expect(replyOf(await run(c, 'mallory', 'MSG big z')).lines).toEqual(['Message posted to big thread']);
    expect(await storedSize(c.sql, 'big')).toEqual(recount(await readThread(c, 'big')));
  });

  it("MSG checks the size kept on the thread's row, without counting its lines", async () => {
    const a = await pg.openStore();
    await run(a, 'alice', 'CRT kept');
    await run(a, 'alice', 'MSG kept short');
    // Only the row says the thread is full: a MSG that counted the lines would pass.
    await a.sql`UPDATE threads SET reply_bytes = ${MAX_THREAD_REPLY_BYTES} WHERE title = 'kept'`;
    expect(replyOf(await run(a, 'alice', 'MSG kept z')).lines).toEqual([FULL('kept')]);
    await a.sql`UPDATE threads SET reply_bytes = 2, entry_count = ${MAX_THREAD_ENTRIES} WHERE title = 'kept'`;
    expect(replyOf(await run(a, 'alice', 'MSG kept z')).lines).toEqual([FULL('kept')]);
    expect(await lines(run(a, 'alice', 'RDT kept'))).toEqual(['1 alice: short']);
  });

  it('MSG refuses the line past MAX_THREAD_ENTRIES, counted by the migration, also when several post at once', async () => {
    // bob's own thread: another user's lines there are bounded by its share (thread-share.ts).
    const b = await writtenByVersion2(await pg.openStore(), async (sql) => {
      await sql`INSERT INTO threads (title, creator) VALUES ('long', 'bob')`;
      await sql`INSERT INTO entries (thread, pos, kind, author, body) SELECT 'long', g, 'message', 'bob', 'm' FROM generate_series(1, ${MAX_THREAD_ENTRIES - 3}) g`;
    });
    const c = await pg.openPeer(b);
    const posts = await Promise.all(Array.from({ length: 8 }, (_, i) => run(i % 2 === 0 ? b : c, 'bob', 'MSG long last ones')));
    expect(posts.filter((p) => replyOf(p).status === 'ok')).toHaveLength(3);
    expect(posts.filter((p) => replyOf(p).lines[0] === FULL('long'))).toHaveLength(5);
    expect(await storedSize(b.sql, 'long')).toEqual(recount(await readThread(b, 'long')));
  });
});
