import type { PendingQuery, Row, Sql, TransactionSql } from 'postgres';
import { commandDeadline, CommandDeadlineError, type CommandDeadline } from '../store/command-deadline.js';

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
}

/**
 * Stops `query` at its command's deadline: one waiting for a connection is rejected where it waits, the
 * one its connection runs gets a cancel request, and one already done is left so. One pipelined behind
 * the statement its connection runs (written to it, not yet started) is left to run: postgres.js 3.4.9,
 * reaching such a query marked cancelled, sends its cancel and takes the query after it as the one
 * running, so that query got the cancelled one's rows (another command's: a login read another account's
 * secret) and the cancelled one never settled. Its command is refused its next statement instead, and
 * waits for the statements ahead of it there (each under `statement_timeout` or its own command's deadline).
 * A query never handed to the pool is a fragment of another (or unused): cancelling it would reject a
 * promise nobody awaits.
 *
 * PostgreSQL's cancel request names a connection, not a statement: one that arrives after its statement
 * ended (a statement of under a millisecond) cancels whatever that connection runs next, maybe another
 * command's statement behind it, which then fails as cancelled by an administrator. The price of a
 * deadline that the database keeps rather than only the server's wait (see README).
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
  canceller(query).catch(() => undefined);
};

const isTemplate = (first: unknown): boolean => Array.isArray(first) && 'raw' in first;

/** A query made under `deadline`: refused if it has passed, else stopped when it passes. */
const underDeadline = <Q>(deadline: CommandDeadline | undefined, inTransaction: boolean, make: () => Q): Q => {
  if (deadline === undefined) return make();
  if (deadline.expired) throw new CommandDeadlineError(deadline.allowedMs);
  const query = make();
  // Cleared when the command ends: a command makes a few statements, so the calls kept meanwhile are few.
  deadline.onExpire(() => stop(query as QueryInternals, inTransaction));
  return query;
};

/**
 * A transaction under `deadline`: refused if it has passed; while it waits for a connection, given up
 * at the deadline (it then rolls back as soon as it starts); once started, its statements are stopped
 * at the deadline and it is rolled back rather than committed if the deadline passed meanwhile. Its
 * outcome once started is awaited, never guessed: a COMMIT already sent is the command's answer.
 */
const transaction = <T>(deadline: CommandDeadline, begin: (fn: (tx: TransactionSql) => Promise<T>) => Promise<T>, fn: (tx: TransactionSql) => T | Promise<T>): Promise<T> => {
  if (deadline.expired) return Promise.reject(new CommandDeadlineError(deadline.allowedMs));
  let started = false;
  const running = begin(async (tx) => {
    started = true;
    if (deadline.expired) throw new CommandDeadlineError(deadline.allowedMs);
    const result = await fn(inTransactionSql(tx));
    if (deadline.expired) throw new CommandDeadlineError(deadline.allowedMs);
    return result;
  });
  return new Promise<T>((resolve, reject) => {
    const off = deadline.onExpire(() => {
      if (!started) reject(new CommandDeadlineError(deadline.allowedMs));
    });
    running.then(resolve, reject).finally(off);
  });
};

/**
 * `sql` (a pool, or a transaction's) held to the deadline of the command that uses it
 * ({@link commandDeadline}): once it has passed no statement starts (`CommandDeadlineError`), and the
 * statement running then is cancelled, so its transaction rolls back. Outside a command (a heartbeat,
 * a transfer's chunks) it is `sql` as it was.
 */
export const deadlineSql = <S extends Sql | TransactionSql>(sql: S): S => heldToDeadline(sql, false);

/** A transaction's `sql` held to its command's deadline (see `stop`: its statements wait in its own queue). */
const inTransactionSql = (tx: TransactionSql): TransactionSql => heldToDeadline(tx, true);

const heldToDeadline = <S extends Sql | TransactionSql>(sql: S, inTransaction: boolean): S =>
  new Proxy(sql, {
    apply: (target, self, args: unknown[]) =>
      isTemplate(args[0]) ? underDeadline(commandDeadline(), inTransaction, () => Reflect.apply(target, self, args) as unknown) : Reflect.apply(target, self, args),
    get: (target, key) => {
      if (key === 'unsafe') {
        return (...args: Parameters<Sql['unsafe']>): PendingQuery<Row[]> => underDeadline(commandDeadline(), inTransaction, () => target.unsafe(...args));
      }
      if (key === 'begin' && 'begin' in target) {
        const pool: Sql = target;
        return (...args: readonly unknown[]): Promise<unknown> => {
          const fn = args[args.length - 1] as (tx: TransactionSql) => unknown;
          const options = args.length > 1 ? String(args[0]) : '';
          const begin = <T>(body: (tx: TransactionSql) => Promise<T>): Promise<T> => pool.begin(options, body) as Promise<T>;
          const deadline = commandDeadline();
          return deadline === undefined ? begin(async (tx) => fn(tx)) : transaction(deadline, begin, fn);
        };
      }
      return Reflect.get(target, key, target) as unknown;
    },
  });
