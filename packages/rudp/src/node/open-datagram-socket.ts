/** Chooses the UDP socket implementation for one endpoint. */
import { isIP } from 'node:net';
import { BatchSocket } from './batch-socket.js';
import type { DatagramSocket } from './datagram-socket.js';
import { DgramSocket } from './dgram-socket.js';
import { loadUdpBatch } from './udp-batch.js';

/**
 * A socket of `family` to bind to `host`: batched (rudp's addon) when
 * `batching` is not false, the addon is built and loads, and `host` is an IP
 * literal (the addon does not resolve names); else `node:dgram`'s.
 */
export function openDatagramSocket(family: 4 | 6, host: string, batching: boolean | undefined): DatagramSocket {
  const addon = batching === false || isIP(host) !== family ? undefined : loadUdpBatch();
  return addon !== undefined ? new BatchSocket(addon, family) : new DgramSocket(family);
}

/** What moves rudp's datagrams by default: rudp's batched addon (Linux, where it was built) or `node:dgram`. */
export type DatagramIoLibrary = 'batched' | 'node:dgram';

/** What moves datagrams for sockets bound to IP literals unless `socketBatching: false` (names always use `node:dgram`). */
export const datagramIoLibrary: DatagramIoLibrary = loadUdpBatch() !== undefined ? 'batched' : 'node:dgram';
