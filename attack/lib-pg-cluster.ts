/**
 * Forum servers on one embedded PostgreSQL, for the attack scripts that race requests across servers
 * (`cluster-pg.ts`, `thread-size-cluster.ts`, `upload-rmv-cluster.ts`): the database, a client of it,
 * the servers started on it, an abort signal for the scripts' sessions, and one `close` for all.
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type Postgres from '../packages/forum-protocol/node_modules/postgres/types/index.js';
import { startEmbeddedPostgres } from '../scripts/embedded-postgres.mjs';
import { startServerProcess } from '../scripts/cluster.mjs';

// The driver is forum-protocol's dependency, not the workspace root's.
const postgres = createRequire(new URL('../packages/forum-protocol/package.json', import.meta.url))('postgres') as typeof Postgres;

/** A forum-server process on the cluster's database. */
export type ClusterServer = Awaited<ReturnType<typeof startServerProcess>>;

/** The database, its client, and the servers started on it. */
export interface PgCluster {
  readonly sql: ReturnType<typeof Postgres>;
  /** The database's URL: for a server started otherwise (another build's, attack/round33-rolling-origin.ts). */
  readonly url: string;
  /** A directory the cluster removes at `close`. */
  readonly keyDir: string;
  /** Aborted by `close`: the sessions the script opened end with it. */
  readonly signal: AbortSignal;
  /** One more server (`--account-limit 0` and `extra`), its transport idle timeout `idleTimeoutSeconds` if given. */
  start(extra?: readonly string[], idleTimeoutSeconds?: number): Promise<ClusterServer>;
  /** `n` servers, one after another: two creating the identity file at once would race. */
  startAll(n: number, extra?: readonly string[]): Promise<readonly ClusterServer[]>;
  /** Stops every server, the client and the database, and removes the servers' key directory. */
  close(): Promise<void>;
}

/** Starts an embedded PostgreSQL (servers share its identity file in a temporary directory named `prefix…`). */
export async function openPgCluster(prefix: string): Promise<PgCluster> {
  const pg = await startEmbeddedPostgres();
  const sql = postgres(pg.url, { max: 2, onnotice: () => undefined });
  const keyDir = await mkdtemp(join(tmpdir(), prefix));
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const procs: ClusterServer[] = [];
  const start = async (extra: readonly string[] = [], idleTimeoutSeconds?: number): Promise<ClusterServer> => {
    const idle = idleTimeoutSeconds === undefined ? {} : { idleTimeoutSeconds };
    const p = await startServerProcess({ port: 0, databaseUrl: pg.url, ...idle, cwd: keyDir, identityFile: join(keyDir, 'identity'), extraArgs: ['--account-limit', '0', ...extra] });
    procs.push(p);
    return p;
  };
  return {
    sql,
    url: pg.url,
    keyDir,
    signal: stop.signal,
    start,
    startAll: async (n, extra = []) => {
      const all: ClusterServer[] = [];
      for (let i = 0; i < n; i++) all.push(await start(extra));
      return all;
    },
    close: async () => {
      stop.abort();
      for (const p of procs) await p.stop().catch(() => undefined);
      await sql.end();
      await pg.stop();
      await rm(keyDir, { recursive: true, force: true });
    },
  };
}
