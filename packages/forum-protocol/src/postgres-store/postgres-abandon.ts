import { commandDeadline, outsideCommandDeadline } from '../store/command-deadline.js';

/**
 * Giving up a statement that a silent database leaves unanswered past its command's deadline (attack round 18,
 * 1d and 1e). A database that hangs (its processes stopped, a disk that stalls) or that a partition cuts off
 * with the connections held open answers neither the statement nor the deadline's cancel request (the cancel
 * goes to the same postmaster), and postgres.js settles a statement only on an answer or a closed socket: the
 * command waited until the database came back (30 s in the attack), past forum-client's 8 s wait, which then
 * exited, and the MSG it gave up on was stored after.
 */

/**
 * How long past its command's deadline a statement still at the database is waited for, ms: the deadline's
 * cancel request lands, or a COMMIT is answered, within milliseconds on a database that answers at all.
 * Past it the statement is given up and its connection destroyed. The command is so answered by its
 * deadline (6 s on the server) and this, under forum-client's 8 s wait.
 */
export const ABANDON_AFTER_MS = 500;

/**
 * The deadline of a release outside any command, ms (an upload's place given back, a closing server's session
 * leases deleted): at a silent database such a DELETE waited for as long as TCP did, and what awaited it (the
 * upload's end, the user's next upload, the server's stop) with it. One not done by then is left to a renewal
 * or to the lease's lapse.
 */
export const RELEASE_DEADLINE_MS = 2_000;

/**
 * Why a statement failed: it was still at the database {@link ABANDON_AFTER_MS} after its command's deadline
 * (the deadline's cancel request unanswered too), so it was given up and its connection destroyed. A
 * statement of a transaction not yet committing took no effect (the transaction cannot commit: its connection
 * is gone, and its COMMIT was never written); a statement outside a transaction may have. `code` is
 * `ERR_STATEMENT_ABANDONED`.
 */
export class StatementAbandonedError extends Error {
  readonly code = 'ERR_STATEMENT_ABANDONED';
  constructor(readonly deadlineMs: number) {
    super(`the database did not answer within ${ABANDON_AFTER_MS} ms of the command's deadline of ${deadlineMs} ms (nor its cancel request): the statement was given up and its connection closed`);
    this.name = 'StatementAbandonedError';
  }
}

/**
 * Why a transaction failed: its COMMIT was sent and not answered {@link ABANDON_AFTER_MS} after its command's
 * deadline, so its connection was destroyed: it may have committed or not. `code` is `ERR_COMMIT_UNANSWERED`.
 */
export class CommitUnansweredError extends Error {
  readonly code = 'ERR_COMMIT_UNANSWERED';
  constructor(readonly deadlineMs: number) {
    super(`the database did not answer the COMMIT within ${ABANDON_AFTER_MS} ms of the command's deadline of ${deadlineMs} ms: the connection was closed, and the change may or may not be stored`);
    this.name = 'CommitUnansweredError';
  }
}

/** What this module reads of a postgres.js query (the workspace's patch adds `destroySocket`). */
export interface AbandonableQuery {
  /** Whether it is the statement its connection runs now (postgres.js clears it as the query settles). */
  readonly active?: boolean;
  /** Destroys the socket it was written to (the patch sets it as the query is written). */
  readonly destroySocket?: () => void;
  /** Settles the query with an error. */
  readonly reject?: (e: unknown) => void;
}

/**
 * Destroys the connection `query` was written to, if it was: the pool then connects afresh for its next
 * statement, and the database, when it answers again, reads the connection's end and rolls back what it
 * had open there. A connection left waiting stayed busy until the database answered.
 */
export const destroyConnectionOf = (query: AbandonableQuery): boolean => {
  const destroy = query.destroySocket;
  if (typeof destroy !== 'function') return false;
  destroy();
  return true;
};

/**
 * Gives up `query` if it is still running at the database: fails it with `error` (its caller answers now)
 * and destroys its connection. One that settled meanwhile is left so.
 */
export const abandonIfRunning = (query: AbandonableQuery, error: Error): void => {
  if (query.active !== true) return;
  // Failed first: the socket's close fails it too, with a reason that says less.
  query.reject?.(error);
  destroyConnectionOf(query);
};

/**
 * `work`'s value, or `fallback` if it has not settled {@link ABANDON_AFTER_MS} past the deadline of the command
 * that awaits it (it goes on, unawaited): for work outside that deadline (a clean-up, a sweep) that a command
 * awaits. On a database gone silent such a statement waited for good, outside any deadline, and the
 * command's answer with it. Outside a command, `work` itself.
 */
export const untilAnswerDue = <A>(work: Promise<A>, fallback: A): Promise<A> => {
  const deadline = commandDeadline();
  if (deadline === undefined) return work;
  return new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => resolve(fallback), Math.max(0, deadline.remainingMs + ABANDON_AFTER_MS));
    // The work's own end settles it first whenever it comes in time: the timer must not keep a stopping process alive.
    timer.unref();
    work.then(resolve, reject).finally(() => clearTimeout(timer));
  });
};

/**
 * `work` (a clean-up outside any command: an upload's row deleted as its transfer ends) awaited for at most
 * {@link ABANDON_AFTER_MS}; it goes on unawaited past that. At a silent database it waited for good, and with
 * it the refusal its transfer's sender was to read, and the transfer's place among its user's uploads.
 */
export const awaitedBriefly = (work: Promise<void>): Promise<void> =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ABANDON_AFTER_MS);
    // The work's own end settles it first whenever it comes in time: the timer must not keep a stopping process alive.
    timer.unref();
    work.then(resolve, resolve).finally(() => clearTimeout(timer));
  });

/**
 * Runs `work`, a clean-up a command starts and that must not lose to its deadline (a login attempt's
 * settlement, a session lease's release), outside that deadline, awaited {@link untilAnswerDue}: a login
 * whose password check was given up at a silent database waited for its throttle's settlement until the
 * database answered.
 */
export const cleanUpOutsideDeadline = (work: () => Promise<void>): Promise<void> => untilAnswerDue(outsideCommandDeadline(work), undefined);
