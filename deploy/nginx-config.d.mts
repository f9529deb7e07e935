/** One forum-server behind the balancer. */
export interface UpstreamServer {
  readonly host: string;
  readonly udpPort: number;
  readonly tcpPort: number;
}
/** What {@link renderNginxConfig} needs. */
export interface NginxConfigOptions {
  /** Default 127.0.0.1. */
  readonly listenHost?: string;
  /** UDP and TCP port the clients use. */
  readonly listenPort: number;
  readonly servers: readonly UpstreamServer[];
  readonly pidFile: string;
  /** A path, or `stderr`. */
  readonly errorLog: string;
  /** The stream module to load (default: Debian's), or `false` when nginx has it built in. */
  readonly streamModule?: string | false;
  /** Which client address the servers see (default `transparent`, the shipped one); see {@link ClientAddressMode}. */
  readonly clientAddress?: ClientAddressMode;
  /** `worker_connections` (default {@link WORKER_CONNECTIONS}); `worker_rlimit_nofile` is 4,096 more. */
  readonly workerConnections?: number;
}
/**
 * How nginx binds its sockets to the servers: `transparent` (`proxy_bind $remote_addr transparent`:
 * the client's IP address; nginx's master started as root, and routing for the replies), `loopback`
 * (`proxy_bind $remote_addr`: the client's IP address without privilege, for clients on nginx's own
 * host only: tests and demos), `nginx` (no proxy_bind: nginx's address for every client).
 */
export type ClientAddressMode = 'transparent' | 'loopback' | 'nginx';
/** Every {@link ClientAddressMode}. */
export declare const CLIENT_ADDRESS_MODES: readonly ClientAddressMode[];
/** Debian's path of the dynamic stream module. */
export declare const DEBIAN_STREAM_MODULE: string;
/**
 * The text of an nginx.conf balancing UDP and TCP over `servers` by client address. Throws when
 * `clientAddress` binds the client's address and the listen host and the servers are not IP
 * addresses of one family (a client's address cannot be bound to a socket of the other family).
 */
export declare const renderNginxConfig: (o: NginxConfigOptions) => string;
/** The options deploy/nginx.conf is rendered from. */
export declare const EXAMPLE: NginxConfigOptions;
/** nginx UDP sessions one client host may hold at once (`limit_conn`): a server's default connections per host, 256. */
export declare const UDP_SESSIONS_PER_HOST: number;
/** TCP connections one client host may hold through nginx (`limit_conn`), above a server's 16 transfers per host. */
export declare const TCP_CONNECTIONS_PER_HOST: number;
/** The worker's `worker_connections` by default (a UDP session or a TCP connection takes two). */
export declare const WORKER_CONNECTIONS: number;
