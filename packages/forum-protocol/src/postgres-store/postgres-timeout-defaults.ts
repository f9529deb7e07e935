// Apart from postgres-timeouts.ts, which loads the database driver: forum-server's usage text quotes these defaults,
// and a server on a data directory never loads the driver (forum-server.ts imports forum-protocol/postgres on --store).

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
