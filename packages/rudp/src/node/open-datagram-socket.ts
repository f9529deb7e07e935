/** Chooses the UDP socket implementation for one endpoint. */
import { isIP } from 'node:net';
import { BatchSocket } from './batch-socket.js';
import type { DatagramSocket } from './datagram-socket.js';
import { DgramSocket } from './dgram-socket.js';
import { loadUdpBatch } from './udp-batch.js';

/**
 * A socket of `family` to bind to `host` (and connect to `peer`): batched
 * (rudp's addon) when `batching` is not false, the addon is built and loads,
 * and both are IP literals without a zone (the addon resolves no names, and
 * keeps no zone: `fe80::1%eth0` would lose its interface); else `node:dgram`'s.
 */
export function openDatagramSocket(family: 4 | 6, host: string, batching: boolean | undefined, peer?: string): DatagramSocket {
  const batchable = batching !== false && plainLiteral(host, family) && (peer === undefined || plainLiteral(peer, family));
  const addon = batchable ? loadUdpBatch() : undefined;
  return addon !== undefined ? new BatchSocket(addon, family) : new DgramSocket(family);
}

/** Whether `host` is an IP literal of `family` with no zone (`%eth0`). */
function plainLiteral(host: string, family: 4 | 6): boolean {
  return isIP(host) === family && !host.includes('%');
}

/** What moves rudp's datagrams by default: rudp's batched addon (Linux, where it was built) or `node:dgram`. */
export type DatagramIoLibrary = 'batched' | 'node:dgram';

/** What moves datagrams for sockets bound to IP literals unless `socketBatching: false` (names always use `node:dgram`). */
export const datagramIoLibrary: DatagramIoLibrary = loadUdpBatch() !== undefined ? 'batched' : 'node:dgram';
