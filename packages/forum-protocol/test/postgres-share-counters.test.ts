/**
 * The per-account shares' counters (schema 14: `uploader_bytes`, `thread_holdings`, kept by triggers) against
 * the rows they count, after a seeded random mix of every change that adds or removes bytes or lines, several at
 * once on two servers: MSG, EDT, DLT (messages renumbered past 10, 100 and 1,000), uploads committed, refused by
 * the share, aborted after a chunk, RMV (of threads holding uploads and lines of several accounts) and CRT of
 * the title again, the sweep of doomed chunks. And what each share's read costs: the rows it reads, counted
 * by PostgreSQL in the reading transaction (`pg_stat_get_xact_*`).
 */
import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import { randomBytes } from 'node:crypto';
import type postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { lockThreadSize } from '../src/postgres-store/postgres-thread-size.js';
import { accountHolding } from '../src/postgres-store/postgres-thread-share.js';
import { uploaderBytes } from '../src/postgres-store/postgres-upload-share.js';
import { UPLOAD_CHUNK_BYTES, type PostgresStore } from '../src/postgres.js';
import { holdingIn } from '../src/store/thread-share.js';
import type { Thread, ThreadEntry } from '../src/store/thread.js';
import type { CommandOutcome } from '../src/index.js';
import { run } from './helpers.js';
import { insertThread, usePostgres } from './postgres-harness.js';
import { holdings, uploaderCounters } from './postgres-share-recount.js';
import { prng as seeded } from './seeded-random.js';

const pg = usePostgres({ migrated: 4 });

const USERS = ['alice', 'bob', 'carol', 'mallory'] as const;
const TEXTS = ['x', 'hello', 'quote " and \\ back', 'é ünïcode 😀', '<tag> & {json}', 'a'.repeat(300)] as const;


/** Uploads `size` bytes by `who` to `title`: committed, or (`abortAfter`) aborted after that many chunks. */
const upload = async (store: PostgresStore, title: string, name: string, who: string, size: number, abortAfter?: number): Promise<string> => {
  const begun = await store.beginUpload(title, name, who)();
  if (E.isLeft(begun)) return begun.left.kind;
  const w = begun.right;
  const bytes = randomBytes(size);
  for (let at = 0, n = 0; at < size && !w.stream.destroyed; at += UPLOAD_CHUNK_BYTES, n++) {
    if (abortAfter !== undefined && n >= abortAfter) {
      await w.abort();
      return 'aborted';
    }
    await new Promise<void>((resolve) => w.stream.write(bytes.subarray(at, at + UPLOAD_CHUNK_BYTES), () => resolve()));
  }
  const done = await w.commit();
  return E.isLeft(done) ? done.left.kind : 'ok';
};

/** Rows read from `tables` and their indexes so far in this transaction (PostgreSQL's own counts). */
const rowsRead = async (tx: postgres.TransactionSql, tables: readonly string[]): Promise<number> => {
  const rows = await tx<{ n: string }[]>`
    SELECT COALESCE(sum(pg_stat_get_xact_tuples_returned(r.oid) + pg_stat_get_xact_tuples_fetched(r.oid)), 0)::text AS n
    FROM pg_class r WHERE r.relnamespace = current_schema()::regnamespace
      AND (r.relname = ANY (${tables as string[]}) OR r.oid IN (SELECT indexrelid FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
                                                               WHERE t.relname = ANY (${tables as string[]}) AND t.relnamespace = current_schema()::regnamespace))`;
  return Number(rows[0]?.n ?? 0);
};

describe("the shares' counters (schema 14)", () => {
  it('after a seeded mix of MSG, EDT, DLT, uploads (committed, refused, aborted), RMV and CRT on two servers at once, every counter equals its recount', async () => {
    const options = { maxStoredUploadBytes: 400 * UPLOAD_CHUNK_BYTES, maxUserUploadBytes: 5 * UPLOAD_CHUNK_BYTES, doomedUploadSweep: { auto: false } };
    const a = await pg.openStore(options);
    const b = await pg.openPeer(a, options);
    const random = seeded(27);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    // A thread of 1,050 messages of every user: DLTs renumber messages across 10, 100 and 1,000.
    const big: ThreadEntry[] = Array.from({ length: 1_050 }, (_, i) => ({ kind: 'message', author: USERS[(i * 7) % 4] ?? 'alice', text: TEXTS[i % TEXTS.length] ?? '' }));
    await insertThread(a.sql, { title: 'big', creator: 'alice', entries: big } satisfies Thread);
    const titles = ['big', 't0', 't1', 't2'];
    for (const [i, t] of ['t0', 't1', 't2'].entries()) await run(a, USERS[i] ?? 'alice', `CRT ${t}`);
    let files = 0;
    const outcomes: Record<string, number> = {};
    const note = (what: string): void => void (outcomes[what] = (outcomes[what] ?? 0) + 1);
    const first = (o: CommandOutcome): string => (o.kind === 'reply' ? (o.reply.lines[0] ?? '').slice(0, 24) : o.kind);
    const op = async (): Promise<void> => {
      const store = random() < 0.5 ? a : b;
      const who = pick(USERS);
      const title = pick(titles);
      const r = random();
      if (r < 0.3) {
        note(`MSG ${first(await run(store, who, `MSG ${title} ${pick(TEXTS)}`))}`);
      } else if (r < 0.55) {
        // EDT or DLT of a message of someone's, by its author.
        const got = await store.getThread(title)();
        if (E.isLeft(got) || O.isNone(got.right)) return note('no thread');
        const messages = got.right.value.entries.filter((e) => e.kind === 'message');
        if (messages.length === 0) return note('no message');
        const n = 1 + Math.floor(random() * messages.length);
        const m = messages[n - 1];
        if (m?.kind !== 'message') return;
        const line = random() < 0.5 ? `EDT ${title} ${n} ${pick(TEXTS)}${random() < 0.5 ? pick(TEXTS) : ''}` : `DLT ${title} ${n}`;
        const reply = await run(store, m.author, line);
        note(`${line.slice(0, 3)} ${first(reply)}`);
      } else if (r < 0.85) {
        const size = 1 + Math.floor(random() * 3 * UPLOAD_CHUNK_BYTES);
        note(`upload ${await upload(store, title, `f${files++}`, who, size, random() < 0.3 ? 1 : undefined)}`);
      } else if (title !== 'big') {
        const creator = (await store.sql<{ creator: string }[]>`SELECT creator FROM threads WHERE title = ${title}`)[0]?.creator;
        if (creator === undefined) {
          note(`CRT ${first(await run(store, who, `CRT ${title}`))}`);
        } else {
          note(`RMV ${first(await run(store, creator, `RMV ${title}`))}`);
        }
      }
    };
    for (let round = 0; round < 40; round++) {
      await Promise.all([op(), op(), op(), op()]);
      if (round % 10 === 9) {
        const counters = await uploaderCounters(a.sql);
        expect(counters.kept).toEqual(counters.recounted);
      }
    }
    // The mix did what it is for: lines changed every way, uploads committed, refused by the share, aborted.
    const kinds = Object.keys(outcomes).join(' | ');
    for (const seen of ['MSG Message posted', 'EDT The message has been', 'DLT The message has been', 'upload ok', 'upload uploadStorageFull', 'upload aborted', 'RMV Thread', 'CRT Thread']) expect(kinds).toContain(seen);
    // No change failed at the database (a deadlock between the counters' rows, say): each was done or refused by a rule.
    expect(kinds).not.toMatch(/could not|try again|upload io/i);
    const counters = await uploaderCounters(a.sql);
    expect(counters.kept).toEqual(counters.recounted);
    expect(Object.keys(counters.kept).length).toBeGreaterThan(1);
    const held = await holdings(a, USERS);
    expect(held.read).toEqual(held.counted);
    // Doomed chunks swept (RMV's, the aborts'): they were not counted, and are not after.
    await a.sweepDoomedUploads();
    const swept = await uploaderCounters(b.sql);
    expect(swept.kept).toEqual(swept.recounted);
  });

  it("the upload share's read is one counter row, whatever the account's uploads (20,000 of its own: no upload row read)", async () => {
    const a = await pg.openStore({ maxStoredUploadBytes: 2 ** 30, doomedUploadSweep: { auto: false } });
    await run(a, 'mallory', 'CRT m');
    await a.sql`INSERT INTO uploads (thread, filename, uploader, size, committed) SELECT 'm', 'x' || g, 'mallory', 1, true FROM generate_series(1, 20000) g`;
    // And a pending upload of one chunk, which counts too.
    const begun = await a.beginUpload('m', 'pending', 'mallory')();
    if (E.isLeft(begun)) throw new Error('not begun');
    await new Promise<void>((resolve) => begun.right.stream.write(randomBytes(UPLOAD_CHUNK_BYTES), () => resolve()));
    await a.sql`ANALYZE uploads`;
    const { bytes, read } = await a.sql.begin(async (tx) => {
      const before = await rowsRead(tx, ['uploads', 'upload_chunks']);
      const n = await uploaderBytes(tx, 'mallory');
      return { bytes: n, read: (await rowsRead(tx, ['uploads', 'upload_chunks'])) - before };
    });
    await begun.right.abort();
    expect(bytes).toBe(20_000 + UPLOAD_CHUNK_BYTES);
    // Summed from the rows (schema 13): 20,000 rows of the account's, its index entries and rows.
    expect(read).toBe(0);
  });

  it("a non-creator's share of a thread of 9,990 lines is read from its counter and at most about 2,200 index entries, not the thread's lines", async () => {
    const a = await pg.openStore();
    const entries: ThreadEntry[] = Array.from({ length: 9_990 }, (_, i) => ({ kind: 'message', author: i % 8 === 3 ? 'mallory' : 'alice', text: TEXTS[i % TEXTS.length] ?? '' }));
    await insertThread(a.sql, { title: 'v', creator: 'alice', entries });
    await a.sql`ANALYZE entries`;
    const { held, read } = await a.sql.begin(async (tx) => {
      const size = await lockThreadSize(tx, 'v');
      if (size === undefined) throw new Error('no thread');
      const before = await rowsRead(tx, ['entries', 'thread_holdings']);
      const mine = await accountHolding(tx, size, 'mallory');
      return { held: mine, read: (await rowsRead(tx, ['entries', 'thread_holdings'])) - before };
    });
    expect(held).toEqual(holdingIn({ title: 'v', creator: 'alice', entries }, 'mallory'));
    // Every line of the thread read and numbered (schema 13): 9,990 rows, and as many index entries.
    expect(read).toBeLessThan(2_500);
  });
});
