/**
 * A server that migrates the database during a rolling upgrade says so (attack round 20): the notes ask the
 * operator to stop the older servers soon after, and nothing told which schema the database had.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { SCHEMA_VERSION } from 'forum-protocol/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../../scripts/embedded-postgres.mjs';
import { startForumServer } from '../src/forum-server.js';

describe('forum-server on PostgreSQL, schema migrated at start', () => {
  let pg: EmbeddedPostgresHandle | undefined;
  let dir = '';

  beforeAll(async () => {
    pg = await startEmbeddedPostgres();
    dir = await mkdtemp(join(tmpdir(), 'forum-pg-schema-'));
  }, 60_000);

  afterAll(async () => {
    await pg?.stop();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 60_000);

  /** Starts and closes a server on the database: what it warned. */
  const start = async (): Promise<string[]> => {
    if (pg === undefined) throw new Error('not started');
    const warnings: string[] = [];
    const server = await startForumServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: dir,
      identityFile: join(dir, 'identity'),
      databaseUrl: pg.url,
      maxDataBytes: 1024 * 1024,
      idleTimeoutMs: 30_000,
      transferPort: 0,
      log: () => undefined,
      warn: (line) => void warnings.push(line),
    });
    await server.close();
    return warnings.filter((w) => w.includes('schema'));
  };

  it('names the schema it migrated from, and says nothing on a new or current database', async () => {
    if (pg === undefined) throw new Error('not started');
    expect(await start()).toEqual([]);
    // The database as a release of schema 8 left it (migrations 9 on may run again over their own tables).
    const sql = postgres(pg.url, { max: 1, onnotice: () => undefined });
    await sql`UPDATE forum_schema SET version = 8`;
    await sql.end();
    expect(await start()).toEqual([
      `forum-server: migrated the database from schema 8 to ${SCHEMA_VERSION}: servers of the older release still running keep working, ` +
        `each as its schema's notes say (forum-protocol README, rolling upgrades); stop them soon, and start none again (a server never starts on a newer schema)`,
    ]);
    expect(await start()).toEqual([]);
  }, 60_000);
});
