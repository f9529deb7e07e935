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
