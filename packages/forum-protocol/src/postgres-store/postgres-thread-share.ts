import type { Sql, TransactionSql } from 'postgres';
import { overThreadLimits } from '../store/thread-growth.js';
import { entryAccount, holdingCounted, withAppended, type ThreadHolding } from '../store/thread-share.js';
import type { ThreadSize } from '../store/thread-size.js';
import type { ThreadEntry } from '../store/thread.js';

/** Powers of ten a message's number may reach (10 to 10^9): a number's digits are one more per power reached. */
const POWERS = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => 10 ** k);

/**
 * {@link accountHolding}'s statement (`$1` the thread, `$2` the account, `$3` the thread's message count), apart
 * so that its plan can be looked at (EXPLAIN). A message's line is `N author: text`: its bytes are those of
 * ` author: text` escaped (to_json, as JSON.stringify escapes) and the digits of N, which is 1 more for each
 * power of ten N reaches, and N reaches 10^k exactly when the line is at or after the 10^k-th message (`p<k>`,
 * one look-up in schema 4's index of messages, skipped when the thread has fewer). Once, every message was
 * numbered by a window over all the thread's lines: 20-35 ms of the database a read on a thread of 10,000, under
 * the thread row's lock, for every MSG of another account to it (attack round 28).
 */
export const ACCOUNT_HOLDING_QUERY = `
  SELECT count(*)::int AS entries,
         COALESCE(sum(octet_length(to_json(CASE kind WHEN 'message' THEN ' ' || author || ': ' || body ELSE author || ' uploaded ' || body END)::text) + 1
           + CASE kind WHEN 'message' THEN 1${POWERS.map((p) => ` + COALESCE((pos >= m.p${p})::int, 0)`).join('')} ELSE 0 END), 0)::text AS bytes
  FROM entries CROSS JOIN (SELECT ${POWERS.map(
    (p) => `CASE WHEN $3::bigint >= ${p} THEN (SELECT pos FROM entries WHERE thread = $1 AND kind = 'message' ORDER BY pos OFFSET ${p - 1} LIMIT 1) END AS p${p}`,
  ).join(', ')}) m
  WHERE thread = $1 AND author = $2 AND kind IN ('message', 'upload')`;

/**
 * What `account`'s lines hold of thread `title` of `messages` messages (store/thread-share.ts): how many, and
 * their bytes in its RDT reply, each message numbered as RDT numbers it (to_json escapes as JSON.stringify
 * does, as schema 3's fill of `reply_bytes` counts them). Read from the lines, not kept: a DLT or EDT gives
 * room back by changing them. The caller holds the thread row's lock (`lockThreadSize`), which every change of
 * its lines takes, on any server: two lines of one account are counted one after the other, and `messages`
 * is the row's count under that lock. Asked only of a thread larger than a share.
 */
export const accountHolding = async (tx: TransactionSql | Sql, title: string, account: string, messages: number): Promise<ThreadHolding> => {
  const rows = await tx.unsafe<{ entries: number; bytes: string }[]>(ACCOUNT_HOLDING_QUERY, [title, account, messages]);
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
  return withAppended(await accountHolding(tx, before.title, account, before.messages), before, entry);
};
