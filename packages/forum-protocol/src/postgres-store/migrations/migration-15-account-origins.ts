import { originCounterStatements } from '../postgres-origin-counters.js';
import type { Migration } from './migration.js';

/**
 * Migration 15: each account's origin, the host that created it (store/origin-shares.ts, attack round 30): the accounts
 * of one origin hold together a few accounts' shares of the threads and of the uploads' room. Nullable, no
 * default: a metadata change, and the accounts already there, and those a server of schema 14 still running
 * creates (it inserts `username, secret`), have none: each its own group, as before. What an origin's accounts
 * hold is kept in counters (`origin_threads`, `origin_upload_bytes`) by triggers on the per-account counters
 * (`creator_thread_counts`, schema 4; `uploader_bytes`, schema 14), in the statement that changes those, on any
 * server: a sum over the origin's accounts at each CRT and chunk cost 14 ms at 1,000 accounts of one origin,
 * 140 ms at 10,000, 1 s at 100,000 (one address's 10 every 10 minutes for 70 days). Two tables, not one row with
 * both: a change of many accounts' bytes (RMV's cascade, the sweep) takes the upload rows of their origins in
 * one statement, in the origins' order, and its thread's creator's thread row after, so no two such changes
 * take two origins' rows in opposite orders. Each counter row is taken after its account's (the statement on
 * the account's row fires the trigger) and before the forum's (`upload_bytes`, `thread_counts`), the order
 * every writer already takes those in. An account's origin is written once, with the account, so no count moves
 * between origins; lines of a name that had counts before its account was made are not its origin's. Filled
 * here from the per-account counters under their tables' lock (nothing to fill on a first run: no account has
 * an origin yet). May run again.
 */
export const migration15: Migration = [
  `ALTER TABLE accounts ADD COLUMN IF NOT EXISTS origin text`,
  `CREATE INDEX IF NOT EXISTS accounts_origin ON accounts (origin) WHERE origin IS NOT NULL`,
  `LOCK TABLE creator_thread_counts, uploader_bytes IN EXCLUSIVE MODE`,
  `CREATE TABLE IF NOT EXISTS origin_threads (origin text PRIMARY KEY, threads integer NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS origin_upload_bytes (origin text PRIMARY KEY, bytes bigint NOT NULL)`,
  `DELETE FROM origin_threads`,
  `INSERT INTO origin_threads (origin, threads)
     SELECT a.origin, sum(c.threads) FROM accounts a JOIN creator_thread_counts c ON c.creator = a.username WHERE a.origin IS NOT NULL GROUP BY a.origin`,
  `DELETE FROM origin_upload_bytes`,
  `INSERT INTO origin_upload_bytes (origin, bytes)
     SELECT a.origin, sum(b.bytes) FROM accounts a JOIN uploader_bytes b ON b.uploader = a.username WHERE a.origin IS NOT NULL GROUP BY a.origin`,
  // A statement's change of the per-account counters (its new rows less its old ones), summed by origin.
  ...originCounterStatements({ table: 'creator_thread_counts', account: 'creator', amount: 'threads', origins: 'origin_threads' }),
  ...originCounterStatements({ table: 'uploader_bytes', account: 'uploader', amount: 'bytes', origins: 'origin_upload_bytes' }),
];
