/**
 * Test and attack-script helper without vitest (postgres-harness.ts re-exports it; attack scripts run under tsx).
 */
import type { Sql } from 'postgres';
import { lockForCreate } from '../src/postgres-store/postgres-create-thread.js';
import { threadSize } from '../src/store/thread-size.js';
import type { Thread } from '../src/store/thread.js';

/**
 * Writes `thread` into the store's tables directly (its lines and the size kept on its row), as migrated
 * data would be: in one transaction holding CRT's gate, as this schema's fences ask of every writer.
 */
export const insertThread = async (sql: Sql, thread: Thread): Promise<void> => {
  const size = threadSize(thread);
  const rows = thread.entries.map((e, i) => ({
    thread: thread.title,
    pos: i + 1,
    kind: e.kind,
    author: e.kind === 'message' ? e.author : e.kind === 'upload' ? e.uploader : '',
    body: e.kind === 'message' ? e.text : e.kind === 'upload' ? e.filename : e.line,
  }));
  await sql.begin(async (tx) => {
    await lockForCreate(tx, thread.creator, 'shared');
    await tx`INSERT INTO threads (title, creator, entry_count, message_count, reply_bytes)
             VALUES (${thread.title}, ${thread.creator}, ${size.entries}, ${size.messages}, ${size.replyBytes})`;
    // Well under PostgreSQL's 65,535 parameters a statement.
    for (let i = 0; i < rows.length; i += 2000) await tx`INSERT INTO entries ${tx(rows.slice(i, i + 2000), 'thread', 'pos', 'kind', 'author', 'body')}`;
  });
};
