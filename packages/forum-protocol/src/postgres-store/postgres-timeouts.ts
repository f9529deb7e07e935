import postgres, { type PendingQuery, type Row, type Sql, type TransactionSql } from 'postgres';
import { toIoError, type IoError } from '../store/errors.js';

/**
 * PostgreSQL's time limits on each of a server's pool connections, ms (0: none). Without them a
 * statement waiting on a lock that another server's stuck transaction holds, or on a disk that
 * hangs, kept its pool connection for good; ten such statements stalled the server (attack round 12).
 */
export interface PostgresTimeouts {
  /** `statement_timeout`: the longest one statement may run, lock waits included. */
  readonly statementMs: number;
  /** `lock_timeout`: the longest one statement may wait for a lock (a row, a table, an advisory lock). */
  readonly lockMs: number;
  /**
   * `idle_in_transaction_session_timeout`: the longest a connection may sit in an open transaction
   * between statements; past it the database ends the session, rolling the transaction back and
   * releasing its locks. Bounds what a server that hangs (or whose host dies) mid-transaction holds
   * against the others.
   */
  readonly idleInTransactionMs: number;
}

/**
 * The limits a server's connections get unless its URL sets them. A forum statement reads or writes
 * one thread, a chunk of 256 KiB or a few counters, in milliseconds, and holds its locks for no more;
 * these leave room for a loaded machine while one statement stays under the client's 8 s wait for a
 * reply (so the client reads why; a command of several statements that each wait can still pass it)
 * and far under the lease of a session (15 s).
 */
export const DEFAULT_POSTGRES_TIMEOUTS: PostgresTimeouts = { statementMs: 5_000, lockMs: 2_000, idleInTransactionMs: 10_000 };

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

/** Whether `e` is a statement ended by one of the {@link PostgresTimeouts}. */
export const isTimedOut = (e: unknown): boolean => e instanceof postgres.PostgresError && TIMED_OUT_CODES.has(e.code);

/** `e` as an {@link IoError}, marked `timedOut` when a time limit ended it (the client is told so). */
export const postgresIoError = (e: unknown): IoError => (isTimedOut(e) ? { ...toIoError(e), timedOut: true } : toIoError(e));

/**
 * Milliseconds of statement time allowed for each upload chunk (256 KiB) a deletion removes: deleting
 * an upload's chunks costs about 0.57 ms a chunk here (1 GiB: 2.35 s, `RMV` of its thread), so this
 * leaves ten times that for a slower disk.
 */
export const MS_PER_DELETED_CHUNK = 6;

/**
 * Raises this transaction's `statement_timeout` (if it has one) by {@link MS_PER_DELETED_CHUNK} for
 * each chunk of the uploads `uploadIds` selects, before a statement that deletes them: the work of
 * such a deletion grows with the bytes stored, and a fixed limit would make a thread holding a few
 * GiB of uploads impossible to remove (each RMV timed out and rolled back).
 */
export const allowForDeletedChunks = async (tx: TransactionSql, uploadIds: PendingQuery<Row[]>): Promise<void> => {
  await tx`
    SELECT set_config('statement_timeout',
      CASE WHEN s.setting::bigint = 0 THEN '0'
           ELSE (s.setting::bigint + ${MS_PER_DELETED_CHUNK} * (SELECT count(*) FROM upload_chunks WHERE upload_id IN (${uploadIds})))::text END,
      true)
    FROM pg_settings s WHERE s.name = 'statement_timeout'`;
};

/** Deletes the uploads (pending or not) that `uploadIds` selects, with their chunks, in a transaction allowed the time their chunks need. */
export const deleteUploads = async (sql: Sql, uploadIds: (tx: TransactionSql) => PendingQuery<Row[]>): Promise<number> =>
  sql.begin(async (tx) => {
    await allowForDeletedChunks(tx, uploadIds(tx));
    const rows = await tx`DELETE FROM uploads WHERE id IN (${uploadIds(tx)}) RETURNING id`;
    return rows.length;
  });
