/**
 * `rudp`: reliable, ordered messages over UDP.
 *
 * ```ts
 * const server = await listen({ port: 4000 });
 * server.on('connection', (c) => c.on('message', (m) => c.send(m)));
 * const conn = await connect({ port: 4000 });
 * await conn.send('hello');
 * ```
 *
 * The sans-IO core is in `rudp/core`, the simulator in `rudp/testing`; the
 * impairing UDP relay is its own package, `udp-relay`.
 */
export { listen, connect, RudpServer, type ListenOptions, type ConnectOptions } from './node/api.js';
export { RudpConnection, RudpError, cryptoRandom, type TransportOptions } from './node/udp-endpoint.js';
export type { CloseReason, CloseKind } from './core/events.js';
export type { ConnectionStats } from './core/connection.js';
export type { EndpointStats } from './core/endpoint.js';
export type { ConnectionConfig } from './core/config.js';
