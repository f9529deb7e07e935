import type { Sql, TransactionSql } from 'postgres';
import { overThreadLimits } from '../store/thread-growth.js';
import { entryAccount, holdingCounted, withAppended, type ThreadHolding } from '../store/thread-share.js';
import type { ThreadSize } from '../store/thread-size.js';
import type { ThreadEntry } from '../store/thread.js';

/** Powers of ten a message's number may reach (10 to 10^9): a number's digits are one more per power reached. */
const POWERS = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => 10 ** k);

/** The account's messages in the thread (`$1`, `$2`), as schema 14's index of them finds them. */
const MINE = `FROM entries WHERE thread = $1 AND author = $2 AND kind = 'message'`;

/** Digits the account's messages get for their numbers reaching `k`, `t.m` being the thread's message count. */
const digitsPast = (k: number): string => {
  // Message k's position, from the thread's nearer end: one of the two subqueries runs, the other is not evaluated.
  const at = `CASE WHEN t.m - ${k} < ${k - 1}
      THEN (SELECT pos FROM entries WHERE thread = $1 AND kind = 'message' ORDER BY pos DESC OFFSET t.m - ${k} LIMIT 1)
      ELSE (SELECT pos FROM entries WHERE thread = $1 AND kind = 'message' ORDER BY pos OFFSET ${k - 1} LIMIT 1) END`;
  // The fewer of the account's messages: those after it (at most t.m - k + 1), or those before it (at most k - 1).
  return `CASE WHEN t.m < ${k} THEN 0
      WHEN t.m - ${k} + 1 < ${k - 1} THEN (SELECT count(*) ${MINE} AND pos >= (${at}))
      ELSE h.messages - (SELECT count(*) ${MINE} AND pos < COALESCE((${at}), ${Number.MAX_SAFE_INTEGER})) END`;
};

/**
 * The statement reading what `$2`'s lines hold of thread `$1`; apart so that its plan can be looked at (EXPLAIN).
 *
 * `thread_holdings` (schema 14, kept by triggers with the lines, on any server) has the account's lines, its
 * messages among them, and their reply bytes without the messages' numbers: a DLT renumbers every later
 * message, so a number is not kept but counted here. Each of the account's messages has one digit, and one
 * more for each of 10, 100, 1,000 and 10,000 that its number reaches: the account's messages at or past the
 * position of message 10, 100… (found in the index of the thread's messages from its nearer end, as EDT finds
 * a message), counted in the index of the account's messages. Past 1,000 the fewer are those before it (at most
 * 9, 99, 999 of them), at 10,000 those after (one at most). So at most about 2,200 index entries are read,
 * whatever the thread's lines, never a line: until schema 14 every line of the thread was read and numbered
 * (a thread of 10,000 lines: about 50 ms a MSG under its row's lock, see SECURITY.md).
 *
 * The thread's message count is its row's, read in this statement: the holding, the count and the index are
 * one snapshot, so the positions found are those of messages 10, 100… even outside the row's lock (an upload's
 * start reads the row in a statement before). With a count read before, a DLT committed in between made it take
 * message 99 for 100, and a MSG one too late (a digit too many or too few: test postgres-thread-share-stale).
 */
export const ACCOUNT_HOLDING_QUERY = `SELECT h.entries, (h.bytes + h.messages${POWERS.map((k) => ` + (${digitsPast(k)})`).join('')})::text AS bytes
    FROM thread_holdings h CROSS JOIN (SELECT message_count AS m FROM threads WHERE title = $1) t
    WHERE h.thread = $1 AND h.account = $2`;

/**
 * What `account`'s lines hold of thread `size.title` (store/thread-share.ts): how many, and their bytes in
 * its RDT reply, each message numbered as RDT numbers it ({@link ACCOUNT_HOLDING_QUERY}). The caller holds the
 * thread row's lock (`lockThreadSize`, read into `size`), which every change of its lines takes, on any server:
 * two lines of one account are counted one after the other. Without it (an upload's start), the holding is the
 * lines' as the statement sees them.
 */
export const accountHolding = async (tx: TransactionSql | Sql, size: ThreadSize, account: string): Promise<ThreadHolding> => {
  const rows = await tx.unsafe<{ entries: number; bytes: string }[]>(ACCOUNT_HOLDING_QUERY, [size.title, account]);
  const row = rows[0];
  return { entries: row?.entries ?? 0, bytes: Number(row?.bytes ?? 0) };
};

/**
 * What the account of `entry` holds of the thread once `entry` is appended to it (of size `before`, then
 * `after`), if counted (`holdingCounted`) and the thread not past its limits (refused as full, not read):
 * under the thread row's lock when `tx` holds it.
 */
export const holdingAfterAppend = async (tx: TransactionSql | Sql, before: ThreadSize, after: ThreadSize, entry: ThreadEntry): Promise<ThreadHolding | undefined> => {
  const account = entryAccount(entry);
  if (overThreadLimits(after) || !holdingCounted(after, account)) return undefined;
  return withAppended(await accountHolding(tx, before, account), before, entry);
};
