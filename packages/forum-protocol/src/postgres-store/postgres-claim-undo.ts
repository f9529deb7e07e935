import postgres, { type Sql } from 'postgres';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { commandDeadline, outsideCommandDeadline, withCommandDeadline, type CommandDeadline } from '../store/command-deadline.js';
import { ABANDON_AFTER_MS } from './postgres-abandon.js';

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
 * A mark for one claim (of `what`: a lease claim, an upload place), unique to it: the claim sets its backend's
 * `application_name` to it, which pg_stat_activity shows. By its text alone (every claim's is the same), a
 * backend idle after an earlier claim (of any account, on the same pooled connection) was taken for one that had
 * run the claim given up, while that claim's bytes were still on their way (a partition that holds them): the
 * lease was deleted before the claim landed, and the account held for the lease's 15 s.
 */
export const newClaimMark = (what = 'lease claim'): string => `forum ${what} ${randomBytes(8).toString('hex')}`;

/** Whether `e`, a statement's failure, is the database's answer: the statement failed there and took no effect. */
export const answeredByDatabase = (e: unknown): boolean => e instanceof postgres.PostgresError;

/** Whether `e` is the database's refusal of a question that asking again will not change: SQLSTATE class 42 (access rule violation, undefined object). */
const refusedForGood = (e: unknown): boolean => e instanceof postgres.PostgresError && e.code.startsWith('42');

/**
 * A claim given up unanswered (a lease, an upload place): which backend `pid` it was written to, with which mark
 * ({@link newClaimMark}). What it took is the undoer's `remove` to say.
 */
export interface GivenUpClaim {
  readonly pid: number;
  readonly mark: string;
}

/** A pending undo that gave up, and why. */
export interface GivenUpUndo<C extends GivenUpClaim> {
  readonly claim: C;
  readonly why: string;
}

/** What {@link createClaimUndoer} is told to do and say. */
export interface ClaimUndoOptions<C extends GivenUpClaim> {
  /** Deletes what the settled claims took, in one statement of `sql` (run under the question's deadline). */
  readonly remove: (settled: readonly C[]) => Promise<unknown>;
  /**
   * Told of the undos that gave up, once a round (`atClose`: those the close cut short, once), never once an undo:
   * an outage's burst of given-up logins, each told on its own line as it gave up 60 s later, flooded the log.
   */
  readonly onGivenUp?: (given: readonly GivenUpUndo<C>[], atClose: boolean) => void;
  /** How long each undo keeps asking, ms. Default {@link UNDO_CLAIM_FOR_MS}. */
  readonly undoForMs?: number;
}

/** One pending undo: its claim, when it gives up, why it has not ended yet, and its ending. */
interface PendingUndo<C extends GivenUpClaim> {
  readonly claim: C;
  readonly until: number;
  why: string;
  readonly done: () => void;
}

/** The undoing of a store's given-up claims of one kind ({@link createClaimUndoer}). */
export interface ClaimUndoer<C extends GivenUpClaim> {
  /** Undoes `claim`; resolves once it is undone or given up. Never rejects. */
  undo(claim: C): Promise<void>;
  /**
   * Closes: the pending undos go on being asked for up to `withinMs` (a graceful stop: a claim that lands meanwhile
   * is still undone), then those left end, told in one `onGivenUp` (`atClose`), and the question in flight, if any,
   * is given up (its deadline passed at once). Resolves when it has ended (no statement is started after). Undos
   * asked for after it end at once, untold.
   */
  close(withinMs?: number): Promise<void>;
}

/** How long closing a store waits for its pending undos by default, ms: one whole question and its abandonment. */
export const UNDO_AT_CLOSE_MS = UNDO_QUESTION_MS + ABANDON_AFTER_MS;

/**
 * Undoes the claims given up unanswered (a silent database: its command's deadline gave it up,
 * postgres-abandon.ts), each written to a backend `pid`: a single statement outside a transaction (a login's lease
 * claim), or a transaction whose COMMIT went unanswered (an upload's place), runs when the database reads it,
 * after its request was answered with the timeout's line, and holds what it took (the account "already logged
 * in", a place among the user's uploads) until its lease lapses. What it took is removed (`remove`) once its
 * backend has ended or has run it (idle with the claim's mark as its `application_name`, set only by a claim that
 * committed): removed earlier, the claim could land after the removal. The removal is a statement of its own,
 * after the question: in the question's, its snapshot (taken as it started) could miss a claim that committed
 * just before pg_stat_activity was read.
 *
 * Every pending undo of the undoer is asked in ONE question (one poll of pg_stat_activity for all their
 * backends) every {@link UNDO_CLAIM_PAUSE_MS}, one question at a time, then what the settled ones took is removed
 * in one statement: polled each on its own, 1,000 claims given up in an outage asked 4,000 questions a
 * second of the store's pool (10 connections) for up to 60 s, and the commands waited behind them. Each undo
 * is asked again while the database is out of reach or its backend has yet to run the claim, for up to
 * `undoForMs` ({@link UNDO_CLAIM_FOR_MS}) from its start; a refusal for good (a role denied pg_stat_activity) ends every
 * pending one at once. `sql` is the store's (held to a command's deadline, postgres-deadline.ts): each
 * question runs under one of its own, {@link UNDO_QUESTION_MS}.
 */
export const createClaimUndoer = <C extends GivenUpClaim>(sql: Sql, options: ClaimUndoOptions<C>): ClaimUndoer<C> => {
  const undoForMs = options.undoForMs ?? UNDO_CLAIM_FOR_MS;
  const pending = new Set<PendingUndo<C>>();
  // Closing: the pending undos are asked until `stopped`, new ones still taken.
  let closing: Promise<void> | undefined;
  let stopped = false;
  let polling: Promise<void> | undefined;
  // Told when `pending` empties (a close waits for it).
  let onEmpty: (() => void) | undefined;
  const end = (undo: PendingUndo<C>): void => {
    if (!pending.delete(undo)) return;
    undo.done();
    if (pending.size === 0) onEmpty?.();
  };
  /** Ends `undos`, given up, told in one call. */
  const giveUp = (undos: readonly PendingUndo<C>[], atClose: boolean): void => {
    const given = undos.filter((u) => pending.has(u)).map((u) => ({ claim: u.claim, why: u.why }));
    for (const undo of undos) end(undo);
    if (given.length > 0) options.onGivenUp?.(given, atClose);
  };
  // The deadline of the question in flight, if any: a close past its wait passes it at once.
  let asking: CommandDeadline | undefined;
  /** One question for every pending undo, then the removal of what the settled ones took. */
  const round = async (): Promise<void> => {
    const asked = [...pending];
    try {
      const settled = await withCommandDeadline(UNDO_QUESTION_MS, async () => {
        asking = commandDeadline();
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
        if (done.length > 0) await options.remove(done.map((u) => u.claim));
        return new Set(done);
      });
      for (const undo of asked) {
        if (settled.has(undo)) end(undo);
        else undo.why = 'its backend had not run it yet (the database had yet to read it, or ran it still)';
      }
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      for (const undo of asked) undo.why = why;
      // Refused for good (a role denied pg_stat_activity): asked again for 60 s, it held every later login on
      // those connections, refused as "not yet undone", for nothing.
      if (refusedForGood(e)) giveUp(asked, false);
    }
  };
  // Cuts the pause between two rounds short once stopped.
  const stopping = new AbortController();
  const poll = (): Promise<void> =>
    outsideCommandDeadline(async () => {
      while (pending.size > 0 && !stopped) {
        await round();
        if (stopped) break;
        const now = performance.now();
        giveUp(
          [...pending].filter((undo) => now + UNDO_CLAIM_PAUSE_MS >= undo.until),
          false,
        );
        if (pending.size === 0) break;
        await sleep(UNDO_CLAIM_PAUSE_MS, undefined, { signal: stopping.signal }).catch(() => undefined);
      }
    });
  /** Starts the poll unless it runs: one at a time, so at most one question of the undoer is in flight. */
  const start = (): void => {
    if (polling !== undefined || stopped || pending.size === 0) return;
    polling = poll().finally(() => {
      polling = undefined;
      // One added as the loop ended (after its last look at `pending`) starts the next.
      start();
    });
  };
  return {
    undo: (claim) =>
      new Promise<void>((done) => {
        // Closed: cut short like the pending ones (this one came after the close's line).
        if (stopped) {
          done();
          return;
        }
        pending.add({ claim, until: performance.now() + undoForMs, why: 'the database did not answer', done });
        // The first question at once when none is running; else in the next round (within a pause).
        start();
      }),
    close: (withinMs = UNDO_AT_CLOSE_MS) =>
      (closing ??= (async () => {
        if (pending.size > 0) {
          const empty = new Promise<void>((resolve) => {
            onEmpty = resolve;
          });
          const bound = new AbortController();
          await Promise.race([empty, sleep(withinMs, undefined, { signal: bound.signal }).catch(() => undefined)]);
          bound.abort();
        }
        stopped = true;
        stopping.abort();
        giveUp([...pending], true);
        // The question in flight (one written to a connection cut off waits out its deadline) given up now: the
        // close is over by the abandon rule (0.5 s), not after a whole question more.
        asking?.expireNow();
        await polling;
      })()),
  };
};
