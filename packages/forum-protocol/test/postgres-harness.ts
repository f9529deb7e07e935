import * as E from 'fp-ts/lib/Either.js';
import { afterAll, beforeAll } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../../scripts/embedded-postgres.mjs';
import type { Sql } from 'postgres';
import { lockForCreate } from '../src/postgres-store/postgres-create-thread.js';
import { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from '../src/postgres.js';
import { threadSize } from '../src/store/thread-size.js';
import type { Thread } from '../src/store/thread.js';

/** What a test file gets from {@link usePostgres}. */
export interface PostgresHarness {
  /** The database URL (after `beforeAll`). */
  url(): string;
  /** A store on a fresh schema of its own (an empty forum), closed after the file's tests. */
  openStore(options?: PostgresStoreOptions): Promise<PostgresStore>;
  /** Another store (another "server") on `schema`, the schema of a store opened before. */
  openPeer(schema: string, options?: PostgresStoreOptions): Promise<PostgresStore>;
  /** Another store on `schema` that reaches the database at `url` (a proxy in front of it). */
  openPeerVia(url: string, schema: string, options?: PostgresStoreOptions): Promise<PostgresStore>;
  /** Registers something to close after the file's tests, before PostgreSQL stops (all of them at once). */
  onClose(close: () => Promise<void>): void;
}

let schemas = 0;

/**
 * Call at the top of a test file: starts one PostgreSQL for the file (the
 * `embedded-postgres` binaries, see scripts/embedded-postgres.mjs) and stops
 * it, with every store opened through the harness, after the file.
 */
export const usePostgres = (): PostgresHarness => {
  let pg: EmbeddedPostgresHandle | undefined;
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    pg = await startEmbeddedPostgres();
  }, 120_000);
  afterAll(async () => {
    // All at once: a store whose connection a test left at a silent database or a held proxy waits out its
    // pool's end (5 s) while the others close, not before them (silent-database's teardown took 5.5 s, one by one).
    await Promise.all(closers.splice(0).map((c) => c().catch(() => undefined)));
    await pg?.stop();
  }, 60_000);
  const url = (): string => {
    if (pg === undefined) throw new Error('PostgreSQL is not running');
    return pg.url;
  };
  const open = async (options: PostgresStoreOptions, at = url()): Promise<PostgresStore> => {
    const opened = await openPostgresStore(at, { maxConnections: 4, ...options })();
    if (E.isLeft(opened)) throw new Error(opened.left.message);
    closers.push(() => opened.right.close());
    return opened.right;
  };
  return {
    url,
    openStore: (options = {}) => open({ schema: `t${process.pid}_${++schemas}`, ...options }),
    openPeer: (schema, options = {}) => open({ ...options, schema }),
    openPeerVia: (at, schema, options = {}) => open({ ...options, schema }, at),
    onClose: (close) => void closers.push(close),
  };
};

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

/**
 * Turns the store's tables back into schema `version` (1 to 11) as a server of
 * that version left them, keeping the data it knew of: what each later
 * migration added is dropped, and the version row says `version`.
 */
export const backToSchema = async (sql: Sql, version: number): Promise<void> => {
  if (version < 12) await sql`ALTER TABLE uploads DROP COLUMN IF EXISTS lease_expires_at`;
  if (version < 10) await sql`ALTER TABLE transfer_tokens DROP COLUMN IF EXISTS connection_key`;
  if (version < 9) {
    await sql`DROP FUNCTION IF EXISTS forum_limit_reserve(text[], text[], integer[], bigint[], integer[], bigint)`;
    await sql`ALTER FUNCTION forum_limit_reserve_counted(text[], text[], integer[], bigint[], integer[], bigint) RENAME TO forum_limit_reserve`;
  }
  if (version < 8) {
    await sql`DROP TRIGGER IF EXISTS uploads_doomed ON uploads`;
    await sql`DROP TRIGGER IF EXISTS upload_chunks_of_live_upload ON upload_chunks`;
    await sql`DROP FUNCTION IF EXISTS forum_doom_upload_chunks, forum_chunk_of_live_upload`;
    await sql`DROP TABLE IF EXISTS doomed_uploads`;
    await sql`ALTER TABLE upload_chunks ADD CONSTRAINT upload_chunks_upload_id_fkey FOREIGN KEY (upload_id) REFERENCES uploads (id) ON DELETE CASCADE`;
  }
  if (version < 6) {
    await sql`DROP TABLE IF EXISTS limit_events`;
    await sql`DROP SEQUENCE IF EXISTS limit_attempts`;
    await sql`DROP FUNCTION IF EXISTS forum_limit_reserve, forum_limit_settle, forum_upload_slot_take`;
    await sql`DROP TABLE IF EXISTS upload_slots`;
  }
  if (version < 5) await sql`ALTER TABLE threads DROP COLUMN id; ALTER TABLE transfer_tokens DROP COLUMN thread_id`.simple();
  if (version < 4) {
    await sql`DROP TABLE IF EXISTS thread_counts, creator_thread_counts`;
    await sql`DROP INDEX IF EXISTS entries_messages`;
    await sql`DROP FUNCTION IF EXISTS forum_count_thread, forum_lines_with_size, forum_created_under_gate CASCADE`;
  }
  if (version < 3) await sql`ALTER TABLE threads DROP COLUMN entry_count, DROP COLUMN message_count, DROP COLUMN reply_bytes`;
  if (version < 2) await sql`ALTER TABLE transfer_tokens DROP COLUMN keys`;
  await sql`UPDATE forum_schema SET version = ${version}`;
};
