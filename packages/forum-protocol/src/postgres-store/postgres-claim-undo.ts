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

/** The pause between two questions (each asked for every pending undo of the store), ms. */
export const UNDO_CLAIM_PAUSE_MS = 250;

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

/** One pending undo: its claim, when it gives up, why it has not ended yet, and its ending. */
interface PendingUndo {
  readonly claim: GivenUpClaim;
  readonly until: number;
  why: string;
  readonly onGivenUp: (why: string) => void;
  readonly done: () => void;
}

/** The undoing of a store's given-up lease claims ({@link createClaimUndoer}). */
export interface ClaimUndoer {
  /** Undoes `claim`; resolves once it is undone or given up (`onGivenUp` told why). Never rejects. */
  undo(claim: GivenUpClaim, onGivenUp: (why: string) => void): Promise<void>;
  /**
   * Stops: every pending undo ends now, untold one by one; `onStopped` (if any pending) is told how many once.
   * Resolves when the question in flight, if any, has ended (no statement is started after).
   */
  stop(onStopped?: (pending: number) => void): Promise<void>;
}

/**
 * Undoes the session lease claims given up unanswered (a silent database: its command's deadline gave it up,
 * postgres-abandon.ts), each written to a backend `pid`: a single statement outside a transaction, a claim runs
 * when the database reads it, after the login was answered with the timeout's line, and the account answered
 * "already logged in" for the lease's 15 s. A claim's lease is deleted once its backend has ended or has run
 * it (idle with the claim's mark as its `application_name`, set only by a claim that committed): deleted
 * earlier, the claim could land after the deletion. The deletion is a statement of its own, after the
 * question: in the question's, its snapshot (taken as it started) could miss a claim that committed just
 * before pg_stat_activity was read.
 *
 * Every pending undo of the store is asked in ONE question (one poll of pg_stat_activity for all their
 * backends) every {@link UNDO_CLAIM_PAUSE_MS}, one question at a time, then the leases of those settled are
 * deleted in one statement: polled each on its own, 1,000 claims given up in an outage asked 4,000 questions a
 * second of the store's pool (10 connections) for up to 60 s, and the commands waited behind them. Each undo
 * is asked again while the database is out of reach or its backend has yet to run the claim, for up to
 * {@link UNDO_CLAIM_FOR_MS} from its start; a refusal for good (a role denied pg_stat_activity) ends every
 * pending one at once. `sql` is the store's (held to a command's deadline, postgres-deadline.ts): each
 * question runs under one of its own, {@link UNDO_QUESTION_MS}.
 */
export const createClaimUndoer = (sql: Sql): ClaimUndoer => {
  const pending = new Set<PendingUndo>();
  let stopped = false;
  let polling: Promise<void> | undefined;
  const end = (undo: PendingUndo, why?: string): void => {
    if (!pending.delete(undo)) return;
    if (why !== undefined) undo.onGivenUp(why);
    undo.done();
  };
  /** One question for every pending undo, then the deletion of the settled ones' leases. */
  const round = async (): Promise<void> => {
    const asked = [...pending];
    try {
      const settled = await withCommandDeadline(UNDO_QUESTION_MS, async () => {
        const rows = await sql<{ i: number }[]>`
          SELECT c.i FROM unnest(${asked.map((u) => u.claim.pid)}::int[], ${asked.map((u) => u.claim.mark)}::text[])
            WITH ORDINALITY AS c(pid, mark, i)
          WHERE NOT EXISTS (
            SELECT 1 FROM pg_stat_activity a WHERE a.pid = c.pid AND NOT (a.state = 'idle' AND a.application_name = c.mark)
          )`;
        const done = rows.flatMap((r) => {
          const undo = asked[Number(r.i) - 1];
          return undo === undefined ? [] : [undo];
        });
        if (done.length > 0) {
          await sql`
            DELETE FROM session_leases WHERE (username, connection_key) IN (
              SELECT * FROM unnest(${done.map((u) => u.claim.username)}::text[], ${done.map((u) => u.claim.connectionKey)}::text[]))`;
        }
        return new Set(done);
      });
      for (const undo of asked) {
        if (settled.has(undo)) end(undo);
        else undo.why = `its backend (pid ${undo.claim.pid}) had not run it`;
      }
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      // Refused for good (a role denied pg_stat_activity): asked again for 60 s, it held every later login on
      // those connections, refused as "not yet undone", for nothing.
      for (const undo of asked) {
        if (refusedForGood(e)) end(undo, why);
        else undo.why = why;
      }
    }
  };
  // Cuts the pause between two rounds short at stop.
  const stopping = new AbortController();
  const poll = (): Promise<void> =>
    outsideCommandDeadline(async () => {
      while (pending.size > 0 && !stopped) {
        await round();
        const now = performance.now();
        for (const undo of pending) if (now + UNDO_CLAIM_PAUSE_MS >= undo.until) end(undo, undo.why);
        if (pending.size === 0 || stopped) break;
        await sleep(UNDO_CLAIM_PAUSE_MS, undefined, { signal: stopping.signal }).catch(() => undefined);
      }
    });
  /** Starts the poll unless it runs: one at a time, so at most one question of the store's undos is in flight. */
  const start = (): void => {
    if (polling !== undefined || stopped || pending.size === 0) return;
    polling = poll().finally(() => {
      polling = undefined;
      // One added as the loop ended (after its last look at `pending`) starts the next.
      start();
    });
  };
  return {
    undo: (claim, onGivenUp) =>
      new Promise<void>((done) => {
        // Closing: cut short like the pending ones, told in stop's one line (this one came after it).
        if (stopped) {
          done();
          return;
        }
        pending.add({ claim, until: performance.now() + UNDO_CLAIM_FOR_MS, why: 'the database did not answer', onGivenUp, done });
        // The first question at once when none is running; else in the next round (within a pause).
        start();
      }),
    stop: async (onStopped) => {
      stopped = true;
      stopping.abort();
      const cut = pending.size;
      for (const undo of [...pending]) end(undo);
      if (cut > 0) onStopped?.(cut);
      await polling;
    },
  };
};
