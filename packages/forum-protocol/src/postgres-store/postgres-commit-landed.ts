import * as E from 'fp-ts/lib/Either.js';
import postgres, { type Sql, type TransactionSql } from 'postgres';
import { setTimeout as sleep } from 'node:timers/promises';
import { commandDeadline, CommandDeadlineError, outsideCommandDeadline, withCommandDeadline } from '../store/command-deadline.js';
import type { IoError } from '../store/errors.js';
import { StatementAbandonedError } from './postgres-abandon.js';
import { failedBeforeCommit } from './postgres-deadline.js';
import { attemptEither, isTerminated } from './postgres-timeouts.js';

/**
 * How long {@link committedAfterAll} keeps asking while the database cannot be reached, ms. A COMMIT's answer
 * lost with its connection is most often a database that went away (a crash, an immediate shutdown) and comes
 * back within a second or two (crash recovery); asked once, then, the question failed too, and the change
 * that landed was answered a failure whose retry doubled it.
 */
export const COMMIT_QUESTION_MS = 5_000;

/** The pause between two questions, ms (the pool's reconnect backoff paces them too, postgres-reconnect.ts). */
const COMMIT_QUESTION_PAUSE_MS = 250;

/**
 * Whether `e` says the database could not be reached or was going away (a connection refused, reset or
 * closed; 57P01-03: shut down, crashed, starting up), rather than an answer it gave (a lock not granted in
 * lock_timeout, an xid it does not know): worth asking again.
 */
const outOfReach = (e: unknown): boolean => !(e instanceof postgres.PostgresError) || isTerminated(e);

/**
 * `question`'s answer, asked after a COMMIT whose answer was lost: outside the command's deadline, which may be
 * what failed the commit (the answer must still be true), and again while the database is out of reach, for
 * up to {@link COMMIT_QUESTION_MS} or what is left of the command's deadline, whichever is less: its
 * statements are held to that (postgres-deadline.ts), so a database gone silent cannot keep the command from
 * its answer (it waited for good, past the client's wait). `undefined` when the database cannot tell in that
 * time (still out of reach, silent, or it answers with an error).
 */
export const askedAfterLostCommit = (question: () => Promise<boolean>): Promise<boolean | undefined> => {
  const left = commandDeadline()?.remainingMs ?? COMMIT_QUESTION_MS;
  const budget = Math.max(0, Math.min(COMMIT_QUESTION_MS, left));
  return outsideCommandDeadline(() =>
    withCommandDeadline(budget, async () => {
      const until = performance.now() + budget;
      for (;;) {
        try {
          return await question();
        } catch (e) {
          if (!outOfReach(e) || performance.now() + COMMIT_QUESTION_PAUSE_MS >= until) return undefined;
          await sleep(COMMIT_QUESTION_PAUSE_MS);
        }
      }
    }),
  );
};

/**
 * `transaction`, with `rolledBack` called if it fails in a way that leaves it rolled back for sure: its
 * command's deadline refused a statement or its COMMIT, or gave it up before its COMMIT was written, or it
 * failed in any way before its COMMIT was written (a statement the deadline cancelled: postgres-deadline.ts). Such a failure needs no question (which, past the deadline, has no time left to
 * be asked: the answer was "may or may not be stored" of a change known not to be).
 */
export const noticingRollback = <A>(transaction: Promise<A>, rolledBack: () => void): Promise<A> =>
  transaction.catch((e: unknown) => {
    if (surelyRolledBack(e)) rolledBack();
    throw e;
  });

/** Whether `e`, a transaction's failure, leaves it rolled back for sure (see {@link noticingRollback}). */
export const surelyRolledBack = (e: unknown): boolean => e instanceof CommandDeadlineError || e instanceof StatementAbandonedError || failedBeforeCommit(e);

/** Whether `e` is a failure whose change may or may not be stored ({@link IoError.outcomeUnknown}). */
export const isOutcomeUnknown = (e: unknown): boolean =>
  typeof e === 'object' && e !== null && (e as { readonly kind?: unknown }).kind === 'io' && (e as { readonly outcomeUnknown?: unknown }).outcomeUnknown !== undefined;

/**
 * `done`, the result of a change whose line was written (it may have committed), once the database is asked
 * (`asked`, {@link committedAfterAll}) when it failed: `committed` if it committed after all, the failure if
 * not, and an {@link IoError} marked `outcomeUnknown` if the database could not tell (never "failed": it may
 * have landed). A failure already of unknown outcome (a COMMIT unanswered by a silent database) is not asked
 * about: the question would get no answer either.
 */
export const settleLostCommit = async <L, A>(done: E.Either<L, A>, asked: () => Promise<boolean | undefined>, committed: A): Promise<E.Either<L | IoError, A>> => {
  if (E.isRight(done) || isOutcomeUnknown(done.left)) return done;
  const landed = await asked();
  if (landed === true) return E.right(committed);
  if (landed === false) return done;
  const why = typeof done.left === 'object' && done.left !== null && 'message' in done.left ? String(done.left.message) : 'its connection failed';
  return E.left({ kind: 'io', message: `${why}; the database could not say whether it committed: the change may or may not be stored`, outcomeUnknown: 'database' });
};

/**
 * Runs `transaction`, a change that tells its transaction id (`txid_current()`) through `wrote` once its row
 * is written, as {@link attemptEither} does; a failure after that write, unless it surely rolled back
 * ({@link noticingRollback}), is settled by asking `asked(xid)` ({@link settleLostCommit}: `committed` if it
 * landed). Every change whose COMMIT answer may be lost with its connection goes through it (MSG, EDT, DLT,
 * CRT, RMV, a new account): answered a failure, its retry posted twice, deleted the next message, or was
 * told the thread or account it had made exists.
 */
export const settledTransaction = async <L, A>(
  transaction: (wrote: (xid: string) => void) => Promise<E.Either<L, A>>,
  asked: (xid: string) => Promise<boolean | undefined>,
  committed: A,
): Promise<E.Either<L | IoError, A>> => {
  let xid: string | undefined;
  let rolledBack = false;
  const done = await attemptEither(() =>
    noticingRollback(
      transaction((x) => {
        xid = x;
      }),
      () => {
        rolledBack = true;
      },
    ),
  )();
  const written = xid;
  return written === undefined || rolledBack ? done : settleLostCommit(done, () => asked(written), committed);
};

/**
 * Whether the transaction `xid` (its `txid_current()`), whose COMMIT failed from this side (the connection
 * lost with COMMIT's answer), committed after all: asked on another connection ({@link askedAfterLostCommit}),
 * once `lock` (a lock that transaction held until it ended) is granted, so a COMMIT the database is still
 * running is waited for, not read as not yet done. That wait is bounded by the question's deadline (what is
 * left of the command's), not by the connection's `lock_timeout` (2 s): a COMMIT still running after 2 s (a
 * slow disk's flush, a transaction still open) was answered "may or may not be stored" with time left to
 * learn that it landed.
 */
export const committedUnderLock = (sql: Sql, lock: (tx: TransactionSql) => Promise<unknown>, xid: string): Promise<boolean | undefined> =>
  askedAfterLostCommit(() =>
    sql.begin(async (tx) => {
      // Always under the question's deadline (askedAfterLostCommit): its end cancels the wait, as lock_timeout would.
      const left = Math.max(1, Math.ceil(commandDeadline()?.remainingMs ?? COMMIT_QUESTION_MS));
      // Pipelined: one round trip, the limit first.
      await Promise.all([tx`SELECT set_config('lock_timeout', ${`${left}ms`}, true)`, lock(tx)]);
      const [row] = await tx<{ status: string | null }[]>`SELECT txid_status(${xid}::bigint) AS status`;
      return row?.status === 'committed';
    }),
  );

/**
 * {@link committedUnderLock} for a transaction `xid` that changed thread `title` (a MSG, EDT, DLT, upload or
 * RMV): under the thread row's lock, which it held. (A CRT's new row is not seen by others before it commits:
 * its question waits on the CRT's slot lock, postgres-create-thread.ts.)
 */
export const committedAfterAll = (sql: Sql, title: string, xid: string): Promise<boolean | undefined> =>
  committedUnderLock(sql, (tx) => tx`SELECT 1 FROM threads WHERE title = ${title} FOR UPDATE`, xid);
