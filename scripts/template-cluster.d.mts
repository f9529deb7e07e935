/** Runs `body` holding the lock directory `lock`: waits while a live process holds it, takes over one left by a process that is gone. */
export declare const withLock: <T>(lock: string, body: () => Promise<T>) => Promise<T>;
/** The data directory of the template cluster, made if missing (see template-cluster.mjs). */
export declare const templateCluster: (log: (line: string) => void) => Promise<string>;
/** What {@link derivedCluster} makes a template of: `prepare` run on a started copy of `from` (default: the base template). */
export interface DerivedTemplate {
  /** Names what `prepare` writes (a-z, 0-9, -): a template of another key is made apart. */
  readonly key: string;
  readonly from?: DerivedTemplate;
  /** Writes the template's contents into the cluster at `url` (its `forum` database). */
  readonly prepare: (url: string) => Promise<void>;
}
/** The URL of a cluster's `forum` database on `port`. */
export declare const clusterUrl: (port: number) => string;
/** The data directory of the template `spec` describes, made if missing (see template-cluster.mjs). */
export declare const derivedCluster: (log: (line: string) => void, spec: DerivedTemplate) => Promise<string>;
