/**
 * `rudpx`: reliable, ordered messages over UDP.
 *
 * ```ts
 * const server = await listen({ port: 4000 });
 * server.on('connection', (c) => c.on('message', (m) => c.send(m).catch(() => {}))); // a send rejects if the peer leaves first
 * const conn = await connect({ host: 'localhost', port: 4000 });
 * await conn.send('hello');
 * for await (const m of conn) console.log(m.toString());
 * ```
 *
 * The sans-IO core is in `rudpx/core`, the simulator in `rudpx/testing`; the
 * impairing UDP relay is its own package, `udp-relay`.
 */
export { listen, connect, RudpServer, type ListenOptions, type ConnectOptions, type RudpServerEvents, ServerKeyMismatchError } from './node/api.js';
export {
  RudpConnection,
  DEFAULT_HIGH_WATER_MARK,
  type ConnectionOptions,
  type SendOptions,
  type CloseOptions,
  type RudpConnectionEvents,
} from './node/rudp-connection.js';
export { RudpError, type RudpErrorCode, type RudpErrorDetails } from './node/rudp-error.js';
export type { MessageData } from './node/message-bytes.js';
export type { LookupFunction } from './node/resolve-host.js';
export { cryptoRandom, type TransportOptions } from './node/udp-endpoint.js';
export type { CloseReason, CloseKind } from './core/events.js';
export { PluginFault, type PluginKind } from './crypto/plugin-fault.js';
export { PROTOCOL_VIOLATION } from './core/connection/close.js';
export type { DeliveryOptions } from './core/send/delivery-options.js';
export type { ConnectionStats } from './core/connection.js';
export type { EndpointStats, ReceiveBufferStats } from './core/endpoint.js';
export type { NodeEndpointStats } from './node/udp-endpoint.js';
export type { ConnectionConfig, RedundancyConfig } from './core/config.js';
export { DEFAULT_CONNECTION_CONFIG } from './core/config.js';
export { MESSAGE_CREDIT } from './core/credit.js';
export { nodeCryptoProvider, defaultCryptoProvider, packetCipherLibrary, packetCipherProviders, type PacketCipherLibrary } from './node/crypto-provider.js';
export { datagramIoLibrary, type DatagramIoLibrary } from './node/open-datagram-socket.js';
export { fingerprint, fromHex, toHex, type CryptoProvider, type KeyPair, type KeyingMaterialExporter } from './crypto/index.js';
