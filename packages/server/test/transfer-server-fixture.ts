/**
 * The set-up the transfer server's tests on real loopback sockets share: an embedded PostgreSQL for a describe
 * block (one a file: a start costs seconds), frozen on demand (a database gone silent), and what a test starts
 * (the server, its client sockets, stores, temporary directories), let go after each test.
 */
import type net from 'node:net';
import { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from 'forum-protocol/postgres';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../../scripts/embedded-postgres.mjs';
import { freezePostgres } from '../../forum-protocol/test/postgres-freeze.js';
import { DiskQuota } from '../src/disk-quota.js';
import { TransferActivity } from '../src/transfer-activity.js';
import { startTransferServer, type TransferServer, type TransferServerDeps } from '../src/transfer-server.js';
import { cleanup, tempDir } from './forum-processes.js';

/** An embedded PostgreSQL started before the tests of the describe block that called {@link suitePostgres}, stopped after them. */
export interface SuitePostgres {
  /** Its connection URL (once started). */
  readonly url: () => string;
  /** Stops (`true`) or resumes (`false`) its processes: nothing answers, the kernel still takes bytes. */
  readonly freeze: (on: boolean) => void;
  /** Resumes it if a test left it frozen. */
  readonly thaw: () => void;
}

/** Starts an embedded PostgreSQL for the calling describe block (hooks registered there). */
export const suitePostgres = (): SuitePostgres => {
  let pg: EmbeddedPostgresHandle | undefined;
  let frozen = false;
  beforeAll(async () => {
    pg = await startEmbeddedPostgres();
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  }, 60_000);
  const freeze = (on: boolean): void => {
    if (pg === undefined) throw new Error('not started');
    freezePostgres(pg.url, on);
    frozen = on;
  };
  return {
    url: () => pg?.url ?? '',
    freeze,
    thaw: () => {
      if (frozen) freeze(false);
    },
  };
};

/** The deps {@link TransferScope.serve} fills in unless given: a quota on `dir`, a fresh activity, the scope's log, 1 GiB uploads. */
export type ServeOptions = Pick<TransferServerDeps, 'store' | 'tokens'> & Partial<TransferServerDeps> & { readonly dir: string };

/** What a test started, let go after it (the database thawed first: a frozen one would hold the closes). */
export interface TransferScope {
  /** Client sockets, destroyed. */
  readonly sockets: net.Socket[];
  /** Closes run after the server's, last pushed first (stores, upload slots). */
  readonly closers: (() => Promise<void>)[];
  /** The server's log lines, emptied. */
  readonly log: string[];
  /** A temporary directory, removed after the test. */
  readonly tempDir: (prefix: string) => Promise<string>;
  /** Starts the test's transfer server on a loopback port. */
  readonly serve: (options: ServeOptions) => Promise<{ readonly server: TransferServer; readonly activity: TransferActivity }>;
  /** Closes the test's transfer server now (before a store it reads from), if it runs. */
  readonly closeServer: () => Promise<void>;
  /**
   * A store on the scope's PostgreSQL, of its own schema (`name` and this process's id), closed after the test,
   * with thread `t` and the incarnation an upload of `f` to it by `u` is granted for. PostgreSQL's own limits
   * are far off: what ends a statement here is a deadline of the server's, not the database.
   */
  readonly openUploadStore: (name: string, options?: PostgresStoreOptions) => Promise<{ readonly store: PostgresStore; readonly incarnation: string }>;
}

/** PostgreSQL's own limits for {@link TransferScope.openUploadStore}'s stores: far off. */
const FAR_TIMEOUTS = { statementMs: 60_000, lockMs: 60_000, idleInTransactionMs: 60_000 } as const;

/** A scope for the calling describe block's tests (an afterEach registered there); `pg` thawed after each. */
export const transferScope = (pg?: SuitePostgres): TransferScope => {
  let server: TransferServer | undefined;
  const sockets: net.Socket[] = [];
  const closers: (() => Promise<void>)[] = [];
  const log: string[] = [];
  const dirs: string[] = [];
  const closeServer = async (): Promise<void> => {
    await server?.close();
    server = undefined;
  };
  afterEach(async () => {
    pg?.thaw();
    for (const s of sockets.splice(0)) s.destroy();
    await closeServer();
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
    log.splice(0);
    await cleanup(...dirs.splice(0));
  }, 30_000);
  return {
    sockets,
    closers,
    log,
    tempDir: async (prefix) => {
      const dir = await tempDir(prefix);
      dirs.push(dir);
      return dir;
    },
    serve: async ({ dir, ...deps }) => {
      const activity = deps.activity ?? new TransferActivity();
      const started = await startTransferServer(
        { log: (line) => void log.push(line), maxUploadBytes: 1 << 30, quota: new DiskQuota(dir, undefined), overloaded: () => undefined, ...deps, activity },
        0,
        '127.0.0.1',
      );
      server = started;
      return { server: started, activity };
    },
    closeServer,
    openUploadStore: async (name, options = {}) => {
      const opened = await openPostgresStore(pg?.url() ?? '', { schema: `${name}_${process.pid}`, timeouts: FAR_TIMEOUTS, ...options })();
      if (opened._tag === 'Left') throw new Error(opened.left.message);
      const store = opened.right;
      closers.push(() => store.close());
      expect(await store.createThread('t', 'u')()).toEqual({ _tag: 'Right', right: true });
      const checked = await store.checkUpload('t', 'f', 'u')();
      if (checked._tag === 'Left') throw new Error(checked.left.kind);
      return { store, incarnation: checked.right };
    },
  };
};
