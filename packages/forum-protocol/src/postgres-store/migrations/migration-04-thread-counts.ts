import type { Migration } from './migration.js';

/**
 * Migration 4: thread counts for CRT's limits, so that a CRT reads a few counters instead of counting every thread;
 * an index of each thread's messages, so that EDT and DLT find message n without reading the thread.
 * Triggers keep them, in the transaction that inserts or deletes the thread: exact whichever server writes,
 * a server of schema 3 too (it inserts threads without knowing of them). Forum-wide, the count is striped
 * over 64 rows by the creator's hash, as CRT's slot locks are (postgres-create-thread.ts): CRTs of two
 * slots never wait for one counter row. Every statement may run again (IF NOT EXISTS, refilled from the threads).
 */
export const migration4: Migration = [
  // No thread or line is written between the fills and the triggers taking over (writers lock threads first).
  `LOCK TABLE threads, entries IN EXCLUSIVE MODE`,
  `CREATE TABLE IF NOT EXISTS thread_counts (stripe integer PRIMARY KEY, threads integer NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS creator_thread_counts (creator text PRIMARY KEY, threads integer NOT NULL)`,
  `CREATE OR REPLACE FUNCTION forum_count_thread() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     DECLARE
       change integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
       who text := CASE TG_OP WHEN 'INSERT' THEN NEW.creator ELSE OLD.creator END;
     BEGIN
       INSERT INTO creator_thread_counts AS c (creator, threads) VALUES (who, change)
         ON CONFLICT (creator) DO UPDATE SET threads = c.threads + change;
       UPDATE thread_counts SET threads = threads + change WHERE stripe = hashtext(who) & 63;
       RETURN NULL;
     END $$`,
  `CREATE OR REPLACE TRIGGER threads_counted AFTER INSERT OR DELETE ON threads FOR EACH ROW EXECUTE FUNCTION forum_count_thread()`,
  `DELETE FROM thread_counts`,
  `INSERT INTO thread_counts (stripe, threads)
     SELECT s, COALESCE(n, 0) FROM generate_series(0, 63) s
     LEFT JOIN (SELECT hashtext(creator) & 63 AS stripe, count(*)::int AS n FROM threads GROUP BY 1) c ON c.stripe = s`,
  `DELETE FROM creator_thread_counts`,
  `INSERT INTO creator_thread_counts (creator, threads) SELECT creator, count(*)::int FROM threads GROUP BY creator`,
  // EDT and DLT find message n here: counting index entries, not reading the lines (postgres-change-message.ts).
  `CREATE INDEX IF NOT EXISTS entries_messages ON entries (thread, pos) WHERE kind = 'message'`,
  // Fences for a rolling upgrade (servers of an older schema still running on this database): their writes
  // that would break what this schema keeps are refused, rolled back whole, with an error saying why.
  // A server before schema 3 changes a thread's lines without its size: every server since writes the
  // thread's row in the transaction that changes its lines (checked at commit: the size is written last).
  `CREATE OR REPLACE FUNCTION forum_lines_with_size() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     DECLARE
       line_thread text := CASE TG_OP WHEN 'DELETE' THEN OLD.thread ELSE NEW.thread END;
     BEGIN
       -- A removed thread's lines go with it (ON DELETE CASCADE): no row left to check.
       IF EXISTS (SELECT 1 FROM threads WHERE title = line_thread AND xmin <> pg_current_xact_id()::xid) THEN
         RAISE EXCEPTION 'the lines of thread % changed without its size: a forum server older than schema 3 is still running on this database (stop it)', line_thread
           USING ERRCODE = 'object_not_in_prerequisite_state';
       END IF;
       RETURN NULL;
     END $$`,
  `DROP TRIGGER IF EXISTS entries_with_size ON entries`,
  `CREATE CONSTRAINT TRIGGER entries_with_size AFTER INSERT OR UPDATE OR DELETE ON entries
     DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION forum_lines_with_size()`,
  // A server whose CRT takes one lock of its own instead of CRT's gate (before the slot locks) would
  // count beside this schema's CRTs, not one after another, and could pass the thread limits. The gate is
  // CRT's lock (0x637274, -1), an oid in pg_locks (CREATE_LOCK_CLASS, GATE_KEY_OID in postgres-create-thread.ts).
  `CREATE OR REPLACE FUNCTION forum_created_under_gate() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
                      AND classid = 6517364 AND objid = 4294967295 AND objsubid = 2) THEN
         RAISE EXCEPTION 'thread % was created without the CRT gate lock: a forum server older than schema 3 is still running on this database (stop it)', NEW.title
           USING ERRCODE = 'object_not_in_prerequisite_state';
       END IF;
       RETURN NULL;
     END $$`,
  `CREATE OR REPLACE TRIGGER threads_created_under_gate AFTER INSERT ON threads FOR EACH ROW EXECUTE FUNCTION forum_created_under_gate()`,
];
