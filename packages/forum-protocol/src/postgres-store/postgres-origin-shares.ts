/**
 * What the accounts of one origin hold together in PostgreSQL (store/origin-shares.ts, attack round 30): their
 * threads and their uploads' bytes, summed from the per-account counters (`creator_thread_counts`, schema 4;
 * `uploader_bytes`, schema 14) over the origin's accounts, found by schema 15's index on `accounts.origin`.
 * A sum, not a counter of its own: an account's origin is written once, with the account, so no counter would
 * need moving between origins, and the sum reads one index entry and one counter row an account of the origin,
 * whose number the account-creation limit bounds (10 a host every 10 minutes by default; `--max-accounts` too).
 *
 * Each check holds an advisory lock of the origin, taken after the per-account lock the same check already
 * holds (CRT's slot, the upload share's account lock) and held to its commit: two accounts of one origin never
 * count at once on any servers, so they never pass the bound together. An account of no origin takes no lock.
 */
import type { Sql, TransactionSql } from 'postgres';

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

/** The threads the accounts of `origin` created, summed from their counters. */
export const originThreads = async (q: Sql | TransactionSql, origin: string): Promise<number> => {
  const rows = await q<{ threads: number }[]>`
    SELECT COALESCE(sum(c.threads), 0)::int AS threads FROM accounts a JOIN creator_thread_counts c ON c.creator = a.username WHERE a.origin = ${origin}`;
  return rows[0]?.threads ?? 0;
};

/** The bytes the uploads of the accounts of `origin` hold (committed and pending), summed from their counters. */
export const originUploadBytes = async (q: Sql | TransactionSql, origin: string): Promise<number> => {
  const rows = await q<{ bytes: string }[]>`
    SELECT COALESCE(sum(b.bytes), 0)::text AS bytes FROM accounts a JOIN uploader_bytes b ON b.uploader = a.username WHERE a.origin = ${origin}`;
  return Number(rows[0]?.bytes ?? 0);
};

/** The origin `account` records, if any (read without a lock: for the checks made before a write, which the write's own check repeats). */
export const originOf = async (q: Sql | TransactionSql, account: string): Promise<string | undefined> => {
  const rows = await q<{ origin: string | null }[]>`SELECT origin FROM accounts WHERE username = ${account}`;
  return rows[0]?.origin ?? undefined;
};
