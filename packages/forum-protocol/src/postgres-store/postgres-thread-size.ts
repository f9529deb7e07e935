import type { TransactionSql } from 'postgres';
import type { ThreadSize } from '../store/thread-size.js';

interface SizeRow {
  readonly creator: string;
  readonly entry_count: number;
  readonly message_count: number;
  readonly reply_bytes: string;
}

/**
 * Locks the thread's row (`SELECT … FOR UPDATE`: every change of the thread's
 * lines holds it) and reads its size, kept on the row; `undefined` if there
 * is no such thread.
 */
export const lockThreadSize = async (tx: TransactionSql, title: string): Promise<ThreadSize | undefined> => {
  const rows = await tx<SizeRow[]>`SELECT creator, entry_count, message_count, reply_bytes FROM threads WHERE title = ${title} FOR UPDATE`;
  const row = rows[0];
  if (row === undefined) return undefined;
  return { title, creator: row.creator, entries: row.entry_count, messages: row.message_count, replyBytes: Number(row.reply_bytes) };
};

/** Keeps `size` on the row of thread `title`; the caller holds the row's lock and writes the lines it counts in the same transaction. */
export const writeThreadSize = async (tx: TransactionSql, title: string, size: ThreadSize): Promise<void> => {
  await tx`UPDATE threads SET entry_count = ${size.entries}, message_count = ${size.messages}, reply_bytes = ${size.replyBytes} WHERE title = ${title}`;
};
