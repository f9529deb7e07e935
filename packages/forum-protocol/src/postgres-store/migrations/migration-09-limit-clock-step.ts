import type { Migration } from './migration.js';

/**
 * Migration 9: the login throttle's and account creation's windows across a step of the database's clock back (NTP, a
 * resumed VM, an operator). A row dated after the clock's reading counted until the clock caught up with it,
 * so the step was added to the wait: 5 wrong passwords, the clock set back an hour, and the right one was
 * refused for 61 minutes (attack round 17, fixed for the memory limits in SlidingWindowLog, not here). Such a
 * row is now dated at the reading, under the key's lock, before it is counted: the key waits one window from
 * the step, as SlidingWindowLog's. Migration 6's function counts on, renamed; the new one clamps and calls it
 * (a server of schema 8 still running calls the new one too). May run again.
 */
export const migration9: Migration = [
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
];
