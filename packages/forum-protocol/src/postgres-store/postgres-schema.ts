import postgres, { type Sql } from 'postgres';
import { ORIGIN_LEVELS_FUNCTION, originCounterStatements } from './postgres-origin-counters.js';

/**
 * The forum's tables, one migration per schema version. Migration N brings
 * version N-1 to N; the applied version is kept in `forum_schema`. Never edit
 * a migration that has shipped: append the next one.
 */
const MIGRATIONS: readonly (readonly string[])[] = [
  // 1: accounts, threads and their lines, uploads in chunks, session leases, transfer tokens.
  [
    `CREATE TABLE accounts (username text PRIMARY KEY, secret text NOT NULL)`,
    `CREATE TABLE threads (title text PRIMARY KEY, creator text NOT NULL)`,
    // One row per line after the creator line; messages are numbered by their order (pos), as in the thread file.
    // message: author + text; upload: author = uploader, body = file name; other: body = the verbatim line.
    `CREATE TABLE entries (
       thread text NOT NULL REFERENCES threads (title) ON DELETE CASCADE,
       pos bigint NOT NULL,
       kind text NOT NULL CHECK (kind IN ('message', 'upload', 'other')),
       author text NOT NULL,
       body text NOT NULL,
       PRIMARY KEY (thread, pos))`,
    // An upload is pending (invisible) until its commit sets committed and adds the thread's line, in one transaction.
    `CREATE TABLE uploads (
       id bigserial PRIMARY KEY,
       thread text NOT NULL REFERENCES threads (title) ON DELETE CASCADE,
       filename text NOT NULL,
       uploader text NOT NULL,
       size bigint NOT NULL DEFAULT 0,
       committed boolean NOT NULL DEFAULT false,
       touched_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE UNIQUE INDEX uploads_committed_name ON uploads (thread, filename) WHERE committed`,
    `CREATE TABLE upload_chunks (
       upload_id bigint NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
       seq integer NOT NULL,
       data bytea NOT NULL,
       PRIMARY KEY (upload_id, seq))`,
    // One live session per account across servers; a lease not renewed by its server's heartbeat expires.
    `CREATE TABLE session_leases (
       username text PRIMARY KEY,
       server_id text NOT NULL,
       connection_key text NOT NULL,
       expires_at timestamptz NOT NULL)`,
    `CREATE INDEX session_leases_server ON session_leases (server_id)`,
    // Single-use UPD/DWN tokens, redeemable on any server; expires_at is ms since the epoch.
    `CREATE TABLE transfer_tokens (
       token text PRIMARY KEY,
       direction text NOT NULL CHECK (direction IN ('upload', 'download')),
       thread text NOT NULL,
       filename text NOT NULL,
       username text NOT NULL,
       expires_at bigint NOT NULL)`,
    `CREATE INDEX transfer_tokens_user ON transfer_tokens (username)`,
    `CREATE INDEX transfer_tokens_expiry ON transfer_tokens (expires_at)`,
  ],
  // 2: a token carries its transfer's keys (derived by the issuing server from the client's rudp session,
  // which the redeeming server does not have). Tokens of version 1 have no keys and live seconds: drop them.
  [`DELETE FROM transfer_tokens`, `ALTER TABLE transfer_tokens ADD COLUMN keys bytea NOT NULL`],
  // 3: a thread's size (thread-size.ts) kept on its row, in the transaction that changes its lines, so that
  // a MSG checks the thread's limits without reading its lines. Filled here for the threads already written:
  // reply_bytes is the RDT reply's lines as a JSON array (to_json escapes as JSON.stringify does, for any
  // text PostgreSQL can hold), each line with a comma, and 2 for the brackets.
  [
    `ALTER TABLE threads
       ADD COLUMN entry_count integer NOT NULL DEFAULT 0,
       ADD COLUMN message_count integer NOT NULL DEFAULT 0,
       ADD COLUMN reply_bytes bigint NOT NULL DEFAULT 2`,
    `UPDATE threads t SET entry_count = s.entries, message_count = s.messages, reply_bytes = 2 + s.bytes
     FROM (
       SELECT thread, count(*) AS entries, count(*) FILTER (WHERE kind = 'message') AS messages,
              sum(octet_length(to_json(CASE kind
                WHEN 'message' THEN n || ' ' || author || ': ' || body
                WHEN 'upload' THEN author || ' uploaded ' || body
                ELSE body END)::text) + 1) AS bytes
       FROM (SELECT thread, kind, author, body, count(*) FILTER (WHERE kind = 'message') OVER (PARTITION BY thread ORDER BY pos) AS n FROM entries) numbered
       GROUP BY thread) s
     WHERE t.title = s.thread`,
  ],
  // 4: thread counts for CRT's limits, so that a CRT reads a few counters instead of counting every thread;
  // an index of each thread's messages, so that EDT and DLT find message n without reading the thread.
  // Triggers keep them, in the transaction that inserts or deletes the thread: exact whichever server writes,
  // a server of schema 3 too (it inserts threads without knowing of them). Forum-wide, the count is striped
  // over 64 rows by the creator's hash, as CRT's slot locks are (postgres-create-thread.ts): CRTs of two
  // slots never wait for one counter row. Every statement may run again (IF NOT EXISTS, refilled from the threads).
  [
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
  ],
  // 5: a thread's identity apart from its title. RMV frees a title and CRT may take it again at once: an UPD
  // token now names the thread row it was granted for (thread_id), so that its upload cannot land in a later
  // thread of the title, however late its bytes come. The id comes from a sequence, so no two threads (of one
  // title or not) ever share one; the threads already written are numbered here. A server of schema 4 still
  // running writes threads without naming the id (the default numbers them) and tokens without thread_id: a
  // server of this schema refuses such an upload token as invalid (it lives 60 s; the client asks again).
  // Both ALTERs take their table's exclusive lock: the old servers' writes wait for the migration. Each may
  // run again (IF NOT EXISTS), as migration 4's statements may, on a database marked older with its tables in place.
  [`ALTER TABLE threads ADD COLUMN IF NOT EXISTS id bigserial`, `ALTER TABLE transfer_tokens ADD COLUMN IF NOT EXISTS thread_id bigint`],
  // 6: the login throttle's and account creation's counts (postgres-throttles.ts), and each user's uploads
  // in progress (postgres-upload-slots.ts), shared by every server
  // instead of each counting in its memory (3 servers let 15 passwords of one account be checked in a
  // minute where 5 are allowed). One row per attempt and sliding window (log) it counts in: `pending`
  // while in flight, then kept (counted) or deleted. Times are ms of the database's clock (`now_ms` NULL;
  // a caller's clock only in tests): a server whose clock ran ahead would otherwise sweep, and not count,
  // the rows the others still count (one 2 minutes fast let 15 wrong passwords of one account pass in
  // 300 ms). A row is swept once its window has passed (expires_at). Each function is one statement, so one round trip: reserve
  // locks every (log, key) it counts in, in one order (no deadlock), counts, and inserts only if no log is
  // full, so a key never holds more rows than its limit within a window. Schema 5 servers still running
  // keep counting in their memory: each of them adds its own limits, as before. May run again (IF NOT EXISTS).
  [
    `CREATE TABLE IF NOT EXISTS limit_events (
       attempt bigint NOT NULL,
       log text NOT NULL,
       key text NOT NULL,
       at bigint NOT NULL,
       expires_at bigint NOT NULL,
       pending boolean NOT NULL,
       PRIMARY KEY (attempt, log))`,
    `CREATE INDEX IF NOT EXISTS limit_events_key ON limit_events (log, key, at)`,
    `CREATE INDEX IF NOT EXISTS limit_events_expiry ON limit_events (expires_at)`,
    `CREATE SEQUENCE IF NOT EXISTS limit_attempts`,
    // The wait of a full log is until its max-th newest row leaves the window, as SlidingWindowLog's; of the
    // full logs, those of the lowest group answer (login: failures before checks), with their longest wait,
    // and which full log is full on counted rows alone (1-based), and until when, so that a server can refuse
    // that log's key without asking again until then (postgres-throttles.ts). Not a log full only with
    // attempts in flight: those that end otherwise than counted free their slots at once.
    // A sweep of at most 64 expired rows (skipping rows another call holds) outpaces the at most 8 a call adds.
    `CREATE OR REPLACE FUNCTION forum_limit_reserve(logs text[], keys text[], maxes integer[], windows bigint[], groups integer[], now_ms bigint,
       OUT attempt bigint, OUT blocked_group integer, OUT wait_ms bigint, OUT known_entry integer, OUT known_wait_ms bigint)
     LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     DECLARE
       lock_key integer;
       i integer;
       nth bigint;
       w bigint;
     BEGIN
       now_ms := coalesce(now_ms, (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
       FOR lock_key IN SELECT DISTINCT hashtext(u.l || ' ' || u.k) FROM unnest(logs, keys) AS u(l, k) ORDER BY 1 LOOP
         PERFORM pg_advisory_xact_lock(7105636, lock_key); -- 0x6c6c64 "lld"
       END LOOP;
       FOR i IN 1 .. coalesce(array_length(logs, 1), 0) LOOP
         SELECT e.at INTO nth FROM limit_events e WHERE e.log = logs[i] AND e.key = keys[i] AND e.at > now_ms - windows[i]
           ORDER BY e.at DESC OFFSET greatest(maxes[i], 1) - 1 LIMIT 1;
         IF FOUND THEN
           w := greatest(1, nth + windows[i] - now_ms);
           IF blocked_group IS NULL OR groups[i] < blocked_group OR (groups[i] = blocked_group AND w > wait_ms) THEN
             blocked_group := groups[i];
             wait_ms := w;
           END IF;
           SELECT e.at INTO nth FROM limit_events e WHERE e.log = logs[i] AND e.key = keys[i] AND e.at > now_ms - windows[i] AND NOT e.pending
             ORDER BY e.at DESC OFFSET greatest(maxes[i], 1) - 1 LIMIT 1;
           IF FOUND THEN
             w := greatest(1, nth + windows[i] - now_ms);
             IF known_wait_ms IS NULL OR w > known_wait_ms THEN
               known_entry := i;
               known_wait_ms := w;
             END IF;
           END IF;
         END IF;
       END LOOP;
       DELETE FROM limit_events WHERE ctid IN (
         SELECT ctid FROM limit_events WHERE expires_at <= now_ms ORDER BY expires_at LIMIT 64 FOR UPDATE SKIP LOCKED);
       IF blocked_group IS NOT NULL THEN RETURN; END IF;
       attempt := nextval('limit_attempts');
       INSERT INTO limit_events (attempt, log, key, at, expires_at, pending)
         SELECT attempt, u.l, u.k, now_ms, now_ms + u.w, true FROM unnest(logs, keys, windows) AS u(l, k, w);
     END $$`,
    // Settles an attempt: its rows in `counted` stay (counted), the rest go; `forget_log`: that log's counted
    // rows of `forget_key` go too (a right password clears the account's failures; attempts in flight stay).
    `CREATE OR REPLACE FUNCTION forum_limit_settle(settled bigint, counted text[], forget_log text, forget_key text) RETURNS void
     LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     BEGIN
       UPDATE limit_events SET pending = false WHERE attempt = settled AND log = ANY (counted);
       DELETE FROM limit_events WHERE attempt = settled AND pending;
       IF forget_log IS NOT NULL THEN
         DELETE FROM limit_events WHERE log = forget_log AND key = forget_key AND NOT pending;
       END IF;
     END $$`,
    // Each user's uploads in progress over every server (postgres-upload-slots.ts), each a lease its server
    // renews (database time): a crashed server's go by themselves. Taken under a per-user lock, so a user
    // never holds more than per_user live rows; a user's lapsed rows go when it takes one, anyone's at renewals.
    `CREATE TABLE IF NOT EXISTS upload_slots (
       id bigserial PRIMARY KEY,
       username text NOT NULL,
       server_id text NOT NULL,
       expires_at timestamptz NOT NULL)`,
    `CREATE INDEX IF NOT EXISTS upload_slots_user ON upload_slots (username)`,
    `CREATE INDEX IF NOT EXISTS upload_slots_expiry ON upload_slots (expires_at)`,
    `CREATE OR REPLACE FUNCTION forum_upload_slot_take(who text, server text, per_user integer, lease_ms bigint) RETURNS bigint
     LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     DECLARE
       taken bigint;
     BEGIN
       PERFORM pg_advisory_xact_lock(7696492, hashtext(who)); -- 0x75706c "upl"
       DELETE FROM upload_slots WHERE username = who AND expires_at < now();
       IF (SELECT count(*) FROM upload_slots WHERE username = who) >= per_user THEN
         RETURN NULL;
       END IF;
       INSERT INTO upload_slots (username, server_id, expires_at) VALUES (who, server, now() + lease_ms * interval '1 millisecond')
         RETURNING id INTO taken;
       RETURN taken;
     END $$`,
  ],
  // 7: the bytes of every upload's chunks, committed or pending, in one row kept by triggers in the
  // transaction that inserts or deletes them (RMV's cascade included), so that a limit on what uploads may
  // hold in the database (`maxStoredUploadBytes`, postgres-upload.ts) is one row to read, not a sum of every
  // chunk, and holds over every server: a chunk's insert and the row's update commit together, and the row's
  // lock puts concurrent inserts one after another. Before, with --store nothing bounded the bytes uploads
  // held but each file's size: one account's 4 uploads at a time filled the database's disk. The count is
  // filled from the chunks under the table's lock (a server of schema 6 still running waits for it, then is
  // counted by the triggers too). May run again.
  [
    `LOCK TABLE upload_chunks IN EXCLUSIVE MODE`,
    `CREATE TABLE IF NOT EXISTS upload_bytes (id integer PRIMARY KEY CHECK (id = 1), bytes bigint NOT NULL)`,
    `DELETE FROM upload_bytes`,
    `INSERT INTO upload_bytes (id, bytes) SELECT 1, COALESCE(sum(octet_length(data)), 0) FROM upload_chunks`,
    // Statement triggers with the rows changed: a cascade deleting an upload's 4,096 chunks updates the row once.
    `CREATE OR REPLACE FUNCTION forum_count_upload_bytes() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     BEGIN
       IF TG_OP = 'INSERT' THEN
         UPDATE upload_bytes SET bytes = bytes + (SELECT COALESCE(sum(octet_length(data)), 0) FROM added);
       ELSE
         UPDATE upload_bytes SET bytes = bytes - (SELECT COALESCE(sum(octet_length(data)), 0) FROM removed);
       END IF;
       RETURN NULL;
     END $$`,
    `CREATE OR REPLACE TRIGGER upload_bytes_added AFTER INSERT ON upload_chunks REFERENCING NEW TABLE AS added
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_upload_bytes()`,
    `CREATE OR REPLACE TRIGGER upload_bytes_removed AFTER DELETE ON upload_chunks REFERENCING OLD TABLE AS removed
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_upload_bytes()`,
  ],
  // 8: an upload's row deleted (RMV's cascade, a discard, the sweep of stale uploads) no longer deletes its
  // chunks in the same transaction: its id goes to `doomed_uploads`, and each server's sweeper
  // (postgres-doomed-uploads.ts) deletes the chunks after, in small transactions. RMV of a thread holding
  // GiBs deleted every chunk before it answered (1 GiB: 2.4 to 5 s; from about 1.6 GiB past the client's
  // 8 s wait, the client said the server was unreachable while it went on deleting). The foreign key from
  // the chunks to their upload goes (it cascaded the deletion); a trigger keeps its check, raising the
  // foreign key's SQLSTATE as it did, so a chunk is never stored for a row already gone (a writer of any
  // schema reads that as its thread removed). A server of schema 7 still running keeps working: its RMV and
  // discards get the detached deletion too (through the trigger); its downloads in flight of a removed
  // thread's file on another server are not stopped until the sweeper deletes their chunks (from the last).
  // May run again.
  [
    `CREATE TABLE IF NOT EXISTS doomed_uploads (id bigint PRIMARY KEY, doomed_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE OR REPLACE FUNCTION forum_doom_upload_chunks() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     BEGIN
       INSERT INTO doomed_uploads (id) SELECT id FROM removed ON CONFLICT DO NOTHING;
       RETURN NULL;
     END $$`,
    `CREATE OR REPLACE TRIGGER uploads_doomed AFTER DELETE ON uploads REFERENCING OLD TABLE AS removed
     FOR EACH STATEMENT EXECUTE FUNCTION forum_doom_upload_chunks()`,
    // As the foreign key checked: the upload's row locked (KEY SHARE) until the chunk commits, so a deletion
    // of the row waits for it, and the chunk is in the table before its id is doomed.
    `CREATE OR REPLACE FUNCTION forum_chunk_of_live_upload() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     BEGIN
       PERFORM 1 FROM uploads WHERE id = NEW.upload_id FOR KEY SHARE;
       IF NOT FOUND THEN
         RAISE EXCEPTION 'upload % is gone (its thread was removed)', NEW.upload_id USING ERRCODE = 'foreign_key_violation';
       END IF;
       RETURN NEW;
     END $$`,
    `CREATE OR REPLACE TRIGGER upload_chunks_of_live_upload BEFORE INSERT OR UPDATE OF upload_id ON upload_chunks
     FOR EACH ROW EXECUTE FUNCTION forum_chunk_of_live_upload()`,
    `ALTER TABLE upload_chunks DROP CONSTRAINT IF EXISTS upload_chunks_upload_id_fkey`,
  ],
  // 9: the login throttle's and account creation's windows across a step of the database's clock back (NTP, a
  // resumed VM, an operator). A row dated after the clock's reading counted until the clock caught up with it,
  // so the step was added to the wait: 5 wrong passwords, the clock set back an hour, and the right one was
  // refused for 61 minutes (attack round 17, fixed for the memory limits in SlidingWindowLog, not here). Such a
  // row is now dated at the reading, under the key's lock, before it is counted: the key waits one window from
  // the step, as SlidingWindowLog's. Migration 6's function counts on, renamed; the new one clamps and calls it
  // (a server of schema 8 still running calls the new one too). May run again.
  [
    `DO $$ BEGIN
       IF to_regproc('forum_limit_reserve_counted') IS NULL THEN
         ALTER FUNCTION forum_limit_reserve(text[], text[], integer[], bigint[], integer[], bigint) RENAME TO forum_limit_reserve_counted;
       END IF;
     END $$`,
    // The locks are migration 6's, taken in its order (taken again there: an advisory lock is reentrant).
    `CREATE OR REPLACE FUNCTION forum_limit_reserve(logs text[], keys text[], maxes integer[], windows bigint[], groups integer[], now_ms bigint,
       OUT attempt bigint, OUT blocked_group integer, OUT wait_ms bigint, OUT known_entry integer, OUT known_wait_ms bigint)
     LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     DECLARE
       lock_key integer;
     BEGIN
       now_ms := coalesce(now_ms, (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
       FOR lock_key IN SELECT DISTINCT hashtext(u.l || ' ' || u.k) FROM unnest(logs, keys) AS u(l, k) ORDER BY 1 LOOP
         PERFORM pg_advisory_xact_lock(7105636, lock_key); -- 0x6c6c64 "lld"
       END LOOP;
       UPDATE limit_events e SET at = now_ms, expires_at = now_ms + u.w FROM unnest(logs, keys, windows) AS u(l, k, w)
         WHERE e.log = u.l AND e.key = u.k AND e.at > now_ms;
       SELECT r.attempt, r.blocked_group, r.wait_ms, r.known_entry, r.known_wait_ms INTO attempt, blocked_group, wait_ms, known_entry, known_wait_ms
         FROM forum_limit_reserve_counted(logs, keys, maxes, windows, groups, now_ms) AS r;
     END $$`,
  ],
  // 10: a transfer token names the session it was issued to (connection_key: the lease's, `Session.connectionKey`),
  // and a session's end revokes only its own tokens (postgres-tokens.ts). Before, it revoked every token of its
  // username: an account taken over (its lease lapsed, a new login on another server) had the new session's
  // tokens deleted by the old session's clean-up, and its upload or download refused. Nullable, no default: a
  // metadata change, and a server of schema 9 still running inserts tokens without it (NULL). Those stay
  // redeemable by any server (nothing a redeemer checks is missing); a schema 10 server's revocation never
  // matches them, their own server's revokes them by username as before. So while a schema 9 server runs, its
  // sessions' ends still revoke every token of their account, a schema 10 server's included (the old behaviour,
  // for the sessions it serves); a schema 10 server's ends revoke only their own. May run again.
  [`ALTER TABLE transfer_tokens ADD COLUMN IF NOT EXISTS connection_key text`],
  // 11: the throttle's functions after a step of the clock back (migration 9), when rows are dated in the future.
  // Settle took no lock of its keys: its UPDATE and DELETEs and a reserve's redating UPDATE on the same keys
  // locked the same rows in different orders (a settle forgetting an account's failures took its attempt's
  // rows, then the other attempts' failures; a reserve took the failures, then the checks), and PostgreSQL
  // ended one of the two after deadlock_timeout: a login refused with a store error, or a settle lost and its
  // rows left pending until they expire. Settle now takes the advisory locks of every key its attempt counts in,
  // and of the key it forgets, in the order reserve takes them, before any row: calls on a common key run
  // one after another, and a row is locked only under its key's lock (the sweep takes no row another holds).
  // A key listed twice in one reserve gets the longer of its windows (the shorter one's expiry would let the
  // sweep delete a row the longer window still counts), where the join picked either. The signatures stay:
  // servers of schema 9 and 10 still running call these functions by name, and get them too. May run again.
  [
    `CREATE OR REPLACE FUNCTION forum_limit_reserve(logs text[], keys text[], maxes integer[], windows bigint[], groups integer[], now_ms bigint,
       OUT attempt bigint, OUT blocked_group integer, OUT wait_ms bigint, OUT known_entry integer, OUT known_wait_ms bigint)
     LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     DECLARE
       lock_key integer;
     BEGIN
       now_ms := coalesce(now_ms, (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
       FOR lock_key IN SELECT DISTINCT hashtext(u.l || ' ' || u.k) FROM unnest(logs, keys) AS u(l, k) ORDER BY 1 LOOP
         PERFORM pg_advisory_xact_lock(7105636, lock_key); -- 0x6c6c64 "lld"
       END LOOP;
       UPDATE limit_events e SET at = now_ms, expires_at = now_ms + u.w
         FROM (SELECT v.l, v.k, max(v.w) AS w FROM unnest(logs, keys, windows) AS v(l, k, w) GROUP BY v.l, v.k) u
         WHERE e.log = u.l AND e.key = u.k AND e.at > now_ms;
       SELECT r.attempt, r.blocked_group, r.wait_ms, r.known_entry, r.known_wait_ms INTO attempt, blocked_group, wait_ms, known_entry, known_wait_ms
         FROM forum_limit_reserve_counted(logs, keys, maxes, windows, groups, now_ms) AS r;
     END $$`,
    // An attempt's keys never change (a redating changes its dates): those read before the locks are its keys.
    `CREATE OR REPLACE FUNCTION forum_limit_settle(settled bigint, counted text[], forget_log text, forget_key text) RETURNS void
     LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     DECLARE
       lock_key integer;
     BEGIN
       FOR lock_key IN SELECT hashtext(e.log || ' ' || e.key) FROM limit_events e WHERE e.attempt = settled
                       UNION SELECT hashtext(forget_log || ' ' || forget_key) WHERE forget_log IS NOT NULL AND forget_key IS NOT NULL
                       ORDER BY 1 LOOP
         PERFORM pg_advisory_xact_lock(7105636, lock_key);
       END LOOP;
       UPDATE limit_events SET pending = false WHERE attempt = settled AND log = ANY (counted);
       DELETE FROM limit_events WHERE attempt = settled AND pending;
       IF forget_log IS NOT NULL THEN
         DELETE FROM limit_events WHERE log = forget_log AND key = forget_key AND NOT pending;
       END IF;
     END $$`,
  ],
  // 12: a pending upload's lease (postgres-upload-leases.ts), renewed by its server with each chunk and a heartbeat:
  // one that lapsed belongs to a server that is gone, and any server deletes it when its room is needed. Only
  // the sweep of stale uploads (10 minutes untouched) took a killed server's half upload, whose bytes counted
  // against maxStoredUploadBytes meanwhile: a 4 MiB upload under a 5 MiB limit was refused "remove threads to
  // make room" for 10 minutes after a server died 2 MiB into another (attack round 18). Nullable, no default: a
  // metadata change, and a server of schema 11 still running inserts rows without it (NULL), left to the
  // stale sweep as before. The partial index finds the pending rows among every committed one. May run again.
  [
    `ALTER TABLE uploads ADD COLUMN IF NOT EXISTS lease_expires_at timestamptz`,
    `CREATE INDEX IF NOT EXISTS uploads_pending_lease ON uploads (lease_expires_at) WHERE NOT committed`,
  ],
  // 13: each account's share of the uploads' room (postgres-upload-share.ts, attack round 27) reads the account's
  // uploads for every 256 KiB chunk stored and every upload begun; with no index on `uploader` that read scanned
  // every upload of every account (100,000 uploads of others: see the forum-protocol README). Built in the
  // migration's transaction (CREATE INDEX CONCURRENTLY cannot run in one): uploads by servers of schema 12 still
  // running wait for it, as for any migration's lock (some 0.1 s a 100,000 uploads). Nothing else changes:
  // a server of schema 12 writes its rows and reads the share as before, and the index keeps their rows too.
  // May run again (IF NOT EXISTS).
  [`CREATE INDEX IF NOT EXISTS uploads_uploader ON uploads (uploader)`],
  // 14: the two per-account shares kept in counters, not summed from the rows at each request. The upload share
  // summed the account's uploads for every 256 KiB chunk (with 100,000 1-byte files of its own some 30 ms a chunk,
  // with a million 0.3 s; the byte share allows both), and a non-creator's share of a thread read every line of
  // the thread under its row's lock (a thread of 10,000 lines: about 50 ms a MSG, every other change of the thread
  // waiting): see SECURITY.md. `uploader_bytes` holds what postgres-upload-share.ts counted (a committed upload's
  // size, a pending one's chunks), `thread_holdings` each account's lines in a thread: how many, how many are
  // messages, and their reply bytes without the messages' numbers (which a DLT before them changes:
  // postgres-thread-share.ts adds them when it reads). Both are kept by triggers in the transaction that writes
  // the rows, whichever server writes them: a server of schema 13 still running keeps them exact too (it reads
  // its shares from the rows, as before). Filled here under the tables' locks (a server of
  // schema 13 waits for the migration). Rows are locked in one order (by uploader; by thread, account), and a
  // thread's holdings only under its row's lock (every writer of its lines takes it first): no deadlock. A
  // removed thread's lines are not counted out one by one: its holdings go with it (the foreign key's cascade).
  // May run again (IF NOT EXISTS, refilled).
  [
    `LOCK TABLE threads, entries, uploads, upload_chunks IN EXCLUSIVE MODE`,
    `CREATE TABLE IF NOT EXISTS uploader_bytes (uploader text PRIMARY KEY, bytes bigint NOT NULL)`,
    `DELETE FROM uploader_bytes`,
    // What an upload row holds of its uploader's share: a committed one its size, a pending one its chunks
    // (their lengths only: octet_length reads a stored chunk's header, not its bytes). Written out in each
    // statement below, not as a function: one with a subquery is not inlined, and is called once a row.
    `INSERT INTO uploader_bytes (uploader, bytes)
     SELECT uploader, sum(held) FROM (
       SELECT uploader, size AS held FROM uploads WHERE committed
       UNION ALL
       SELECT u.uploader, octet_length(c.data) FROM upload_chunks c JOIN uploads u ON u.id = c.upload_id WHERE NOT u.committed) x
     GROUP BY uploader`,
    // Changes of many accounts' rows at once (RMV's cascade, the sweep of dead servers' uploads) add to their
    // counters in the uploaders' order, so that two such never wait for each other's rows.
    `CREATE OR REPLACE FUNCTION forum_count_uploader_bytes() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     BEGIN
       IF TG_TABLE_NAME = 'upload_chunks' AND TG_OP = 'INSERT' THEN
         -- A chunk counts while its upload is pending; a committed one counts its size.
         INSERT INTO uploader_bytes AS b (uploader, bytes)
           SELECT u.uploader, sum(octet_length(a.data)) FROM added a JOIN uploads u ON u.id = a.upload_id AND NOT u.committed
           GROUP BY u.uploader ORDER BY u.uploader
           ON CONFLICT (uploader) DO UPDATE SET bytes = b.bytes + EXCLUDED.bytes;
       ELSIF TG_TABLE_NAME = 'upload_chunks' THEN
         -- Chunks of a deleted upload (the sweeper's) no longer counted: only those of a pending upload still there.
         INSERT INTO uploader_bytes AS b (uploader, bytes)
           SELECT u.uploader, -sum(octet_length(r.data)) FROM removed r JOIN uploads u ON u.id = r.upload_id AND NOT u.committed
           GROUP BY u.uploader ORDER BY u.uploader
           ON CONFLICT (uploader) DO UPDATE SET bytes = b.bytes + EXCLUDED.bytes;
       ELSIF TG_OP = 'INSERT' THEN
         INSERT INTO uploader_bytes AS b (uploader, bytes)
           SELECT a.uploader, sum(CASE WHEN a.committed THEN a.size ELSE (SELECT COALESCE(sum(octet_length(c.data)), 0) FROM upload_chunks c WHERE c.upload_id = a.id) END) FROM added a GROUP BY a.uploader ORDER BY a.uploader
           ON CONFLICT (uploader) DO UPDATE SET bytes = b.bytes + EXCLUDED.bytes;
       ELSIF TG_OP = 'DELETE' THEN
         -- A pending upload's chunks are still there (doomed, the sweeper deletes them after this commits).
         INSERT INTO uploader_bytes AS b (uploader, bytes)
           SELECT r.uploader, -sum(CASE WHEN r.committed THEN r.size ELSE (SELECT COALESCE(sum(octet_length(c.data)), 0) FROM upload_chunks c WHERE c.upload_id = r.id) END) FROM removed r GROUP BY r.uploader ORDER BY r.uploader
           ON CONFLICT (uploader) DO UPDATE SET bytes = b.bytes + EXCLUDED.bytes;
       ELSE
         -- A commit: the pending upload's chunks become its size (the same bytes, unless a writer says otherwise).
         INSERT INTO uploader_bytes AS b (uploader, bytes)
           SELECT who, sum(held) FROM (VALUES (OLD.uploader, -(CASE WHEN OLD.committed THEN OLD.size ELSE (SELECT COALESCE(sum(octet_length(c.data)), 0) FROM upload_chunks c WHERE c.upload_id = OLD.id) END)),
                                              (NEW.uploader, CASE WHEN NEW.committed THEN NEW.size ELSE (SELECT COALESCE(sum(octet_length(c.data)), 0) FROM upload_chunks c WHERE c.upload_id = NEW.id) END)) AS d (who, held)
           GROUP BY who ORDER BY who
           ON CONFLICT (uploader) DO UPDATE SET bytes = b.bytes + EXCLUDED.bytes;
       END IF;
       RETURN NULL;
     END $$`,
    // Named to fire before upload_bytes_added (a table's triggers fire in their names' order): a chunk takes its
    // account's counter row, then the forum's, so that a transaction holding only the account's (its commit, an
    // RMV) holds back that account's chunks, not every user's through the forum's row.
    `CREATE OR REPLACE TRIGGER account_bytes_chunk_added AFTER INSERT ON upload_chunks REFERENCING NEW TABLE AS added
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_uploader_bytes()`,
    `CREATE OR REPLACE TRIGGER account_bytes_chunk_removed AFTER DELETE ON upload_chunks REFERENCING OLD TABLE AS removed
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_uploader_bytes()`,
    `CREATE OR REPLACE TRIGGER uploader_bytes_upload_added AFTER INSERT ON uploads REFERENCING NEW TABLE AS added
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_uploader_bytes()`,
    `CREATE OR REPLACE TRIGGER uploader_bytes_upload_removed AFTER DELETE ON uploads REFERENCING OLD TABLE AS removed
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_uploader_bytes()`,
    // Only an update that changes what the row holds: not a lease's renewal (every chunk, every heartbeat).
    `CREATE OR REPLACE TRIGGER uploader_bytes_upload_changed AFTER UPDATE OF committed, size, uploader, id ON uploads FOR EACH ROW
     WHEN (OLD.committed IS DISTINCT FROM NEW.committed OR OLD.size IS DISTINCT FROM NEW.size OR OLD.uploader IS DISTINCT FROM NEW.uploader OR OLD.id IS DISTINCT FROM NEW.id)
     EXECUTE FUNCTION forum_count_uploader_bytes()`,
    `CREATE TABLE IF NOT EXISTS thread_holdings (
       thread text NOT NULL REFERENCES threads (title) ON DELETE CASCADE,
       account text NOT NULL,
       entries integer NOT NULL,
       messages integer NOT NULL,
       bytes bigint NOT NULL,
       PRIMARY KEY (thread, account))`,
    // A line's bytes in the RDT reply (its JSON and comma, as schema 3's reply_bytes counts them), a message's
    // without its number: the number is ASCII digits, which JSON writes as they are, ahead of the rest.
    `CREATE OR REPLACE FUNCTION forum_line_bytes_unnumbered(line_kind text, line_author text, line_body text) RETURNS bigint
     LANGUAGE sql STABLE AS $$
       SELECT (CASE line_kind WHEN 'message' THEN octet_length(to_json(' ' || line_author || ': ' || line_body)::text)
                              ELSE octet_length(to_json(line_author || ' uploaded ' || line_body)::text) END + 1)::bigint
     $$`,
    `DELETE FROM thread_holdings`,
    `INSERT INTO thread_holdings (thread, account, entries, messages, bytes)
     SELECT thread, author, count(*), count(*) FILTER (WHERE kind = 'message'), sum(forum_line_bytes_unnumbered(kind, author, body))
     FROM entries WHERE kind IN ('message', 'upload') GROUP BY thread, author`,
    // Lines of a thread already deleted in the transaction (RMV's cascade) are left out: their holdings go with it.
    `CREATE OR REPLACE FUNCTION forum_count_holdings() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     BEGIN
       IF TG_OP = 'INSERT' THEN
         INSERT INTO thread_holdings AS h (thread, account, entries, messages, bytes)
           SELECT thread, author, count(*), count(*) FILTER (WHERE kind = 'message'), sum(forum_line_bytes_unnumbered(kind, author, body))
           FROM added WHERE kind IN ('message', 'upload') GROUP BY thread, author ORDER BY thread, author
           ON CONFLICT (thread, account) DO UPDATE SET entries = h.entries + EXCLUDED.entries, messages = h.messages + EXCLUDED.messages, bytes = h.bytes + EXCLUDED.bytes;
       ELSIF TG_OP = 'DELETE' THEN
         -- A thread's lines are deleted with it by one statement of their own (the cascade): its first line's
         -- thread gone, so is every line's. Not read then: RMV of 10,000 lines read them all, to count none
         -- (15-20 ms more of a 20-40 ms RMV under the thread's lock, a loaded 2-core machine).
         IF EXISTS (SELECT 1 FROM threads WHERE title = (SELECT thread FROM removed LIMIT 1)) THEN
           INSERT INTO thread_holdings AS h (thread, account, entries, messages, bytes)
             SELECT thread, author, -count(*), -count(*) FILTER (WHERE kind = 'message'), -sum(forum_line_bytes_unnumbered(kind, author, body))
             FROM removed WHERE kind IN ('message', 'upload') AND thread IN (SELECT title FROM threads WHERE title IN (SELECT thread FROM removed))
             GROUP BY thread, author ORDER BY thread, author
             ON CONFLICT (thread, account) DO UPDATE SET entries = h.entries + EXCLUDED.entries, messages = h.messages + EXCLUDED.messages, bytes = h.bytes + EXCLUDED.bytes;
         END IF;
       ELSE
         INSERT INTO thread_holdings AS h (thread, account, entries, messages, bytes)
           SELECT thread, author, sum(e), sum(m), sum(b) FROM (
             SELECT thread, author, 1 AS e, (kind = 'message')::int AS m, forum_line_bytes_unnumbered(kind, author, body) AS b
             FROM added WHERE kind IN ('message', 'upload')
             UNION ALL
             SELECT thread, author, -1, -((kind = 'message')::int), -forum_line_bytes_unnumbered(kind, author, body)
             FROM removed WHERE kind IN ('message', 'upload')) d
           WHERE thread IN (SELECT title FROM threads WHERE title IN (SELECT thread FROM added))
           GROUP BY thread, author ORDER BY thread, author
           ON CONFLICT (thread, account) DO UPDATE SET entries = h.entries + EXCLUDED.entries, messages = h.messages + EXCLUDED.messages, bytes = h.bytes + EXCLUDED.bytes;
       END IF;
       RETURN NULL;
     END $$`,
    `CREATE OR REPLACE TRIGGER thread_holdings_added AFTER INSERT ON entries REFERENCING NEW TABLE AS added
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_holdings()`,
    `CREATE OR REPLACE TRIGGER thread_holdings_removed AFTER DELETE ON entries REFERENCING OLD TABLE AS removed
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_holdings()`,
    `CREATE OR REPLACE TRIGGER thread_holdings_changed AFTER UPDATE ON entries REFERENCING OLD TABLE AS removed NEW TABLE AS added
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_holdings()`,
    // The account's messages in a thread by position: how many of them are numbered past 10, 100, 1,000 and 10,000
    // (their numbers' digits) is counted here, from the index alone (postgres-thread-share.ts).
    `CREATE INDEX IF NOT EXISTS entries_author_messages ON entries (thread, author, pos) WHERE kind = 'message'`,
  ],
  // 15: each account's origin, the host that created it (store/origin-shares.ts, attack round 30): the accounts
  // of one origin hold together a few accounts' shares of the threads and of the uploads' room. Nullable, no
  // default: a metadata change, and the accounts already there, and those a server of schema 14 still running
  // creates (it inserts `username, secret`), have none: each its own group, as before. What an origin's accounts
  // hold is kept in counters (`origin_threads`, `origin_upload_bytes`) by triggers on the per-account counters
  // (`creator_thread_counts`, schema 4; `uploader_bytes`, schema 14), in the statement that changes those, on any
  // server: a sum over the origin's accounts at each CRT and chunk cost 14 ms at 1,000 accounts of one origin,
  // 140 ms at 10,000, 1 s at 100,000 (one address's 10 every 10 minutes for 70 days). Two tables, not one row with
  // both: a change of many accounts' bytes (RMV's cascade, the sweep) takes the upload rows of their origins in
  // one statement, in the origins' order, and its thread's creator's thread row after, so no two such changes
  // take two origins' rows in opposite orders. Each counter row is taken after its account's (the statement on
  // the account's row fires the trigger) and before the forum's (`upload_bytes`, `thread_counts`), the order
  // every writer already takes those in. An account's origin is written once, with the account, so no count moves
  // between origins; lines of a name that had counts before its account was made are not its origin's. Filled
  // here from the per-account counters under their tables' lock (nothing to fill on a first run: no account has
  // an origin yet). May run again.
  [
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
  ],
  // 16: the origin's levels (store/origin-shares.ts): an IPv6 origin is a /64, and one customer's /56 or /48 is
  // 256 or 65,536 of them, each with its own bound; so an account of origin /64 X also counts against X's /56 and
  // /48, with 4 and 16 times the bound (rudp's `hostLevels`). The same counter tables, keyed by level: an
  // origin's row stays its own level's (a server of schema 15 still running reads it right, and counts no wider
  // level), and rows of /56 and /48 keys (`…::/56`, `…::/48`, never an origin's) join them. The levels are derived
  // from the recorded origin by `forum_origin_levels` in the triggers, whichever server writes, so nothing more is
  // kept per account. Refilled here from the per-account counters under their tables' lock, as schema 15 filled
  // them; the triggers' function is replaced to count every level (its rows in the levels' order, as before the
  // origins'). May run again.
  [
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
  ],
];

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length;

// Any constant shared by every forum server: concurrent starts migrate one at a time.
const MIGRATION_LOCK = 0x666f72756d; // "forum"

// deadlock_detected: the database ended the migration to let an older server's transaction through.
const DEADLOCK_DETECTED = '40P01';

/**
 * Times {@link migrate} runs a migration that the database ended in a deadlock. A migration locks
 * each table as it reaches it (8: `uploads`, then `upload_chunks`), and a server of the old schema
 * still running may hold the second and ask for the first: schema 7's RMV reads the chunks (counting
 * them), then deletes the thread, whose cascade writes `uploads`. PostgreSQL ends one of the two,
 * as a rule the one that waited first (the migration), and the server did not start ("deadlock
 * detected"). The transaction rolled back whole; run again, it waits for that transaction like any
 * other. (The old server's transaction is ended instead when the migration's deadlock check ran
 * before the cycle closed: refused whole, that request fails as any store error.)
 */
const MIGRATION_ATTEMPTS = 5;

/**
 * Creates the tables, or migrates them to {@link SCHEMA_VERSION}, in one
 * transaction under an advisory lock: of servers starting together one
 * migrates, the others wait and find it done (so a migration runs once).
 * Rejects if the database was migrated by a newer server. `schema`, if
 * given, is created first under the same lock (two servers creating one
 * schema at once would otherwise race). Resolves to the version found
 * before migrating (0: empty database).
 *
 * A rolling upgrade (servers of the old version still running while a new
 * one migrates) is safe from schema 4 on: a migration waits for the old
 * servers' writes in flight and holds theirs back while it runs; an old
 * server's writes that would break what a newer schema keeps are refused by
 * the database, with an error saying to stop it (migration 4's fences), and
 * an old server never starts on a newer schema. A migration that the
 * database ends in a deadlock with an old server's transaction is run
 * again (up to {@link MIGRATION_ATTEMPTS} times).
 */
export const migrate = async (sql: Sql, schema?: string): Promise<number> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateOnce(sql, schema);
    } catch (e) {
      if (attempt >= MIGRATION_ATTEMPTS || !(e instanceof postgres.PostgresError) || e.code !== DEADLOCK_DETECTED) throw e;
    }
  }
};

const migrateOnce = (sql: Sql, schema?: string): Promise<number> =>
  sql.begin(async (tx) => {
    // No time limits here (postgres-timeouts.ts): it waits for another server's migration, and may rewrite every row.
    await tx`SELECT set_config('statement_timeout', '0', true), set_config('lock_timeout', '0', true)`;
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    if (schema !== undefined) await tx`CREATE SCHEMA IF NOT EXISTS ${tx(schema)}`;
    await tx`CREATE TABLE IF NOT EXISTS forum_schema (version integer NOT NULL)`;
    const rows = await tx<{ version: number }[]>`SELECT version FROM forum_schema`;
    const found = rows[0]?.version ?? 0;
    if (found > SCHEMA_VERSION) throw new Error(`the database schema is version ${found}, newer than this server's ${SCHEMA_VERSION}`);
    for (const statements of MIGRATIONS.slice(found)) for (const statement of statements) await tx.unsafe(statement);
    if (rows.length === 0) await tx`INSERT INTO forum_schema (version) VALUES (${SCHEMA_VERSION})`;
    else await tx`UPDATE forum_schema SET version = ${SCHEMA_VERSION}`;
    return found;
  });
