/**
 * The forum's tables, one migration per schema version (migrations/, listed
 * in order in migrations/migrations.ts). Migration N brings version N-1 to
 * N; the applied version is kept in `forum_schema`. Never edit a migration
 * that has shipped: append the next one.
 */
import postgres, { type Sql } from 'postgres';
import { MIGRATIONS } from './migrations/migrations.js';

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length;

// Any constant shared by every forum server: concurrent starts migrate one at a time.
const MIGRATION_LOCK = 0x666f72756d; // "forum"

// deadlock_detected: the database ended the migration to let an older server's transaction through.
const DEADLOCK_DETECTED = '40P01';

/**
 * Times {@link migrate} runs a migration that the database ended in a deadlock. A migration locks
 * each table as it reaches it (8: `uploads`, then `upload_chunks`), and a server of the old schema
 * still running may hold the second and ask for the first: schema 7's RMV reads the chunks (counting
 * them), then deletes the thread, whose cascade writes `uploads`. PostgreSQL ends one of the two,
 * as a rule the one that waited first (the migration), and the server did not start ("deadlock
 * detected"). The transaction rolled back whole; run again, it waits for that transaction like any
 * other. (The old server's transaction is ended instead when the migration's deadlock check ran
 * before the cycle closed: refused whole, that request fails as any store error.)
 */
const MIGRATION_ATTEMPTS = 5;

/**
 * Creates the tables, or migrates them to {@link SCHEMA_VERSION}, in one
 * transaction under an advisory lock: of servers starting together one
 * migrates, the others wait and find it done (so a migration runs once).
 * Rejects if the database was migrated by a newer server. `schema`, if
 * given, is created first under the same lock (two servers creating one
 * schema at once would otherwise race). Resolves to the version found
 * before migrating (0: empty database).
 *
 * A rolling upgrade (servers of the old version still running while a new
 * one migrates) is safe from schema 4 on: a migration waits for the old
 * servers' writes in flight and holds theirs back while it runs; an old
 * server's writes that would break what a newer schema keeps are refused by
 * the database, with an error saying to stop it (migration 4's fences), and
 * an old server never starts on a newer schema. A migration that the
 * database ends in a deadlock with an old server's transaction is run
 * again (up to {@link MIGRATION_ATTEMPTS} times).
 */
export const migrate = async (sql: Sql, schema?: string): Promise<number> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateOnce(sql, schema);
    } catch (e) {
      if (attempt >= MIGRATION_ATTEMPTS || !(e instanceof postgres.PostgresError) || e.code !== DEADLOCK_DETECTED) throw e;
    }
  }
};

const migrateOnce = (sql: Sql, schema?: string): Promise<number> =>
  sql.begin(async (tx) => {
    // No time limits here (postgres-timeouts.ts): it waits for another server's migration, and may rewrite every row.
    await tx`SELECT set_config('statement_timeout', '0', true), set_config('lock_timeout', '0', true)`;
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    if (schema !== undefined) await tx`CREATE SCHEMA IF NOT EXISTS ${tx(schema)}`;
    await tx`CREATE TABLE IF NOT EXISTS forum_schema (version integer NOT NULL)`;
    const rows = await tx<{ version: number }[]>`SELECT version FROM forum_schema`;
    const found = rows[0]?.version ?? 0;
    if (found > SCHEMA_VERSION) throw new Error(`the database schema is version ${found}, newer than this server's ${SCHEMA_VERSION}`);
    for (const statements of MIGRATIONS.slice(found)) for (const statement of statements) await tx.unsafe(statement);
    if (rows.length === 0) await tx`INSERT INTO forum_schema (version) VALUES (${SCHEMA_VERSION})`;
    else await tx`UPDATE forum_schema SET version = ${SCHEMA_VERSION}`;
    return found;
  });
