/**
 * `rudpx/core`: the sans-IO transport. Drive an `Endpoint` with datagrams and
 * time from any I/O layer (the Node adapter, the simulator, your own).
 */
export { Endpoint, type EndpointConfig, type EndpointStats, type DropCounts, type ReceiveBufferStats } from './core/endpoint.js';
export { DEFAULT_MAX_RECEIVE_BUFFER_BYTES, RECEIVE_FLOOR } from './core/receive/receive-pool.js';
export { Connection, type ConnectionState, type ConnectionStats } from './core/connection.js';
export { type ConnectionConfig, DEFAULT_CONNECTION_CONFIG } from './core/config.js';
export { MESSAGE_CREDIT, MAX_MESSAGES_AHEAD, MIN_RECEIVE_WINDOW, creditOf } from './core/credit.js';
export type { EndpointEvent, CloseReason, CloseKind } from './core/events.js';
export { PluginFault, type PluginKind } from './crypto/plugin-fault.js';
export type { DeliveryOptions } from './core/send/delivery-options.js';
export { type CongestionController, type CongestionControllerFactory, type AckSample } from './core/congestion/controller.js';
export { FixedWindow } from './core/congestion/fixed-window.js';
export { Bbr, DEFAULT_INITIAL_WINDOW_PACKETS, type BbrOptions } from './core/congestion/bbr.js';
export { RttEstimator } from './core/recovery/rtt.js';
export { BinaryHeap, type HeapOrder } from './core/binary-heap.js';
export { DeadlineHeap } from './core/deadline-heap.js';
export { RangeSet } from './core/receive/range-set.js';
export { CookieJar, COOKIE_KEY_ROTATION_MS } from './core/cookie.js';
export { type SansIoEndpoint, type Transmit, type PeerAddress, type RandomSource, formatAddress, parseAddress } from './core/sans-io.js';
export { hostKey, hostLevels, type HostLevel, IPV6_PREFIX_MULTIPLE } from './core/host-key.js';
export { HostTally } from './core/host-tally.js';
export { HandshakeRate, MAX_HANDSHAKE_RATE_ENTRIES } from './core/handshake-rate.js';
export { DEFAULT_HANDSHAKES_PER_HOST_PER_SECOND, MIN_DEFAULT_HANDSHAKE_BURST } from './core/endpoint/endpoint-config.js';
export { crc32c } from './wire/crc32c.js';
export {
  parseHeader,
  PacketWriter,
  PacketType,
  MAX_DATAGRAM,
  PROTOCOL_VERSION,
  HEADER_SIZE,
  encodeInitial,
  decodeInitial,
  encodeRetry,
  encodeAccept,
  decodeAccept,
  AcceptKind,
  BusyReason,
} from './wire/packet.js';
export { encodeVersionPacket, decodeVersionPacket, otherVersionInitialCid, VERSION_PACKET_BYTE, type VersionPacket } from './wire/version-packet.js';
export { parseFrames, writeFragment, writePing, MAX_CHANNEL, type Frame } from './wire/frame.js';
export { writeAck, ackFrameSize, type PnRange } from './wire/ack-frame.js';
export { writeVarint, varintSize, Reader } from './wire/varint.js';
export {
  encodeQuicLbCid,
  decodeQuicLbCid,
  quicLbCidGenerator,
  serverIdOfDatagram,
  validateQuicLbConfig,
  nonceBytes as quicLbNonceBytes,
  QUIC_LB_CID_BYTES,
  UNROUTABLE_CONFIG_ROTATION,
  type QuicLbConfig,
  type QuicLbCid,
  type QuicLbDecodeError,
  type QuicLbResult,
} from './wire/quic-lb-cid.js';
