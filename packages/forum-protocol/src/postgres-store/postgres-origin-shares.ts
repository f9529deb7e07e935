/**
 * What the accounts of one origin hold together in PostgreSQL (store/origin-shares.ts, attack round 30): their
 * threads and their uploads' bytes, read from the origin's counters (`origin_threads`, `origin_upload_bytes`,
 * schema 15), which triggers keep from the per-account counters (`creator_thread_counts`, `uploader_bytes`) in
 * the statement that changes those, whichever server writes: one row read, however many accounts the origin
 * has (a sum over them cost 140 ms at 10,000 accounts of one origin, 1 s at 100,000).
 *
 * Each check holds an advisory lock of the origin, taken after the per-account lock the same check already
 * holds (CRT's slot, the upload share's account lock) and held to its commit: two accounts of one origin never
 * count at once on any servers, so they never pass the bound together. An account of no origin takes no lock.
 */
import type { Sql, TransactionSql } from 'postgres';
import { originOverLimitWarning } from '../store/origin-shares.js';

/** Class of the origin's CRT lock ("ocr"): a CRT by an account of the origin holds it until it ends. */
export const ORIGIN_CREATE_LOCK_CLASS = 0x6f6372;

/** Class of the origin's upload-share lock ("oup"): a chunk's transaction by an account of the origin holds it until it ends. */
export const ORIGIN_UPLOAD_LOCK_CLASS = 0x6f7570;

/**
 * Locks the origin of `account` in lock class `lockClass` (until the transaction ends) and answers the
 * origin, or `undefined` (no lock taken) for an account with none, or no account row.
 */
export const lockOriginOf = async (tx: TransactionSql, lockClass: number, account: string): Promise<string | undefined> => {
  const rows = await tx<{ origin: string }[]>`
    SELECT origin, pg_advisory_xact_lock(${lockClass}, hashtext(origin)) AS locked FROM accounts WHERE username = ${account} AND origin IS NOT NULL`;
  return rows[0]?.origin;
};

/** The threads the accounts of `origin` created and have not removed (`origin_threads`). */
export const originThreads = async (q: Sql | TransactionSql, origin: string): Promise<number> => {
  const rows = await q<{ threads: number }[]>`SELECT threads FROM origin_threads WHERE origin = ${origin}`;
  return rows[0]?.threads ?? 0;
};

/** The bytes the uploads of the accounts of `origin` hold, committed and pending (`origin_upload_bytes`). */
export const originUploadBytes = async (q: Sql | TransactionSql, origin: string): Promise<number> => {
  const rows = await q<{ bytes: string }[]>`SELECT bytes::text AS bytes FROM origin_upload_bytes WHERE origin = ${origin}`;
  return Number(rows[0]?.bytes ?? 0);
};

/**
 * Locks the origin of `account` in the upload-share class ({@link lockOriginOf}) and answers what its accounts'
 * uploads hold ({@link originUploadBytes}), in one round trip (a chunk paid two more one after the other), or
 * `undefined` for an account of no origin. Two statements pipelined, not one: a statement's snapshot is taken
 * at its start under READ COMMITTED, before a lock it waits for within it is granted, so
 * `SELECT pg_advisory_xact_lock(…), (SELECT bytes …)` would read the counter as it was before the chunk that
 * held the lock committed, and two accounts of the origin would pass the bound together (measured: 15 of
 * `postgres-origin-shares.test.ts`'s 16 one-chunk uploads committed against a bound of 8). The read, the next
 * statement on the connection, starts once the lock's statement has ended: its snapshot holds every chunk that
 * held the lock before. It finds the origin from the account (an account's origin never changes), so it need
 * not wait for the lock's answer to be sent.
 */
export const lockOriginUploadBytes = async (tx: TransactionSql, account: string): Promise<{ readonly origin: string; readonly bytes: number } | undefined> => {
  const [origin, rows] = await Promise.all([
    lockOriginOf(tx, ORIGIN_UPLOAD_LOCK_CLASS, account),
    tx<{ bytes: string }[]>`
      SELECT o.bytes::text AS bytes FROM accounts a JOIN origin_upload_bytes o ON o.origin = a.origin WHERE a.username = ${account}`,
  ]);
  return origin === undefined ? undefined : { origin, bytes: Number(rows[0]?.bytes ?? 0) };
};

/** The recount of {@link originThreads} and {@link originUploadBytes} from the per-account counters, for tests to check the counters by. */
export const ORIGIN_RECOUNT = `
  SELECT a.origin, COALESCE(sum(c.threads), 0)::int AS threads, COALESCE(sum(b.bytes), 0)::text AS bytes
  FROM accounts a LEFT JOIN creator_thread_counts c ON c.creator = a.username LEFT JOIN uploader_bytes b ON b.uploader = a.username
  WHERE a.origin IS NOT NULL GROUP BY a.origin ORDER BY a.origin`;

/** The origin `account` records, if any (read without a lock: for the checks made before a write, which the write's own check repeats). */
export const originOf = async (q: Sql | TransactionSql, account: string): Promise<string | undefined> => {
  const rows = await q<{ origin: string | null }[]>`SELECT origin FROM accounts WHERE username = ${account}`;
  return rows[0]?.origin ?? undefined;
};

/**
 * What the open says of origins already past their bound (the bound lowered since; store/origin-shares.ts
 * `originOverLimitWarning`): of the threads (`origin_threads`) and of the uploads' bytes (`origin_upload_bytes`,
 * pending uploads' included), each a scan of the counter rows, one per origin, once per open. `undefined`: no bound.
 */
export const originOverLimitWarnings = async (sql: Sql, bounds: { readonly threads: number | undefined; readonly uploadBytes: number | undefined }): Promise<string[]> => {
  const worst = async (table: 'origin_threads' | 'origin_upload_bytes', column: 'threads' | 'bytes', bound: number): Promise<{ readonly origin: string; readonly held: string; readonly over: number } | undefined> => {
    const rows = await sql<{ origin: string; held: string; over: number }[]>`
      SELECT origin, ${sql(column)}::text AS held, (count(*) OVER ())::int AS over FROM ${sql(table)}
      WHERE ${sql(column)} > ${bound} ORDER BY ${sql(column)} DESC, origin LIMIT 1`;
    return rows[0];
  };
  const warnings: string[] = [];
  if (bounds.threads !== undefined) {
    const w = await worst('origin_threads', 'threads', bounds.threads);
    if (w !== undefined) warnings.push(originOverLimitWarning(w.over, w.origin, w.held, 'threads', bounds.threads, 'a CRT of any of them is refused until RMV brings them under it'));
  }
  if (bounds.uploadBytes !== undefined) {
    const w = await worst('origin_upload_bytes', 'bytes', bounds.uploadBytes);
    if (w !== undefined) warnings.push(originOverLimitWarning(w.over, w.origin, w.held, 'bytes of uploads', bounds.uploadBytes, 'an UPD of any of them is refused until RMV brings them under it'));
  }
  return warnings;
};
