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

/**
 * A socket of `family` to bind to `host`: batched (rudp's addon) when
 * `batching` (default: true unless `RUDP_SOCKET_BATCHING=0`) holds, the
 * addon is built and loads, and `host` is an IP literal (the addon does not
 * resolve names); else `node:dgram`'s.
 */
export function openDatagramSocket(family: 4 | 6, host: string, batching: boolean | undefined): DatagramSocket {
  const addon = !(batching ?? batchingByDefault) || isIP(host) !== family ? undefined : loadUdpBatch();
  return addon !== undefined ? new BatchSocket(addon, family) : new DgramSocket(family);
}

/** What moves rudp's datagrams by default: rudp's batched addon (Linux, where it was built) or `node:dgram`. */
export type DatagramIoLibrary = 'batched' | 'node:dgram';

/** What moves datagrams for sockets bound to IP literals unless `socketBatching: false` (names always use `node:dgram`). */
export const datagramIoLibrary: DatagramIoLibrary = batchingByDefault && loadUdpBatch() !== undefined ? 'batched' : 'node:dgram';
