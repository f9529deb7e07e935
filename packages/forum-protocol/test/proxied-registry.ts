/**
 * The set-up of the tests of given-up lease claims' undos (postgres-claim-undo.ts): a session registry whose
 * store reaches PostgreSQL through a {@link holdingProxy}, a partition to hold what it sends, and the backend
 * that ran a claim, watched on a connection of its own.
 */
import type { Sql } from 'postgres';
import { createPostgresSessionRegistry, type PostgresSessionRegistry, type PostgresStore } from '../src/postgres.js';
import { holdingProxy, type HoldingProxy } from './holding-proxy.js';
import type { PostgresHarness } from './postgres-harness.js';

/** PostgreSQL's own limits far off: what ends the statements here is the command's deadline, not the database. */
export const TIMEOUTS = { statementMs: 60_000, lockMs: 60_000, idleInTransactionMs: 60_000 } as const;

/** The schema `store` keeps its tables in. */
/** A registry through a holding proxy, the store under it, and a store on the same schema that reaches the database directly. */
export interface ProxiedRegistry {
  readonly direct: PostgresStore;
  readonly proxy: HoldingProxy;
  readonly store: PostgresStore;
  readonly registry: PostgresSessionRegistry;
  /** What the registry's `onError` told. */
  readonly errors: readonly string[];
}

/** How {@link proxiedRegistry} sets up: the pool's size, the registry's server id, and its undos' wait (its default unless given). */
export interface ProxiedRegistryOptions {
  readonly connections: number;
  readonly serverId: string;
  readonly undoClaimForMs?: number;
  /** The registry's statements, through the store's (to count them); the store's own by default. */
  readonly sql?: (sql: Sql) => Sql;
  /**
   * The role (made by the caller, with its password `pw`) the proxied store logs in as; the cluster's own by default.
   * Its backends are told from those of the file's other tests, which run alongside (pg_stat_activity is cluster-wide).
   */
  readonly role?: string;
}

/** `url` logging in as `role` (password `pw`), or as it was without one. */
export const asRole = (url: string, role: string | undefined): string => {
  if (role === undefined) return url;
  const at = new URL(url);
  at.username = role;
  at.password = 'pw';
  return at.toString();
};

/** A registry (15 s leases) on a store of `connections` connections through a holding proxy, on the schema of a store of its own; all closed after the file. */
export const proxiedRegistry = async (pg: PostgresHarness, options: ProxiedRegistryOptions): Promise<ProxiedRegistry> => {
  const direct = await pg.openStore({ timeouts: TIMEOUTS });
  const proxy = await holdingProxy(pg.url());
  pg.onClose(() => proxy.close());
  const store = await pg.openPeerVia(asRole(proxy.url, options.role), direct, { timeouts: TIMEOUTS, maxConnections: options.connections });
  const errors: string[] = [];
  const registry = createPostgresSessionRegistry(options.sql?.(store.sql) ?? store.sql, {
    serverId: options.serverId,
    leaseMs: 15_000,
    onError: (m) => errors.push(m),
    ...(options.undoClaimForMs === undefined ? {} : { undoClaimForMs: options.undoClaimForMs }),
  });
  pg.onClose(() => registry.close());
  return { direct, proxy, store, registry, errors };
};

/**
 * The backend that ran the registry's last claim (idle, the claim its last statement), and a watcher of its
 * own to follow it: one connection, none of which has asked pg_stat_activity anything before. Among the
 * backends of `role` ({@link ProxiedRegistryOptions.role}) when given, else among all.
 */
export const claimBackend = async (pg: PostgresHarness, role?: string): Promise<{ readonly watcher: Sql; readonly pid: number }> => {
  const watcher = pg.connect();
  const [backend] = await watcher<{ pid: number }[]>`
    SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND state = 'idle' AND query LIKE '%INSERT INTO session_leases%'
      AND (${role ?? null}::text IS NULL OR usename = ${role ?? null})`;
  if (backend === undefined) throw new Error('no backend ran the claim');
  return { watcher, pid: backend.pid };
};
