import * as E from 'fp-ts/lib/Either.js';
import type { Sql, TransactionSql } from 'postgres';
import type { IoError } from '../store/errors.js';
import type { Account } from '../store/store.js';
import { committedUnderLock, settledTransaction } from './postgres-commit-landed.js';

/** Class of the account names' advisory locks ("acc"): a new account's transaction holds its name's until it ends. */
export const ACCOUNT_LOCK_CLASS = 0x616363;

// Names of one hash share a lock: their creations wait for each other, as if they were one name (a few ms).
const lockName = (tx: TransactionSql, username: string): Promise<unknown> => tx`SELECT pg_advisory_xact_lock(${ACCOUNT_LOCK_CLASS}, hashtext(${username}))`;

/**
 * Creates `account` unless its name is taken (`false`). A transaction whose COMMIT's answer was lost with its
 * connection is asked about (postgres-commit-landed.ts) under the name's lock, which it held until it ended
 * (its new row, unseen by others until it commits, has none to wait on): answered a failure, the new user's
 * retry found the account made, and was asked for the password of an account it was told was not made.
 */
export const createAccountInPostgres = async (sql: Sql, account: Account): Promise<E.Either<IoError, boolean>> => {
  return settledTransaction(
    (wrote) =>
      sql.begin(async (tx): Promise<E.Either<IoError, boolean>> => {
        // Pipelined: one round trip, the lock first.
        const [, rows] = await Promise.all([
          lockName(tx, account.username),
          tx<{ xid: string }[]>`INSERT INTO accounts (username, secret, origin) VALUES (${account.username}, ${account.password}, ${account.origin ?? null})
             ON CONFLICT DO NOTHING RETURNING txid_current()::text AS xid`,
        ]);
        const xid = rows[0]?.xid;
        if (xid !== undefined) wrote(xid);
        return E.right(xid !== undefined);
      }),
    (xid) => accountCommittedAfterAll(sql, account.username, xid),
    true,
  );
};

/** Whether the creation of account `username` by transaction `xid`, whose COMMIT's answer was lost, committed after all: under the name's lock. */
export const accountCommittedAfterAll = (sql: Sql, username: string, xid: string): Promise<boolean | undefined> =>
  committedUnderLock(sql, (tx) => lockName(tx, username), xid);
