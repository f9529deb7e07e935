import type { Migration } from './migration.js';

/**
 * Migration 11: the throttle's functions after a step of the clock back (migration 9), when rows are dated in the future.
 * Settle took no lock of its keys: its UPDATE and DELETEs and a reserve's redating UPDATE on the same keys
 * locked the same rows in different orders (a settle forgetting an account's failures took its attempt's
 * rows, then the other attempts' failures; a reserve took the failures, then the checks), and PostgreSQL
 * ended one of the two after deadlock_timeout: a login refused with a store error, or a settle lost and its
 * rows left pending until they expire. Settle now takes the advisory locks of every key its attempt counts in,
 * and of the key it forgets, in the order reserve takes them, before any row: calls on a common key run
 * one after another, and a row is locked only under its key's lock (the sweep takes no row another holds).
 * A key listed twice in one reserve gets the longer of its windows (the shorter one's expiry would let the
 * sweep delete a row the longer window still counts), where the join picked either. The signatures stay:
 * servers of schema 9 and 10 still running call these functions by name, and get them too. May run again.
 */
export const migration11: Migration = [
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
];
