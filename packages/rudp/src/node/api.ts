/**
 * The public Node API: `listen` for servers, `connect` for clients.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIP, isIPv6 } from 'node:net';
import type { EndpointStats } from '../core/endpoint.js';
import { formatAddress } from '../core/sans-io.js';
import { createUdpSocket } from './udp-socket.js';
import { RudpConnection, RudpError, type TransportOptions, UdpEndpoint } from './udp-endpoint.js';

/** Options of `listen`. */
export interface ListenOptions extends TransportOptions {
  /** UDP port (0 for an ephemeral one). */
  readonly port: number;
  /** Address to bind. Default `127.0.0.1`. */
  readonly host?: string;
  /** Most live connections. Default 100,000. */
  readonly maxConnections?: number;
}

/** Options of `connect`. */
export interface ConnectOptions extends TransportOptions {
  /** The server's UDP port. */
  readonly port: number;
  /** The server's host. Default `127.0.0.1`. */
  readonly host?: string;
  /** The local address to send from (e.g. `127.0.0.2`, to look like another host to an address-hashing balancer). Default: any. */
  readonly localAddress?: string;
}

/** A listening endpoint. Events: `'connection'` (RudpConnection), `'close'`. */
export class RudpServer extends EventEmitter<{ connection: [RudpConnection]; close: [] }> {
  private readonly live = new Set<RudpConnection>();

  /** @internal */
  constructor(private readonly io: UdpEndpoint) {
    super();
    io.onEvent = (e) => {
      if (e.type === 'incoming') {
        const conn = new RudpConnection(io, e.connection);
        this.live.add(conn);
        conn.once('close', () => this.live.delete(conn));
        this.emit('connection', conn);
      }
    };
  }

  /** The bound address. */
  address(): { address: string; port: number; family: string } {
    const a = this.io.socket.address();
    return { address: a.address, port: a.port, family: a.family };
  }

  /** Live connections. */
  get connections(): ReadonlySet<RudpConnection> {
    return this.live;
  }

  /** Endpoint counters (datagrams dropped by reason, handshakes, …). */
  stats(): EndpointStats {
    return this.io.stats();
  }

  /** Closes every connection abruptly (peers are told) and the socket. */
  async close(): Promise<void> {
    await this.io.shutdown();
    this.emit('close');
  }
}

function bind(socket: dgram.Socket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    socket.once('error', onError);
    socket.bind(port, host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

function connectSocket(socket: dgram.Socket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    socket.once('error', onError);
    socket.connect(port, host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

/** Starts a server on UDP `port`. */
export async function listen(options: ListenOptions): Promise<RudpServer> {
  const { port, host = '127.0.0.1', maxConnections, ...transport } = options;
  const socket = createUdpSocket(isIPv6(host) ? 'udp6' : 'udp4');
  await bind(socket, port, host);
  const io = new UdpEndpoint(socket, true, { ...transport, ...(maxConnections !== undefined ? { maxConnections } : {}) });
  return new RudpServer(io);
}

/**
 * Connects to a server. Resolves once the handshake completes; rejects with
 * a `RudpError` if no server answers within `handshakeTimeoutMs` (default 5 s).
 * The connection owns its socket and closes it when it ends.
 */
export async function connect(options: ConnectOptions): Promise<RudpConnection> {
  const { port, host = '127.0.0.1', localAddress, ...transport } = options;
  const socket = createUdpSocket(isIPv6(host) ? 'udp6' : 'udp4');
  await bind(socket, 0, localAddress ?? (isIPv6(host) ? '::' : '0.0.0.0'));
  const remote = formatAddress(host, port);
  // The socket only ever talks to this peer: connected, each send skips the address lookup in Node
  // and the route lookup in the kernel. (A host name is left alone: replies would carry the resolved
  // address, which the connection's address check does not know.)
  if (isIP(host) !== 0) await connectSocket(socket, port, host);
  const io = new UdpEndpoint(socket, false, transport);
  if (isIP(host) !== 0) io.connectedPeer = remote;
  const core = io.endpoint.connect(io.now(), remote);
  const conn = new RudpConnection(io, core);
  conn.once('close', () => {
    void io.shutdown();
  });
  return new Promise((resolve, reject) => {
    io.onEvent = (e) => {
      if (e.type === 'connected') resolve(conn);
      if (e.type === 'closed') reject(new RudpError(`cannot connect to ${formatAddress(host, port)}: ${e.reason.message}`, e.reason));
    };
    io.changed(core);
  });
}
