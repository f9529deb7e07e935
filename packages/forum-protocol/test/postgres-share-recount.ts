/** What the shares' counters (schema 14) hold, and the same counted from the rows, for tests to compare. */
import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import type postgres from 'postgres';
import { expect } from 'vitest';
import { lockThreadSize } from '../src/postgres-store/postgres-thread-size.js';
import { accountHolding } from '../src/postgres-store/postgres-thread-share.js';
import { UPLOADER_BYTES_RECOUNT } from '../src/postgres-store/postgres-upload-share.js';
import type { PostgresStore } from '../src/postgres.js';
import { holdingIn } from '../src/store/thread-share.js';

/** Every uploader's counter that is not 0, and the same summed from the rows (as schema 13 read it). */
export const uploaderCounters = async (sql: postgres.Sql): Promise<{ kept: Record<string, number>; recounted: Record<string, number> }> => {
  const kept = await sql<{ uploader: string; bytes: string }[]>`SELECT uploader, bytes FROM uploader_bytes WHERE bytes <> 0 ORDER BY uploader`;
  const who = await sql<{ uploader: string }[]>`SELECT DISTINCT uploader FROM uploads ORDER BY uploader`;
  const recounted: Record<string, number> = {};
  for (const { uploader } of who) {
    const n = Number((await sql.unsafe<{ bytes: string }[]>(UPLOADER_BYTES_RECOUNT, [uploader]))[0]?.bytes ?? 0);
    if (n !== 0) recounted[uploader] = n;
  }
  return { kept: Object.fromEntries(kept.map((r) => [r.uploader, Number(r.bytes)])), recounted };
};

/** Each thread's accounts' holdings as the share reads them (counter and digits), and as the memory store counts them from the lines. */
export const holdings = async (store: PostgresStore, users: readonly string[]): Promise<{ read: Record<string, unknown>; counted: Record<string, unknown> }> => {
  const titles = await store.sql<{ title: string }[]>`SELECT title FROM threads ORDER BY title`;
  const read: Record<string, unknown> = {};
  const counted: Record<string, unknown> = {};
  for (const { title } of titles) {
    const got = await store.getThread(title)();
    if (E.isLeft(got) || O.isNone(got.right)) throw new Error(`no thread ${title}`);
    const thread = got.right.value;
    await store.sql.begin(async (tx) => {
      const size = await lockThreadSize(tx, title);
      if (size === undefined) throw new Error(`no thread ${title}`);
      for (const who of users) {
        const mine = holdingIn(thread, who);
        if (mine.entries > 0) counted[`${title}/${who}`] = mine;
        const kept = await accountHolding(tx, size, who);
        if (kept.entries > 0 || kept.bytes > 0) read[`${title}/${who}`] = kept;
      }
    });
  }
  // No holding is left for a thread that is gone, nor any of a line count or bytes below zero.
  const stray = await store.sql`SELECT thread, account FROM thread_holdings h WHERE entries < 0 OR messages < 0 OR bytes < 0
    OR (entries <> 0 AND NOT EXISTS (SELECT 1 FROM threads t WHERE t.title = h.thread))`;
  expect(stray).toEqual([]);
  return { read, counted };
};

