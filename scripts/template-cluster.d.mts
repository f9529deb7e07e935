/** Runs `body` holding the lock directory `lock`: waits while a live process holds it, takes over one left by a process that is gone. */
export declare const withLock: <T>(lock: string, body: () => Promise<T>) => Promise<T>;
/** The data directory of the template cluster, made if missing (see template-cluster.mjs). */
export declare const templateCluster: (log: (line: string) => void) => Promise<string>;
