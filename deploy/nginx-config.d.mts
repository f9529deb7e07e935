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
}
/** Debian's path of the dynamic stream module. */
export declare const DEBIAN_STREAM_MODULE: string;
/** The text of an nginx.conf balancing UDP and TCP over `servers` by client address. */
export declare const renderNginxConfig: (o: NginxConfigOptions) => string;
/** The options deploy/nginx.conf is rendered from. */
export declare const EXAMPLE: NginxConfigOptions;
