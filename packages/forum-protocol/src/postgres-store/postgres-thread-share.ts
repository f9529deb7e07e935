import type { Sql, TransactionSql } from 'postgres';
import { entryAccount, holdingCounted, withAppended, type ThreadHolding } from '../store/thread-share.js';
import type { ThreadSize } from '../store/thread-size.js';
import type { ThreadEntry } from '../store/thread.js';

/**
 * What `account`'s lines hold of thread `title` (store/thread-share.ts): how
 * many, and their bytes in its RDT reply, each message numbered as RDT
 * numbers it (to_json escapes as JSON.stringify does, as schema 3's fill of
 * `reply_bytes` counts them). Read from the lines, not kept: a DLT or EDT
 * gives room back by changing them. The caller holds the thread row's lock
 * (`lockThreadSize`), which every change of its lines takes, on any server:
 * two lines of one account are counted one after the other. Reads the
 * thread's lines (their numbers need every message before), so it is asked
 * only of a thread larger than a share.
 */
export const accountHolding = async (tx: TransactionSql | Sql, title: string, account: string): Promise<ThreadHolding> => {
  const rows = await tx<{ entries: number; bytes: string }[]>`
    SELECT count(*)::int AS entries,
           COALESCE(sum(octet_length(to_json(CASE kind WHEN 'message' THEN n || ' ' || author || ': ' || body ELSE author || ' uploaded ' || body END)::text) + 1), 0)::text AS bytes
    FROM (SELECT kind, author, body, count(*) FILTER (WHERE kind = 'message') OVER (ORDER BY pos) AS n FROM entries WHERE thread = ${title}) numbered
    WHERE author = ${account} AND kind IN ('message', 'upload')`;
  const row = rows[0];
  return { entries: row?.entries ?? 0, bytes: Number(row?.bytes ?? 0) };
};

/**
 * What the account of `entry` holds of the thread once `entry` is appended to it (of size `before`, then
 * `after`), if counted (`holdingCounted`): under the thread row's lock when `tx` holds it.
 */
export const holdingAfterAppend = async (tx: TransactionSql | Sql, before: ThreadSize, after: ThreadSize, entry: ThreadEntry): Promise<ThreadHolding | undefined> => {
  const account = entryAccount(entry);
  if (!holdingCounted(after, account)) return undefined;
  return withAppended(await accountHolding(tx, before.title, account), before, entry);
};
