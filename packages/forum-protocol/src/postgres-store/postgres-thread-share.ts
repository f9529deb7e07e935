import type { Sql, TransactionSql } from 'postgres';
import { overThreadLimits } from '../store/thread-growth.js';
import { entryAccount, holdingCounted, withAppended, type ThreadHolding } from '../store/thread-share.js';
import type { ThreadSize } from '../store/thread-size.js';
import type { ThreadEntry } from '../store/thread.js';

/**
 * The statement reading what `$2`'s lines hold of thread `$1`, whose message count was `messages` when last
 * read (`ThreadSize.messages`, kept on the thread's row), and its parameters' order; apart so that its plan can
 * be looked at (EXPLAIN).
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
 * `messages` only chooses which end and which side are read (their cost); the offsets and which powers count
 * are from the thread row's count read in this statement (`t.m`), one snapshot with the holding and the index,
 * so they are exact even outside the row's lock (an upload's start reads the row in a statement before, and a
 * DLT committed in between made the count given here take message 99 for 100, a MSG one too late: test
 * postgres-thread-share-stale). A power past ten times `messages` is not looked for (the count would have
 * grown tenfold between two statements).
 */
export const holdingQuery = (messages: number): string => {
  const digits: string[] = [];
  for (let k = 10; k <= Math.max(messages, 9) * 10; k *= 10) {
    const at =
      messages - k < k - 1
        ? `(SELECT pos FROM entries WHERE thread = $1 AND kind = 'message' ORDER BY pos DESC OFFSET t.m - ${k} LIMIT 1)`
        : `(SELECT pos FROM entries WHERE thread = $1 AND kind = 'message' ORDER BY pos OFFSET ${k - 1} LIMIT 1)`;
    const mine = `FROM entries WHERE thread = $1 AND author = $2 AND kind = 'message'`;
    const past = k < 10_000 ? `h.messages - (SELECT count(*) ${mine} AND pos < COALESCE(${at}, ${Number.MAX_SAFE_INTEGER}))` : `(SELECT count(*) ${mine} AND pos >= ${at})`;
    // Not looked for in a thread of fewer messages (nor read: the subqueries of a branch not taken do not run).
    digits.push(`CASE WHEN t.m < ${k} THEN 0 ELSE ${past} END`);
  }
  return `SELECT h.entries, (h.bytes + h.messages${digits.map((d) => ` + (${d})`).join('')})::text AS bytes
    FROM thread_holdings h CROSS JOIN (SELECT message_count AS m FROM threads WHERE title = $1) t
    WHERE h.thread = $1 AND h.account = $2`;
};

/**
 * What `account`'s lines hold of thread `size.title` (store/thread-share.ts): how many, and their bytes in
 * its RDT reply, each message numbered as RDT numbers it ({@link holdingQuery}). The caller holds the
 * thread row's lock (`lockThreadSize`, read into `size`), which every change of its lines takes, on any server:
 * two lines of one account are counted one after the other. Without it (an upload's start), the holding is the
 * lines' as the statement sees them.
 */
export const accountHolding = async (tx: TransactionSql | Sql, size: ThreadSize, account: string): Promise<ThreadHolding> => {
  const rows = await tx.unsafe<{ entries: number; bytes: string }[]>(holdingQuery(size.messages), [size.title, account]);
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
