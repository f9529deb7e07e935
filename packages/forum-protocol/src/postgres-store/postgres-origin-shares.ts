/**
 * What the accounts of one origin hold together in PostgreSQL (store/origin-shares.ts, attack round 30), and
 * those of each wider level of it (an IPv6 origin's /56 and /48, schema 16): their threads and their uploads'
 * bytes, read from the levels' counters (`origin_threads`, `origin_upload_bytes`, keyed by level), which
 * triggers keep from the per-account counters (`creator_thread_counts`, `uploader_bytes`) in the statement that
 * changes those, whichever server writes: one row a level read, however many accounts the level has (a sum over
 * them cost 140 ms at 10,000 accounts of one origin, 1 s at 100,000).
 *
 * Each check holds an advisory lock of each level, finest first, taken after the per-account lock the same
 * check already holds (CRT's slot, the upload share's account lock) and before the forum's, held to its
 * commit: two accounts of one level never count at once on any servers, so they never pass its bound
 * together. Every transaction takes them in the order account, origin (/64), /56, /48, forum, so none waits for
 * another in a cycle. An account of no origin takes no lock.
 */
import type { Sql, TransactionSql } from 'postgres';
import { IPV6_PREFIX_MULTIPLE } from 'rudpx/core';
import { type LevelPassed, levelMultiple, levelPassed, originOverLimitWarning } from '../store/origin-shares.js';

/** Class of the origin's CRT lock ("ocr"): a CRT by an account of the origin holds it until it ends. */
export const ORIGIN_CREATE_LOCK_CLASS = 0x6f6372;

/** Class of the origin's upload-share lock ("oup"): a chunk's transaction by an account of the origin holds it until it ends. */
export const ORIGIN_UPLOAD_LOCK_CLASS = 0x6f7570;

/** One level of an account's origin as the database keys it (`forum_origin_levels`), what its accounts hold, and its multiple of the bound. */
export interface LevelHeld {
  readonly key: string;
  readonly multiple: number;
  readonly held: number;
}

// The most levels an origin has: itself, and an IPv6 origin's coarser prefixes (rudp's).
const MAX_LEVELS = 1 + Object.keys(IPV6_PREFIX_MULTIPLE).length;

/**
 * Locks every level of the origin of `account` in lock class `lockClass` (until the transaction ends), finest
 * first (the origin, its /56, its /48: every transaction takes them in that order, after its account's lock
 * and before the forum's, so none waits in a cycle), and answers the origin, or `undefined` (no lock taken)
 * for an account with none, or no account row. One statement a level, pipelined: one round trip, run in order.
 */
export const lockOriginOf = async (tx: TransactionSql, lockClass: number, account: string): Promise<string | undefined> => {
  const [rows] = await Promise.all([
    tx<{ origin: string }[]>`
      SELECT origin, pg_advisory_xact_lock(${lockClass}, hashtext(origin)) AS locked FROM accounts WHERE username = ${account} AND origin IS NOT NULL`,
    ...Array.from({ length: MAX_LEVELS - 1 }, (_, i) => tx`
      SELECT pg_advisory_xact_lock(${lockClass}, hashtext(l[${i + 2}])) FROM (SELECT forum_origin_levels(origin) AS l FROM accounts WHERE username = ${account} AND origin IS NOT NULL) s
      WHERE cardinality(l) >= ${i + 2}`),
  ]);
  return rows[0]?.origin;
};

/** `rows`, the levels of an origin (in `forum_origin_levels`' order) with what each holds, as {@link LevelHeld}s. */
const levelsHeld = (rows: readonly { readonly level: string; readonly held: string }[]): readonly LevelHeld[] =>
  rows.map((r) => ({ key: r.level, multiple: levelMultiple(r.level), held: Number(r.held) }));

/** The threads the accounts of each level of `account`'s origin created and have not removed (`origin_threads`), finest first; none for an account of no origin. */
export const originLevelThreads = async (q: Sql | TransactionSql, account: string): Promise<readonly LevelHeld[]> =>
  levelsHeld(
    await q<{ level: string; held: string }[]>`
      SELECT l.level, COALESCE(o.threads, 0)::text AS held FROM accounts a
      CROSS JOIN LATERAL unnest(forum_origin_levels(a.origin)) WITH ORDINALITY AS l(level, i)
      LEFT JOIN origin_threads o ON o.origin = l.level WHERE a.username = ${account} AND a.origin IS NOT NULL ORDER BY l.i`,
  );

/** The bytes the uploads of the accounts of each level of `account`'s origin hold, committed and pending (`origin_upload_bytes`), finest first; none for an account of no origin. */
export const originLevelUploadBytes = async (q: Sql | TransactionSql, account: string): Promise<readonly LevelHeld[]> =>
  levelsHeld(
    await q<{ level: string; held: string }[]>`
      SELECT l.level, COALESCE(o.bytes, 0)::text AS held FROM accounts a
      CROSS JOIN LATERAL unnest(forum_origin_levels(a.origin)) WITH ORDINALITY AS l(level, i)
      LEFT JOIN origin_upload_bytes o ON o.origin = l.level WHERE a.username = ${account} AND a.origin IS NOT NULL ORDER BY l.i`,
  );

/**
 * Locks the levels of the origin of `account` in the upload-share class ({@link lockOriginOf}) and answers what
 * each level's accounts' uploads hold ({@link originLevelUploadBytes}), in one round trip (a chunk paid two more
 * one after the other); none for an account of no origin. Statements pipelined, not one: a statement's snapshot
 * is taken at its start under READ COMMITTED, before a lock it waits for within it is granted, so
 * `SELECT pg_advisory_xact_lock(…), (SELECT bytes …)` would read the counter as it was before the chunk that
 * held the lock committed, and two accounts of the origin would pass the bound together (measured: 15 of
 * `postgres-origin-shares.test.ts`'s 16 one-chunk uploads committed against a bound of 8). The read, the next
 * statement on the connection, starts once the locks' statements have ended: its snapshot holds every chunk
 * that held them before. It finds the origin from the account (an account's origin never changes), so it need
 * not wait for the locks' answer to be sent.
 */
export const lockOriginUploadBytes = async (tx: TransactionSql, account: string): Promise<readonly LevelHeld[]> => {
  const [, levels] = await Promise.all([lockOriginOf(tx, ORIGIN_UPLOAD_LOCK_CLASS, account), originLevelUploadBytes(tx, account)]);
  return levels;
};

/**
 * The first of `levels` (finest first) whose accounts' holding would pass its bound (`bound` times its
 * multiple) by growing `growth` (`levelPassed`), or `undefined`.
 */
export const levelHeldPassed = (levels: readonly LevelHeld[], growth: number, bound: number | undefined): LevelPassed | undefined => {
  const held = new Map(levels.map((l) => [l.key, l.held]));
  return levelPassed(levels, (key) => held.get(key) ?? 0, growth, bound);
};

/** The recount of the level counters (`origin_threads`, `origin_upload_bytes`) from the per-account counters, by level key, for tests to check the counters by. */
export const ORIGIN_RECOUNT = `
  SELECT l.level AS origin, COALESCE(sum(c.threads), 0)::int AS threads, COALESCE(sum(b.bytes), 0)::text AS bytes
  FROM accounts a LEFT JOIN creator_thread_counts c ON c.creator = a.username LEFT JOIN uploader_bytes b ON b.uploader = a.username
  CROSS JOIN LATERAL unnest(forum_origin_levels(a.origin)) AS l(level)
  WHERE a.origin IS NOT NULL GROUP BY l.level ORDER BY l.level`;

/** The origin `account` records, if any (read without a lock: for the checks made before a write, which the write's own check repeats). */
export const originOf = async (q: Sql | TransactionSql, account: string): Promise<string | undefined> => {
  const rows = await q<{ origin: string | null }[]>`SELECT origin FROM accounts WHERE username = ${account}`;
  return rows[0]?.origin ?? undefined;
};

/**
 * What the open says of origin levels already past their bound (the bound lowered since; store/origin-shares.ts
 * `originOverLimitWarning`): of the threads (`origin_threads`) and of the uploads' bytes (`origin_upload_bytes`,
 * pending uploads' included), each a scan of the counter rows, one per origin level, once per open. A row's
 * bound is `bound` times its level's multiple (a /56's and a /48's from rudp's `IPV6_PREFIX_MULTIPLE`, as
 * `levelMultiple` gives them); the one named is the furthest past its own. `undefined`: no bound.
 */
export const originOverLimitWarnings = async (sql: Sql, bounds: { readonly threads: number | undefined; readonly uploadBytes: number | undefined }): Promise<string[]> => {
  const worst = async (table: 'origin_threads' | 'origin_upload_bytes', column: 'threads' | 'bytes', bound: number): Promise<{ readonly origin: string; readonly held: string; readonly limit: string; readonly over: number } | undefined> => {
    const rows = await sql<{ origin: string; held: string; limit: string; over: number }[]>`
      SELECT origin, held::text AS held, lim::text AS limit, (count(*) OVER ())::int AS over FROM (
        SELECT origin, ${sql(column)}::numeric AS held, ${bound}::numeric * (CASE WHEN origin LIKE '%::/56' THEN ${IPV6_PREFIX_MULTIPLE[56]} WHEN origin LIKE '%::/48' THEN ${IPV6_PREFIX_MULTIPLE[48]} ELSE 1 END) AS lim
        FROM ${sql(table)} WHERE ${sql(column)} > ${bound}) r
      WHERE held > lim ORDER BY held - lim DESC, origin LIMIT 1`;
    return rows[0];
  };
  const warnings: string[] = [];
  if (bounds.threads !== undefined) {
    const w = await worst('origin_threads', 'threads', bounds.threads);
    if (w !== undefined) warnings.push(originOverLimitWarning(w.over, w.origin, w.held, 'threads', Number(w.limit), 'a CRT of any of them is refused until RMV brings them under it'));
  }
  if (bounds.uploadBytes !== undefined) {
    const w = await worst('origin_upload_bytes', 'bytes', bounds.uploadBytes);
    if (w !== undefined) warnings.push(originOverLimitWarning(w.over, w.origin, w.held, 'bytes of uploads', Number(w.limit), 'an UPD of any of them is refused until RMV brings them under it'));
  }
  return warnings;
};
