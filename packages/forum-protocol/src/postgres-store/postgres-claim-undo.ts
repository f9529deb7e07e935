import postgres, { type Sql } from 'postgres';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { outsideCommandDeadline, withCommandDeadline } from '../store/command-deadline.js';

/**
 * How long the undoing of a given-up lease claim keeps asking, ms: past it, a claim that lands later still
 * lapses by itself within the lease (at most 15 s), as before. Each question is bounded by
 * {@link UNDO_QUESTION_MS} (and the wait for its answer past it, postgres-abandon.ts), so the undo ends by then.
 */
export const UNDO_CLAIM_FOR_MS = 60_000;

/**
 * How long one question of the undo is allowed, ms (its own deadline): one unanswered by then is given up and
 * its connection destroyed (postgres-abandon.ts), and it is asked again on another. Without it, a question
 * written to a connection cut off and held open (a partition, a load balancer that dropped the flow) waited
 * for good: the lease stayed until it lapsed, and every later login on that connection was refused.
 */
export const UNDO_QUESTION_MS = 2_000;

/** The pause between two questions, ms. */
const UNDO_CLAIM_PAUSE_MS = 250;

/** The backend (its pid) that postgres.js wrote `query` to, if it was written (`query.state`: `{ pid, secret }`). */
export const backendPidOf = (query: unknown): number | undefined => {
  const state = (query as { readonly state?: unknown }).state;
  if (typeof state !== 'object' || state === null) return undefined;
  const pid = (state as { readonly pid?: unknown }).pid;
  return typeof pid === 'number' ? pid : undefined;
};

/**
 * A mark for one lease claim, unique to it: the claim sets its backend's `application_name` to it, which
 * pg_stat_activity shows. By its text alone (every claim's is the same), a backend idle after an earlier
 * claim (of any account, on the same pooled connection) was taken for one that had run the claim given up,
 * while that claim's bytes were still on their way (a partition that holds them): the lease was deleted
 * before the claim landed, and the account held for the lease's 15 s.
 */
export const newClaimMark = (): string => `forum lease claim ${randomBytes(8).toString('hex')}`;

/** Whether `e`, a statement's failure, is the database's answer: the statement failed there and took no effect. */
export const answeredByDatabase = (e: unknown): boolean => e instanceof postgres.PostgresError;

/** Whether `e` is the database's refusal of a question that asking again will not change: SQLSTATE class 42 (access rule violation, undefined object). */
const refusedForGood = (e: unknown): boolean => e instanceof postgres.PostgresError && e.code.startsWith('42');

/** A lease claim given up unanswered: whose, by which connection, written to which backend, with which mark ({@link newClaimMark}). */
export interface GivenUpClaim {
  readonly username: string;
  readonly connectionKey: string;
  readonly pid: number;
  readonly mark: string;
}

/**
 * Undoes the session lease claim of `username` by `connectionKey` that was written to backend `pid` and given up
 * unanswered (a silent database: its command's deadline gave it up, postgres-abandon.ts): a single statement
 * outside a transaction, it runs when the database reads it, after the login was answered with the timeout's
 * line, and the account answered "already logged in" for the lease's 15 s. The lease is deleted once that
 * backend has ended or has run the claim (idle with the claim's mark as its `application_name`, set only by a
 * claim that committed): deleted earlier, the claim could land after the deletion. The deletion is a statement
 * of its own, after the question: in the question's, its snapshot (taken as it started) could miss a claim that
 * committed just before pg_stat_activity was read. Asked again while the database is out of reach or that
 * backend has yet to run it, for up to {@link UNDO_CLAIM_FOR_MS}, or until `stopped()`; refused by the database for good
 * (a role denied pg_stat_activity), it ends at once. `sql` is the
 * store's (held to a command's deadline, postgres-deadline.ts): each question runs under one of its own.
 * Never rejects; `onGivenUp` is told if it gives up.
 */
export const undoGivenUpClaim = (
  sql: Sql,
  claim: GivenUpClaim,
  stopped: () => boolean,
  onGivenUp: (why: string) => void,
): Promise<void> =>
  outsideCommandDeadline(async () => {
    const until = performance.now() + UNDO_CLAIM_FOR_MS;
    let why = 'the database did not answer';
    for (;;) {
      try {
        const settled = await withCommandDeadline(UNDO_QUESTION_MS, async () => {
          const [row] = await sql<{ settled: boolean }[]>`
            SELECT NOT EXISTS (
              SELECT 1 FROM pg_stat_activity WHERE pid = ${claim.pid} AND NOT (state = 'idle' AND application_name = ${claim.mark})
            ) AS settled`;
          if (row?.settled !== true) return false;
          await sql`DELETE FROM session_leases WHERE username = ${claim.username} AND connection_key = ${claim.connectionKey}`;
          return true;
        });
        if (settled) return;
        why = `its backend (pid ${claim.pid}) had not run it`;
      } catch (e) {
        why = e instanceof Error ? e.message : String(e);
        // Refused for good (a role denied pg_stat_activity): asked again for 60 s, it held every later login on
        // that connection, refused as "not yet undone", for nothing.
        if (refusedForGood(e)) {
          onGivenUp(why);
          return;
        }
      }
      if (stopped() || performance.now() + UNDO_CLAIM_PAUSE_MS >= until) {
        onGivenUp(why);
        return;
      }
      await sleep(UNDO_CLAIM_PAUSE_MS);
    }
  });
