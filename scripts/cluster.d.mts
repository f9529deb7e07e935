import type { ChildProcess } from 'node:child_process';
import type { ClientAddressMode } from '../deploy/nginx-config.mjs';

/** The built forum-server binary. */
export declare const SERVER_BIN: string;
/** A port free for TCP on loopback right now. */
export declare const freePort: () => Promise<number>;
/** A port free for both TCP and UDP on loopback right now (nginx listens on both). */
export declare const freeUdpTcpPort: () => Promise<number>;
/** The nginx binary, if installed. */
export declare const findNginx: () => string | undefined;
/** A forum-server process started by {@link startServerProcess}. */
export interface ServerProcess {
  readonly port: number;
  readonly tcpPort: number;
  readonly child: ChildProcess;
  /** Exit code or signal name. */
  readonly exited: Promise<number | string>;
  output(): string;
  errors(): string;
  waitFor(needle: string, ms?: number): Promise<void>;
  stop(): Promise<void>;
}
/** Starts forum-server on `port` with `--store databaseUrl`. */
export declare const startServerProcess: (o: {
  readonly port: number;
  readonly databaseUrl: string;
  readonly idleTimeoutSeconds?: number;
  readonly advertisedTransferPort?: number;
  /** `--identity-file`: servers behind one balancer share one key. */
  readonly identityFile?: string;
  /** The server's working directory (default: inherited). */
  readonly cwd?: string;
  readonly extraArgs?: readonly string[];
  /** Added to the server's environment (this process's), as FORUM_SERVER_TEST_LEASE_MS. */
  readonly env?: Readonly<Record<string, string>>;
}) => Promise<ServerProcess>;
/** A running nginx. */
export interface NginxProcess {
  readonly port: number;
  /** How nginx binds its sockets to the servers (deploy/nginx-config.mjs). */
  readonly clientAddress: ClientAddressMode;
  log(): string;
  stop(): Promise<void>;
}
/**
 * The client address mode nginx runs in here: `transparent` (the shipped mode) as root where a probe
 * through nginx shows it works, otherwise `loopback`; `why` says why root could not (probed once, and said on stderr).
 */
export declare const clientAddressHere: (bin?: string) => Promise<{ readonly mode: ClientAddressMode; readonly why?: string }>;
/**
 * Starts nginx (rendered deploy/nginx.conf) in front of `servers`; `clientAddress` defaults to {@link clientAddressHere}'s mode.
 * Without `listenPort`, on a port picked free, picked again (three times at most) if another process binds it first.
 */
export declare const startNginx: (o: {
  readonly listenPort?: number;
  readonly servers: readonly { readonly port: number; readonly tcpPort: number }[];
  readonly bin?: string;
  readonly clientAddress?: ClientAddressMode;
}) => Promise<NginxProcess>;
/** A running cluster. */
export interface Cluster {
  /** nginx's UDP and TCP port. */
  readonly port: number;
  readonly servers: readonly ServerProcess[];
  readonly nginx: NginxProcess;
  /** The identity key file every server of the cluster uses. */
  readonly identityFile: string;
  stop(): Promise<void>;
}
/** `count` servers on `databaseUrl` behind nginx. */
export declare const startCluster: (o: { readonly count: number; readonly databaseUrl: string; readonly idleTimeoutSeconds?: number; readonly extraArgs?: readonly string[]; readonly env?: Readonly<Record<string, string>> }) => Promise<Cluster>;
