/** Chooses the UDP socket implementation for one endpoint. */
import { isIP } from 'node:net';
import { BatchSocket } from './batch-socket.js';
import type { DatagramSocket } from './datagram-socket.js';
import { DgramSocket } from './dgram-socket.js';
import { loadUdpBatch } from './udp-batch.js';

/**
 * `RUDP_SOCKET_BATCHING=0` in the environment makes `node:dgram` the default
 * of the whole process, as `socketBatching: false` on every call would (to
 * compare the two, or to run a test suite on the fallback).
 */
const batchingByDefault = process.env['RUDP_SOCKET_BATCHING'] !== '0';

/** `RUDP_SEGMENT_OFFLOAD=0` makes `segmentOffload: false` the default of the whole process (to compare, or to rule it out). */
const offloadByDefault = process.env['RUDP_SEGMENT_OFFLOAD'] !== '0';

/**
 * A socket of `family` to bind to `host` (and connect to `peer`): batched
 * (rudp's addon) when `batching` (default: true unless
 * `RUDP_SOCKET_BATCHING=0`) holds, the addon is built and loads, and both
 * are IP literals without a zone (the addon resolves no names, and its bind
 * and connect take no zone such as `fe80::1%eth0`); else `node:dgram`'s.
 * A batched socket uses the kernel's UDP GSO and GRO where it has them
 * unless `offload` is false (default: true unless `RUDP_SEGMENT_OFFLOAD=0`).
 */
export function openDatagramSocket(family: 4 | 6, host: string, batching: boolean | undefined, peer?: string, offload?: boolean): DatagramSocket {
  const batchable = (batching ?? batchingByDefault) && plainLiteral(host, family) && (peer === undefined || plainLiteral(peer, family));
  const addon = batchable ? loadUdpBatch() : undefined;
  return addon !== undefined ? new BatchSocket(addon, family, offload ?? offloadByDefault) : new DgramSocket(family);
}

/** Whether `host` is an IP literal of `family` with no zone (`%eth0`). */
function plainLiteral(host: string, family: 4 | 6): boolean {
  return isIP(host) === family && !host.includes('%');
}

/** What moves rudp's datagrams by default: rudp's batched addon (Linux, where it was built) or `node:dgram`. */
export type DatagramIoLibrary = 'batched' | 'node:dgram';

/** What moves datagrams for sockets bound to IP literals unless `socketBatching: false` (names always use `node:dgram`). */
export const datagramIoLibrary: DatagramIoLibrary = batchingByDefault && loadUdpBatch() !== undefined ? 'batched' : 'node:dgram';
