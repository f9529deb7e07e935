import type { Migration } from './migration.js';

/**
 * Migration 6: the login throttle's and account creation's counts (postgres-throttles.ts), and each user's uploads
 * in progress (postgres-upload-slots.ts), shared by every server
 * instead of each counting in its memory (3 servers let 15 passwords of one account be checked in a
 * minute where 5 are allowed). One row per attempt and sliding window (log) it counts in: `pending`
 * while in flight, then kept (counted) or deleted. Times are ms of the database's clock (`now_ms` NULL;
 * a caller's clock only in tests): a server whose clock ran ahead would otherwise sweep, and not count,
 * the rows the others still count (one 2 minutes fast let 15 wrong passwords of one account pass in
 * 300 ms). A row is swept once its window has passed (expires_at). Each function is one statement, so one round trip: reserve
 * locks every (log, key) it counts in, in one order (no deadlock), counts, and inserts only if no log is
 * full, so a key never holds more rows than its limit within a window. Schema 5 servers still running
 * keep counting in their memory: each of them adds its own limits, as before. May run again (IF NOT EXISTS).
 */
export const migration6: Migration = [
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
];
