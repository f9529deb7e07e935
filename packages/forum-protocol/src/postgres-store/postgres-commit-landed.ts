import type { Sql } from 'postgres';
import { outsideCommandDeadline } from '../store/command-deadline.js';

/**
 * Whether the transaction `xid` (its `txid_current()`), which changed thread `title` and whose COMMIT failed
 * from this side (the connection lost with COMMIT's answer), committed after all: asked on another
 * connection, under the thread row's lock, so a COMMIT the database is still running is waited for, not read
 * as not yet done. Outside the command's deadline, which may be what failed it: the answer must still be
 * true. False when the database cannot tell (out of reach): the failure then stands.
 */
export const committedAfterAll = (sql: Sql, title: string, xid: string): Promise<boolean> =>
  outsideCommandDeadline(() =>
    sql.begin(async (tx) => {
      await tx`SELECT 1 FROM threads WHERE title = ${title} FOR UPDATE`;
      const [row] = await tx<{ status: string | null }[]>`SELECT txid_status(${xid}::bigint) AS status`;
      return row?.status === 'committed';
    }),
  ).catch(() => false);
