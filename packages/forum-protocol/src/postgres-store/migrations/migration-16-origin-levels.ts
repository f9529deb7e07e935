import { ORIGIN_LEVELS_FUNCTION, originCounterStatements } from '../postgres-origin-counters.js';
import type { Migration } from './migration.js';

/**
 * Migration 16: the origin's levels (store/origin-shares.ts): an IPv6 origin is a /64, and one customer's /56 or /48 is
 * 256 or 65,536 of them, each with its own bound; so an account of origin /64 X also counts against X's /56 and
 * /48, with 4 and 16 times the bound (rudp's `hostLevels`). The same counter tables, keyed by level: an
 * origin's row stays its own level's (a server of schema 15 still running reads it right, and counts no wider
 * level), and rows of /56 and /48 keys (`…::/56`, `…::/48`, never an origin's) join them. The levels are derived
 * from the recorded origin by `forum_origin_levels` in the triggers, whichever server writes, so nothing more is
 * kept per account. Refilled here from the per-account counters under their tables' lock, as schema 15 filled
 * them; the triggers' function is replaced to count every level (its rows in the levels' order, as before the
 * origins'). May run again.
 */
export const migration16: Migration = [
  ORIGIN_LEVELS_FUNCTION,
  `LOCK TABLE creator_thread_counts, uploader_bytes IN EXCLUSIVE MODE`,
  `DELETE FROM origin_threads`,
  `INSERT INTO origin_threads (origin, threads)
     SELECT l.level, sum(c.threads) FROM accounts a JOIN creator_thread_counts c ON c.creator = a.username
     CROSS JOIN LATERAL unnest(forum_origin_levels(a.origin)) AS l(level) WHERE a.origin IS NOT NULL GROUP BY l.level`,
  `DELETE FROM origin_upload_bytes`,
  `INSERT INTO origin_upload_bytes (origin, bytes)
     SELECT l.level, sum(b.bytes) FROM accounts a JOIN uploader_bytes b ON b.uploader = a.username
     CROSS JOIN LATERAL unnest(forum_origin_levels(a.origin)) AS l(level) WHERE a.origin IS NOT NULL GROUP BY l.level`,
  ...originCounterStatements({ table: 'creator_thread_counts', account: 'creator', amount: 'threads', origins: 'origin_threads' }, true),
  ...originCounterStatements({ table: 'uploader_bytes', account: 'uploader', amount: 'bytes', origins: 'origin_upload_bytes' }, true),
];
