import * as E from 'fp-ts/lib/Either.js';
import type { Sql, TransactionSql } from 'postgres';
import type { StoreError } from '../store/errors.js';
import { changedSize, lengthens, type MessageChange, type NumberedMessage } from '../store/message-change.js';
import { holdingCounted } from '../store/thread-share.js';
import { jsonBytes } from '../store/thread-reply-size.js';
import { accountHolding } from './postgres-thread-share.js';
import { lockThreadSize, writeThreadSize } from './postgres-thread-size.js';
import type { ThreadSize } from '../store/thread-size.js';

interface MessageRow {
  readonly pos: string;
  readonly author: string;
  readonly body: string;
}

/**
 * Message number `n` of a thread of size `size` and its position, or
 * `undefined`. Found in the index of the thread's messages (schema 4,
 * `entries_messages`): only index entries are counted on the way to it, from
 * whichever end is nearer (O(n) index entries, no line), and only its own
 * line is read.
 */
const findMessage = async (tx: TransactionSql, size: ThreadSize, n: number): Promise<{ readonly pos: string; readonly message: NumberedMessage } | undefined> => {
  if (!Number.isSafeInteger(n) || n < 1 || n > size.messages) return undefined;
  const fromEnd = size.messages - n;
  // The position first, in a subquery, so that the messages skipped on the way are index entries only
  // (an index-only scan where the table is vacuumed): a plain OFFSET would fetch each skipped line.
  const rows =
    fromEnd < n - 1
      ? await tx<MessageRow[]>`SELECT pos, author, body FROM entries WHERE thread = ${size.title} AND pos =
          (SELECT pos FROM entries WHERE thread = ${size.title} AND kind = 'message' ORDER BY pos DESC OFFSET ${fromEnd} LIMIT 1)`
      : await tx<MessageRow[]>`SELECT pos, author, body FROM entries WHERE thread = ${size.title} AND pos =
          (SELECT pos FROM entries WHERE thread = ${size.title} AND kind = 'message' ORDER BY pos OFFSET ${n - 1} LIMIT 1)`;
  const row = rows[0];
  return row === undefined ? undefined : { pos: row.pos, message: { n, author: row.author, text: row.body } };
};

/**
 * EDT and DLT in PostgreSQL: under the thread row's lock (every change of
 * the thread's lines takes it), reads the thread's size and message `n`,
 * then updates or deletes that one line and keeps the size on the row, in
 * one transaction. The thread's other lines are neither read nor written:
 * messages are numbered by their order, so a DLT renumbers nothing.
 * `wrote` is told the transaction's id once the line is changed, for the
 * caller to ask whether it committed if its COMMIT fails (postgres-commit-landed.ts).
 */
export const changeMessageInPostgres = <Err>(
  sql: Sql,
  title: string,
  n: number,
  change: MessageChange<Err>,
  wrote: (xid: string) => void = () => undefined,
): Promise<E.Either<StoreError | Err, void>> =>
  sql.begin(async (tx): Promise<E.Either<StoreError | Err, void>> => {
    const size = await lockThreadSize(tx, title);
    if (size === undefined) return E.left({ kind: 'noThread', title });
    const found = await findMessage(tx, size, n);
    if (found === undefined) return E.left(change.noMessage);
    const decided = change.decide(found.message, size);
    if (E.isLeft(decided)) return decided;
    const edit = decided.right;
    const after = changedSize(size, found.message, edit);
    // The author's share (thread-share.ts): its lines as they are, under the row's lock, and the edit's growth.
    if (change.share !== undefined && lengthens(found.message, edit) && holdingCounted(after, found.message.author)) {
      const held = await accountHolding(tx, size, found.message.author);
      const refused = change.share({ entries: held.entries, bytes: held.bytes + jsonBytes(edit.text) - jsonBytes(found.message.text) });
      if (E.isLeft(refused)) return refused;
    }
    const [changed] = await Promise.all([
      edit.kind === 'edit'
        ? tx<{ xid: string }[]>`UPDATE entries SET body = ${edit.text} WHERE thread = ${title} AND pos = ${found.pos} RETURNING txid_current()::text AS xid`
        : tx<{ xid: string }[]>`DELETE FROM entries WHERE thread = ${title} AND pos = ${found.pos} RETURNING txid_current()::text AS xid`,
      writeThreadSize(tx, title, after),
    ]);
    const xid = changed[0]?.xid;
    if (xid !== undefined) wrote(xid);
    return E.right(undefined);
  });
