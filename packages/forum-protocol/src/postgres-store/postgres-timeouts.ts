import * as E from 'fp-ts/lib/Either.js';
import { identity, pipe } from 'fp-ts/lib/function.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import postgres from 'postgres';
import { commandDeadline, CommandDeadlineError } from '../store/command-deadline.js';
import { toIoError, type IoError } from '../store/errors.js';
import { isCancelledByUser, StrayCancelError } from './postgres-deadline.js';
import { CommitUnansweredError, StatementAbandonedError } from './postgres-abandon.js';
import type { PostgresTimeouts } from './postgres-timeout-defaults.js';

export { DEFAULT_POSTGRES_TIMEOUTS, type PostgresTimeouts } from './postgres-timeout-defaults.js';

/**
 * The connection's startup parameters for `timeouts`: PostgreSQL applies them to the session as it
 * opens, with no statement more. The URL's own (`?statement_timeout=10s`) are applied after these.
 */
export const timeoutParameters = (timeouts: PostgresTimeouts): Readonly<Record<string, string>> => ({
  statement_timeout: String(timeouts.statementMs),
  lock_timeout: String(timeouts.lockMs),
  idle_in_transaction_session_timeout: String(timeouts.idleInTransactionMs),
});

// query_canceled (statement_timeout), lock_not_available (lock_timeout), idle_in_transaction_session_timeout.
const TIMED_OUT_CODES: ReadonlySet<string> = new Set(['57014', '55P03', '25P03']);

/**
 * Why the database ended (or refused) a connection, by SQLSTATE, for the log: a start of the database
 * (57P03) was named `pg_terminate_backend, a shutdown` with the rest (attack round 18).
 */
const TERMINATION_CAUSES: ReadonlyMap<string, string> = new Map([
  ['57P01', "the database ended the server's connection (pg_terminate_backend, a shutdown)"],
  ['57P02', "the database ended the server's connection (another of its processes crashed: it restarts)"],
  ['57P03', 'the database refused the connection (it is starting up, shutting down or recovering)'],
]);

// cannot_connect_now: a connection the database would not take (it starts, stops or recovers), not one it ended.
const CONNECTION_REFUSED = '57P03';

/** Whether `e` is a statement ended by one of the {@link PostgresTimeouts}. */
export const isTimedOut = (e: unknown): boolean => e instanceof postgres.PostgresError && TIMED_OUT_CODES.has(e.code) && !isCancelledByUser(e);

/**
 * Whether `e` is a statement whose connection the database ended or refused: `pg_terminate_backend`,
 * a shutdown, a crash of another backend, a database starting up (SQLSTATE class 57P, operator intervention).
 */
export const isTerminated = (e: unknown): boolean => e instanceof postgres.PostgresError && TERMINATION_CAUSES.has(e.code);

/** The log's words for a connection the database ended or refused ({@link isTerminated}), by its SQLSTATE. */
export const terminationCause = (e: unknown): string | undefined => (e instanceof postgres.PostgresError ? TERMINATION_CAUSES.get(e.code) : undefined);

/**
 * `e` as an {@link IoError}, marked for the client: `timedOut` when a time limit or the command's
 * deadline ended it (whatever the statement then failed with: the deadline's own cancel reads as an
 * administrator's) or the store's cancel of another command's statement did ({@link StrayCancelError}),
 * `interrupted` when an administrator or the database did, `outcomeUnknown` when a COMMIT was sent and the
 * database went silent ({@link CommitUnansweredError}: never "failed", it may have landed). The log's message
 * names the cause where PostgreSQL's does not.
 */
export const postgresIoError = (e: unknown): IoError => {
  const deadline = commandDeadline();
  if (e instanceof CommitUnansweredError) return { kind: 'io', message: e.message, outcomeUnknown: 'database' };
  if (e instanceof CommandDeadlineError || e instanceof StatementAbandonedError) return { kind: 'io', message: e.message, timedOut: true };
  if (deadline?.expired === true) return { kind: 'io', message: `the command passed its deadline of ${deadline.allowedMs} ms: ${toIoError(e).message}`, timedOut: true };
  // The store's own cancel, meant for another command's statement that ended first: not an administrator's.
  if (e instanceof StrayCancelError) return { kind: 'io', message: e.message, timedOut: true };
  if (isCancelledByUser(e)) return { kind: 'io', message: `a database administrator cancelled the statement (pg_cancel_backend): ${toIoError(e).message}`, interrupted: 'cancelled' };
  const cause = terminationCause(e);
  if (cause !== undefined) {
    const message = `${cause}: ${toIoError(e).message}`;
    // A connection refused as the database starts ran nothing: the client's plain "please try again", not "closed its connection".
    return e instanceof postgres.PostgresError && e.code === CONNECTION_REFUSED ? { kind: 'io', message } : { kind: 'io', message, interrupted: 'terminated' };
  }
  return isTimedOut(e) ? { ...toIoError(e), timedOut: true } : toIoError(e);
};

/** Runs `work`, a failure (thrown) as its {@link postgresIoError}. */
export const attempt =
  <A>(work: () => Promise<A>): TE.TaskEither<IoError, A> =>
  async () => {
    try {
      return E.right(await work());
    } catch (e) {
      return E.left(postgresIoError(e));
    }
  };

/** {@link attempt} for work that answers with an `Either` of its own. */
export const attemptEither = <Err, A>(work: () => Promise<E.Either<Err, A>>): TE.TaskEither<Err | IoError, A> => pipe(attempt(work), TE.chainEitherKW(identity));
