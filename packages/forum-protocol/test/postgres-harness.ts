import * as E from 'fp-ts/lib/Either.js';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../../scripts/embedded-postgres.mjs';
import type { DerivedTemplate } from '../../../scripts/template-cluster.mjs';
import postgres, { type Sql } from 'postgres';
import { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from '../src/postgres.js';
import { originCounterStatements } from '../src/postgres-store/postgres-origin-counters.js';

export { insertThread } from './insert-thread.js';

/** What a test file gets from {@link usePostgres}. */
export interface PostgresHarness {
  /** The database URL (after `beforeAll`). */
  url(): string;
  /**
   * A store on a schema of its own (an empty forum), closed after the file's tests: one of the file's
   * `migrated` schemas while any is left (the store finds it current), then a new one it migrates.
   */
  openStore(options?: PostgresStoreOptions): Promise<PostgresStore>;
  /** A store on a new schema, which it creates and migrates from empty as it opens (a new database's path). */
  openNewStore(options?: PostgresStoreOptions): Promise<PostgresStore>;
  /** Another store (another "server") on the schema of `of`, a store opened before, or on the schema so named. */
  openPeer(of: PostgresStore | string, options?: PostgresStoreOptions): Promise<PostgresStore>;
  /** Another store on the schema of `of` (a store, or a schema's name) that reaches the database at `url` (a proxy in front of it). */
  openPeerVia(url: string, of: PostgresStore | string, options?: PostgresStoreOptions): Promise<PostgresStore>;
  /**
   * A pool of its own on the file's PostgreSQL, not a store's: one connection and notices dropped unless
   * `options` say otherwise (`connection: { search_path }` to reach a store's tables). Ended after the file's tests.
   */
  connect(options?: postgres.Options<Record<string, postgres.PostgresType>>): Sql;
  /** Registers something to close after the file's tests, before PostgreSQL stops (all of them at once). */
  onClose(close: () => Promise<void>): void;
}

/** Options for {@link usePostgres}. */
export interface PostgresHarnessOptions {
  /**
   * About how many stores the file opens with `openStore`: its cluster is copied from a template holding
   * that many schemas already migrated (rounded up to 4, 8, 16 or 32), which those stores take in turn.
   * Each costs a copy about 20 ms (its 60 files); a store that migrates a new schema as it opens,
   * 0.15-0.2 s more than one finding its schema current (a loaded 2-core machine). Default 0.
   */
  readonly migrated?: number;
}

/** The schema `sql`'s connections keep their tables in (the store's, for a store's `sql`). */
export const schemaOf = async (sql: Sql): Promise<string> => (await sql<{ s: string }[]>`SELECT current_schema() AS s`)[0]?.s ?? '';

/** The schema's name `of` is, or the one store `of` keeps its tables in. */
const schemaNamed = async (of: PostgresStore | string): Promise<string> => (typeof of === 'string' ? of : schemaOf(of.sql));

let schemas = 0;

/** The sizes of the templates of migrated schemas: each made from the one before (a few seconds, once per machine). */
const MIGRATED_TIERS = [4, 8, 16, 32] as const;

/** The name of the template's `i`th migrated schema (from 1). */
const migratedSchema = (i: number): string => `migrated_${i}`;

/**
 * The files of whatever migrate() writes: the version row (postgres-schema.ts), its statements (one file a
 * migration, in migrations/), and the statements migrations 15 and 16 build (postgres-origin-counters.ts).
 */
const schemaSources = (): readonly URL[] => {
  const migrations = new URL('../src/postgres-store/migrations/', import.meta.url);
  return [
    new URL('../src/postgres-store/postgres-schema.ts', import.meta.url),
    new URL('../src/postgres-store/postgres-origin-counters.ts', import.meta.url),
    ...readdirSync(migrations).sort().map((name) => new URL(name, migrations)),
  ];
};

// A change to any of them makes new templates.
const SCHEMA_SOURCE_DIGEST = schemaSources()
  .reduce((hash, file) => hash.update(file.pathname).update(readFileSync(file)), createHash('sha256'))
  .digest('hex')
  .slice(0, 16);

/**
 * The template of `count` migrated schemas: the one of half as many, and the rest migrated as a server's
 * store migrates a new database (openPostgresStore), one at a time.
 */
const migratedTemplate = (count: number): DerivedTemplate => {
  const before = count > (MIGRATED_TIERS[0] ?? 0) ? count / 2 : 0;
  return {
    key: `migrated-${SCHEMA_SOURCE_DIGEST}-${count}`,
    ...(before === 0 ? {} : { from: migratedTemplate(before) }),
    prepare: async (url) => {
      for (let i = before + 1; i <= count; i++) {
        const opened = await openPostgresStore(url, { schema: migratedSchema(i), maxConnections: 1 })();
        if (E.isLeft(opened)) throw new Error(opened.left.message);
        await opened.right.close();
      }
    },
  };
};

/**
 * Call at the top of a test file: starts one PostgreSQL for the file (the
 * `embedded-postgres` binaries, see scripts/embedded-postgres.mjs) and stops
 * it, with every store opened through the harness, after the file.
 */
export const usePostgres = (options: PostgresHarnessOptions = {}): PostgresHarness => {
  const wanted = options.migrated ?? 0;
  const migrated = wanted === 0 ? 0 : (MIGRATED_TIERS.find((t) => t >= wanted) ?? MIGRATED_TIERS[MIGRATED_TIERS.length - 1] ?? 0);
  let taken = 0;
  let pg: EmbeddedPostgresHandle | undefined;
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    pg = await startEmbeddedPostgres(migrated === 0 ? {} : { template: migratedTemplate(migrated) });
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
    openStore: (options = {}) => open({ schema: taken < migrated ? migratedSchema(++taken) : `t${process.pid}_${++schemas}`, ...options }),
    openNewStore: (options = {}) => open({ schema: `t${process.pid}_${++schemas}`, ...options }),
    openPeer: async (of, options = {}) => open({ ...options, schema: await schemaNamed(of) }),
    openPeerVia: async (at, of, options = {}) => open({ ...options, schema: await schemaNamed(of) }, at),
    connect: (options = {}) => {
      const sql = postgres(url(), { max: 1, onnotice: () => undefined, ...options });
      closers.push(() => sql.end({ timeout: 1 }));
      return sql;
    },
    onClose: (close) => void closers.push(close),
  };
};


// Schema 15's two origin counters (migrations/migration-15-account-origins.ts), as its triggers keep them.
const ORIGIN_COUNTERS = [
  { table: 'creator_thread_counts', account: 'creator', amount: 'threads', origins: 'origin_threads' },
  { table: 'uploader_bytes', account: 'uploader', amount: 'bytes', origins: 'origin_upload_bytes' },
] as const;

/**
 * Turns the store's tables back into schema `version` (1 to 15) as a server of
 * that version left them, keeping the data it knew of: what each later
 * migration added is dropped, and the version row says `version`.
 */
export const backToSchema = async (sql: Sql, version: number): Promise<void> => {
  if (version < 16) {
    // Schema 15's triggers (by origin alone) and its counters: the rows of origins, none of /56s or /48s.
    for (const c of ORIGIN_COUNTERS) for (const statement of originCounterStatements(c, false)) await sql.unsafe(statement);
    await sql`DELETE FROM origin_threads`;
    await sql`INSERT INTO origin_threads (origin, threads)
              SELECT a.origin, sum(c.threads) FROM accounts a JOIN creator_thread_counts c ON c.creator = a.username WHERE a.origin IS NOT NULL GROUP BY a.origin`;
    await sql`DELETE FROM origin_upload_bytes`;
    await sql`INSERT INTO origin_upload_bytes (origin, bytes)
              SELECT a.origin, sum(b.bytes) FROM accounts a JOIN uploader_bytes b ON b.uploader = a.username WHERE a.origin IS NOT NULL GROUP BY a.origin`;
    await sql`DROP FUNCTION IF EXISTS forum_origin_levels`;
  }
  if (version < 15) {
    await sql`DROP FUNCTION IF EXISTS forum_count_origin_threads, forum_count_origin_upload_bytes CASCADE`;
    await sql`DROP TABLE IF EXISTS origin_threads, origin_upload_bytes`;
    await sql`DROP INDEX IF EXISTS accounts_origin`;
    await sql`ALTER TABLE accounts DROP COLUMN IF EXISTS origin`;
  }
  if (version < 14) {
    await sql`DROP FUNCTION IF EXISTS forum_count_uploader_bytes, forum_count_holdings CASCADE`;
    await sql`DROP FUNCTION IF EXISTS forum_line_bytes_unnumbered`;
    await sql`DROP TABLE IF EXISTS uploader_bytes, thread_holdings`;
    await sql`DROP INDEX IF EXISTS entries_author_messages`;
  }
  if (version < 13) await sql`DROP INDEX IF EXISTS uploads_uploader`;
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
