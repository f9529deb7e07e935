import type { DerivedTemplate } from './template-cluster.mjs';
/** A running throw-away PostgreSQL (see embedded-postgres.mjs). */
export interface EmbeddedPostgresHandle {
  /** `postgres://…` of its `forum` database. */
  readonly url: string;
  readonly port: number;
  /** Stops the server and deletes its directory. */
  stop(): Promise<void>;
}
/** Starts PostgreSQL in a fresh temporary directory on loopback, with a database `forum` (as `template` left it, if given). */
export declare const startEmbeddedPostgres: (options?: { readonly log?: (line: string) => void; readonly template?: DerivedTemplate }) => Promise<EmbeddedPostgresHandle>;
