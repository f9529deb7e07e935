import postgres, { type PendingQuery, type Row, type Sql, type TransactionSql } from 'postgres';
import { commandDeadline, CommandDeadlineError, type CommandDeadline } from '../store/command-deadline.js';
import { ABANDON_AFTER_MS, abandonIfRunning, CommitUnansweredError, destroyConnectionOf, StatementAbandonedError } from './postgres-abandon.js';

/**
 * What postgres.js (3.4) keeps on a query that this module reads: whether it was handed to the pool
 * (`executed`), and the pool's canceller, whose promise `cancel()` drops (a cancel request that cannot
 * connect would be an unhandled rejection, which ends the process).
 */
interface QueryInternals {
  readonly executed?: boolean;
  /** The backend it was written to (`{ pid, secret }`), or `null` while it waits in the pool's queue. */
  readonly state?: unknown;
  /** Whether it is the statement its connection runs now (not one pipelined behind it). */
  readonly active?: boolean;
  canceller?: ((query: unknown) => Promise<void>) | null;
  /** Settles the query with an error (postgres.js calls it when its statement fails). */
  reject?: (e: unknown) => void;
  /** Settles the query with its rows. */
  resolve?: (rows: unknown) => void;
  /** `.values()` / `.raw()`: how its rows are given (copied to a retry). */
  isRaw?: unknown;
  readonly onlyDescribe?: boolean;
  readonly cursorFn?: unknown;
  readonly forEachFn?: unknown;
  readonly streaming?: boolean;
  /** Destroys the socket it was written to (the workspace's patch of postgres.js, postgres-abandon.ts). */
  readonly destroySocket?: () => void;
}

/**
 * How long after the store's cancel request to a connection has landed (the postmaster closed its
 * connection, having signalled the backend) a "canceling statement due to user request" there is still
 * taken for that request's, ms; while it is in flight (at most
 * {@link CANCEL_IN_FLIGHT_MAX_MS}), any is. The backend acts on the signal within
 * milliseconds of it; an administrator's cancel of the same backend in that time reads as the store's
 * (the command is retried, or answered as timed out, rather than blamed on him).
 */
export const STRAY_CANCEL_WINDOW_MS = 1_000;

/**
 * How long a cancel request of the store's counts as in flight at most, ms from when it was sent: past it, it
 * is taken to have landed then. One lands in milliseconds (the postmaster reads it and closes its connection);
 * one whose connection neither closes nor fails (a network that drops it, a proxy that holds it) counted as
 * in flight until postgres.js's `connect_timeout` (30 s by default) destroyed it, or for good when the URL
 * sets none: an administrator's cancel of that connection meanwhile read as the store's (run again).
 */
export const CANCEL_IN_FLIGHT_MAX_MS = 3_000;

/** The store's cancel requests to one connection not yet charged to a statement. */
interface CancelsSent {
  /** Sent and not yet charged to a statement that failed by one. */
  pending: number;
  /** Sent and not yet landed. */
  inFlight: number;
  /** When the last one landed (`performance.now()`), if one has. */
  landedAt: number | undefined;
}

/** The connections (postgres.js's `{ pid, secret }` of each) the store sent cancel requests to (two commands' deadlines can each send one). */
const cancelsSent = new WeakMap<object, CancelsSent>();

/**
 * Notes a cancel request sent to `backend`, and when `landing` (the request's connection closing) settles, or
 * {@link CANCEL_IN_FLIGHT_MAX_MS} has passed, whichever comes first.
 */
const noteCancel = (backend: object, landing: Promise<void>): void => {
  const sent = cancelsSent.get(backend) ?? { pending: 0, inFlight: 0, landedAt: undefined };
  sent.pending += 1;
  sent.inFlight += 1;
  cancelsSent.set(backend, sent);
  let done = false;
  const landed = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    sent.inFlight -= 1;
    sent.landedAt = performance.now();
  };
  const timer = setTimeout(landed, CANCEL_IN_FLIGHT_MAX_MS);
  // Cleared when it lands: the timer must not keep a stopping process alive meanwhile.
  timer.unref();
  landing.then(landed, landed);
};

/**
 * Why a statement failed: the store's own cancel request, sent to its connection for another command's
 * statement that had ended before it arrived, cancelled this one (PostgreSQL's cancel names a connection,
 * not a statement). Not this command's deadline, nor an administrator. `code` is `ERR_STRAY_CANCEL`;
 * `cause` is PostgreSQL's error (57014).
 */
export class StrayCancelError extends Error {
  readonly code = 'ERR_STRAY_CANCEL';
  constructor(override readonly cause: unknown) {
    super(`the server's own cancel of another command's statement on this connection reached this one: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'StrayCancelError';
  }
}

// query_canceled (57014) is statement_timeout's and a cancel request's (pg_cancel_backend, the store's own)
// alike. PostgreSQL raises each at its own place in its source, which its error names (file, line, routine)
// in any language; the message is in the database's (lc_messages), English only by default.
const BY_USER_REQUEST = /due to user request/;

/** The most places and messages of a cancel request kept (one a PostgreSQL build and language the process met). */
const MAX_LEARNT = 16;

/** Where PostgreSQL raised a cancel request's 57014 (`file:line:routine`), as {@link learnUserCancel} saw it. */
const userCancelSources = new Set<string>();

/** A cancel request's message in the language of a database {@link learnUserCancel} asked. */
const userCancelMessages = new Set<string>();

const sourceOf = (e: postgres.PostgresError): string | undefined =>
  e.file && e.line && e.routine ? `${e.file}:${e.line}:${e.routine}` : undefined;

/**
 * Learns from the database how its cancel request's error reads (its place in PostgreSQL's source, its
 * message): the statement cancels itself (`pg_cancel_backend(pg_backend_pid())`, which any role may). A
 * database whose messages are not in English (lc_messages 'de_DE') had its administrator's cancels read as
 * time limits, and the store's stray cancels not known (not run again). Nothing is learnt if it cannot be.
 */
export const learnUserCancel = async (sql: Sql): Promise<void> => {
  // Only the probe's own statement's error is learnt: a statement_timeout that ends BEGIN or the SET before
  // it (a limit of a millisecond or so) raises the same 57014, from the time limit's place in the source.
  let probed: unknown;
  try {
    await sql.begin(async (tx) => {
      // Without the connection's statement_timeout: one lower than the cancel takes to land ended the probe
      // instead, and its place (and message) was learnt as a cancel request's: every later statement_timeout
      // then read as an administrator's cancel (or a stray cancel of the store's, run again).
      await tx`SET LOCAL statement_timeout = 0`;
      try {
        await tx`SELECT pg_cancel_backend(pg_backend_pid()), pg_sleep(0.5)`;
      } catch (e) {
        probed = e;
        throw e;
      }
    });
  } catch {
    const e = probed;
    if (!(e instanceof postgres.PostgresError) || e.code !== '57014') return;
    const source = sourceOf(e);
    if (source !== undefined && userCancelSources.size < MAX_LEARNT) userCancelSources.add(source);
    if (userCancelMessages.size < MAX_LEARNT) userCancelMessages.add(e.message);
  }
};

/**
 * Whether `e` is a statement cancelled by a cancel request (`pg_cancel_backend`, or the store's own): SQLSTATE
 * 57014 raised where {@link learnUserCancel} saw a cancel request's raised, or with its message, or PostgreSQL's
 * English one ("… due to user request"); never `statement_timeout`'s, raised elsewhere and worded otherwise.
 * Here, not in postgres-timeouts.ts (which imports this module), so both use one.
 */
export const isCancelledByUser = (e: unknown): boolean => {
  if (!(e instanceof postgres.PostgresError) || e.code !== '57014') return false;
  const source = sourceOf(e);
  return (source !== undefined && userCancelSources.has(source)) || userCancelMessages.has(e.message) || BY_USER_REQUEST.test(e.message);
};

/**
 * Whether `e`, the failure of `query` (of a command under `deadline`, if any), is a cancel the store sent
 * for another statement. A cancel request cancels at most one statement, so the one it is charged to
 * (its own target's, past its deadline, or a stray's) is forgotten.
 */
const isStrayCancel = (query: QueryInternals, deadline: CommandDeadline | undefined, e: unknown): boolean => {
  const backend = query.state;
  if (!isCancelledByUser(e) || typeof backend !== 'object' || backend === null) return false;
  const sent = cancelsSent.get(backend);
  if (sent === undefined || sent.pending === 0) return false;
  sent.pending -= 1;
  const recent = sent.inFlight > 0 || (sent.landedAt !== undefined && performance.now() - sent.landedAt <= STRAY_CANCEL_WINDOW_MS);
  return recent && deadline?.expired !== true;
};

/**
 * Catches `query`'s failure by a stray cancel (see {@link isStrayCancel}): run once more (`again`, outside a
 * transaction: a statement cancelled took no effect) or failed as a {@link StrayCancelError}.
 */
const watchForStrayCancel = (query: QueryInternals, deadline: CommandDeadline | undefined, again: (() => unknown) | undefined): void => {
  const reject = query.reject;
  const resolve = query.resolve;
  if (typeof reject !== 'function' || typeof resolve !== 'function') return;
  query.reject = (e: unknown) => {
    if (!isStrayCancel(query, deadline, e)) return reject(e);
    const plain = query.onlyDescribe !== true && query.cursorFn == null && query.forEachFn == null && query.streaming !== true;
    if (again === undefined || !plain) return reject(new StrayCancelError(e));
    try {
      const retry = again() as QueryInternals & PromiseLike<unknown>;
      retry.isRaw = query.isRaw;
      retry.then(resolve, reject);
    } catch (retryError) {
      reject(retryError);
    }
  };
};

/**
 * Stops `query` at its command's deadline: one waiting for a connection is rejected where it waits, the
 * one its connection runs gets a cancel request, and one already done is left so. The store's pool writes
 * no statement behind another's (`max_pipeline: 0`, postgres-store.ts), so a statement waits in the pool's
 * queue until a connection is free. With the unpatched driver it pipelines, and one pipelined behind the
 * statement its connection runs (written to it, not yet started) is left to run: postgres.js 3.4.9,
 * reaching such a query marked cancelled, sends its cancel and takes the query after it as the one
 * running, so that query got the cancelled one's rows (another command's: a login read another account's
 * secret) and the cancelled one never settled. Its command then waits for the statements ahead of it
 * there (each under `statement_timeout` or its own command's deadline), and is refused its next statement.
 * A query never handed to the pool is a fragment of another (or unused): cancelling it would reject a
 * promise nobody awaits.
 *
 * PostgreSQL's cancel request names a connection, not a statement: one that arrives after its statement
 * ended cancels whatever that connection runs next, maybe another command's statement. The connection
 * and the time are noted, so that statement's failure is known for a stray cancel (`watchForStrayCancel`)
 * rather than read as an administrator's. postgres.js gives no way to hold the connection's next statement
 * until the cancel has landed, so the stray cancel itself is not prevented.
 */
const stop = (query: QueryInternals, inTransaction: boolean): void => {
  if (query.executed !== true) return;
  if (query.state != null && query.active !== true) return;
  // In a transaction, one not yet written waits in the transaction's own queue, not the pool's: postgres.js
  // cancels it only in the pool's, and the transaction's connection, reaching it there, wrote nothing and
  // waited for good (its ROLLBACK queued behind it), holding its row locks and a pool connection until
  // idle_in_transaction_session_timeout ended the session (10 s by default). Left there, it runs after the
  // statement cancelled and fails at once (the transaction is aborted), or the command's end rolls it back.
  if (query.state == null && inTransaction) return;
  const canceller = query.canceller;
  if (typeof canceller !== 'function') return;
  query.canceller = null;
  const landing = canceller(query);
  landing.catch(() => undefined);
  const backend = query.state;
  if (typeof backend === 'object' && backend !== null) noteCancel(backend, landing);
};

const isTemplate = (first: unknown): boolean => Array.isArray(first) && 'raw' in first;

/** Told of each query a transaction's body makes (its connection is theirs: `transaction` destroys it through them). */
type MadeQuery = (query: QueryInternals) => void;

/**
 * A query made under `deadline`: refused if it has passed, else stopped when it passes. One failed by a
 * stray cancel is run once more outside a transaction (under the same deadline), else fails as a
 * {@link StrayCancelError} (its transaction is run again whole, see `retryingStray`). Outside a transaction,
 * one still at the database {@link ABANDON_AFTER_MS} after the deadline (its cancel unanswered: a database
 * hung or cut off) is given up, its connection destroyed (postgres-abandon.ts); a transaction's statements are
 * its transaction's to give up (`transaction`).
 */
const underDeadline = <Q>(deadline: CommandDeadline | undefined, inTransaction: boolean, make: () => Q, made?: MadeQuery, retries = 1): Q => {
  const again = inTransaction || retries <= 0 ? undefined : () => underDeadline(deadline, inTransaction, make, made, retries - 1);
  if (deadline?.expired === true) throw new CommandDeadlineError(deadline.allowedMs);
  const query = make();
  const internals = query as QueryInternals;
  made?.(internals);
  watchForStrayCancel(internals, deadline, again);
  // Cleared when the command ends: a command makes a few statements, so the calls kept meanwhile are few.
  deadline?.onExpire(() => {
    stop(internals, inTransaction);
    if (!inTransaction) giveUpLater(() => abandonIfRunning(internals, new StatementAbandonedError(deadline.allowedMs)));
  });
  return query;
};

/** Runs `f` {@link ABANDON_AFTER_MS} from now (not keeping a stopping process alive for it). */
const giveUpLater = (f: () => void): NodeJS.Timeout => {
  const timer = setTimeout(f, ABANDON_AFTER_MS);
  timer.unref();
  return timer;
};

/**
 * `run` (a transaction) run again, once, if it failed by a stray cancel while its command's deadline (if
 * any) has not passed: the transaction rolled back, so nothing of its first run stays.
 */
const retryingStray = <T>(deadline: CommandDeadline | undefined, run: () => Promise<T>): Promise<T> =>
  run().catch((e: unknown) => {
    if (!(e instanceof StrayCancelError) || deadline?.expired === true) throw e;
    return run();
  });

/**
 * A transaction under `deadline`: refused if it has passed; while it waits for a connection, given up
 * at the deadline (it then rolls back as soon as it starts); once started, its statements are stopped
 * at the deadline and it is rolled back rather than committed if the deadline passed meanwhile. Its
 * outcome once started is awaited for {@link ABANDON_AFTER_MS} past the deadline (the cancel's rollback, a
 * COMMIT's answer), never guessed. Unsettled then (a database hung or cut off answers nothing), it is given
 * up and its connection destroyed: one whose body had not returned cannot commit (COMMIT is never written,
 * and the database rolls back as it reads the connection's end) and fails as a {@link StatementAbandonedError};
 * one whose COMMIT was written may have committed, and fails as a {@link CommitUnansweredError}. One whose
 * BEGIN is still unanswered at the deadline fails at once, and its BEGIN is given up so past it.
 */
const transaction = <T>(deadline: CommandDeadline, begin: (fn: (tx: TransactionSql) => Promise<T>) => Promise<T>, fn: (tx: TransactionSql) => T | Promise<T>): Promise<T> => {
  if (deadline.expired) return Promise.reject(new CommandDeadlineError(deadline.allowedMs));
  let started = false;
  // The body returned before the deadline: postgres.js writes COMMIT now.
  let committing = false;
  // The body's statements: any one written names the transaction's connection (a COMMIT or ROLLBACK unanswered is postgres.js's own).
  const made: QueryInternals[] = [];
  // Its BEGIN, postgres.js's own (the patched driver tells it: `onbegin`), written to the transaction's connection.
  let beginQuery: QueryInternals | undefined;
  const body = async (tx: TransactionSql): Promise<T> => {
    started = true;
    if (deadline.expired) throw new CommandDeadlineError(deadline.allowedMs);
    const result = await fn(inTransactionSql(tx, (q) => void made.push(q)));
    if (deadline.expired) throw new CommandDeadlineError(deadline.allowedMs);
    committing = true;
    return result;
  };
  const running = begin(
    Object.assign(body, {
      onbegin: (q: QueryInternals) => {
        beginQuery = q;
      },
    }),
  );
  return new Promise<T>((resolve, reject) => {
    let giveUp: NodeJS.Timeout | undefined;
    const off = deadline.onExpire(() => {
      if (!started) {
        reject(new CommandDeadlineError(deadline.allowedMs));
        // A BEGIN at a database gone silent held its connection until the database answered (for good if it never
        // does: a failover that left the connection cut off), and with a pool of such every command waited: given
        // up as a statement is. One still waiting for a connection holds none, and rolls back once it starts.
        giveUp = giveUpLater(() => {
          if (!started && beginQuery !== undefined) abandonIfRunning(beginQuery, new StatementAbandonedError(deadline.allowedMs));
        });
        return;
      }
      giveUp = giveUpLater(() => {
        // Failed first: the connection's close fails it too, as a lost connection (which a caller may ask about).
        reject(committing ? new CommitUnansweredError(deadline.allowedMs) : new StatementAbandonedError(deadline.allowedMs));
        // The BEGIN too: a body that made no statement yet (its BEGIN answered late, its ROLLBACK unanswered) names none.
        [...made, ...(beginQuery === undefined ? [] : [beginQuery])].some(destroyConnectionOf);
      });
    });
    running
      .then(resolve, (e: unknown) => {
        // Its body threw (a statement cancelled at the deadline, refused, cut off): postgres.js wrote ROLLBACK, never COMMIT.
        if (!committing && typeof e === 'object' && e !== null) rolledBackBeforeCommit.add(e);
        reject(e);
      })
      .finally(() => {
        off();
        clearTimeout(giveUp);
      });
  });
};

/** The failures of transactions under a deadline that ended before their COMMIT was written (see {@link failedBeforeCommit}). */
const rolledBackBeforeCommit = new WeakSet<object>();

/**
 * Whether `e`, the failure of a transaction under a command's deadline, came before its COMMIT was written: it
 * rolled back for sure, whatever failed it (a statement the deadline cancelled, a lost connection, its body's
 * own error), and asking whether it committed is needless (past the deadline, it could not be asked: the answer
 * was "may or may not be stored" of a change known not to be).
 */
export const failedBeforeCommit = (e: unknown): boolean => typeof e === 'object' && e !== null && rolledBackBeforeCommit.has(e);

/**
 * `sql` (a pool, or a transaction's) held to the deadline of the command that uses it
 * ({@link commandDeadline}): once it has passed no statement starts (`CommandDeadlineError`), and the
 * statement running then is cancelled, so its transaction rolls back. Outside a command (a heartbeat,
 * a transfer's chunks) it is `sql` as it was.
 */
export const deadlineSql = <S extends Sql | TransactionSql>(sql: S): S => heldToDeadline(sql, false);

/** A transaction's `sql` held to its command's deadline (see `stop`: its statements wait in its own queue); `made` told of each query. */
const inTransactionSql = (tx: TransactionSql, made?: MadeQuery): TransactionSql => heldToDeadline(tx, true, made);

const heldToDeadline = <S extends Sql | TransactionSql>(sql: S, inTransaction: boolean, made?: MadeQuery): S =>
  new Proxy(sql, {
    apply: (target, self, args: unknown[]) =>
      isTemplate(args[0]) ? underDeadline(commandDeadline(), inTransaction, () => Reflect.apply(target, self, args) as unknown, made) : Reflect.apply(target, self, args),
    get: (target, key) => {
      if (key === 'unsafe') {
        return (...args: Parameters<Sql['unsafe']>): PendingQuery<Row[]> => underDeadline(commandDeadline(), inTransaction, () => target.unsafe(...args), made);
      }
      if (key === 'begin' && 'begin' in target) {
        const pool: Sql = target;
        return (...args: readonly unknown[]): Promise<unknown> => {
          const fn = args[args.length - 1] as (tx: TransactionSql) => unknown;
          const options = args.length > 1 ? String(args[0]) : '';
          const begin = <T>(body: (tx: TransactionSql) => Promise<T>): Promise<T> => pool.begin(options, body) as Promise<T>;
          const deadline = commandDeadline();
          return retryingStray(deadline, () => (deadline === undefined ? begin(async (tx) => fn(inTransactionSql(tx))) : transaction(deadline, begin, fn)));
        };
      }
      return Reflect.get(target, key, target) as unknown;
    },
  });
