/**
 * The optional batched UDP addon (`native/udp-batch.c`, Linux): sockets
 * drained with `recvmmsg` and written with `sendmmsg`, one JavaScript call
 * per batch of datagrams. Only `batch-socket.ts` uses it.
 */
import { addonFile, hasFunctions, loadAddon } from './native-addon.js';

/** An open native socket (opaque). */
export type UdpBatchHandle = object & { readonly __udpBatchHandle: unique symbol };

/**
 * Int32 words per datagram in a metadata array: offset (0 on receive: each
 * datagram has its own buffer), length, port, family word (4, or 6 plus a
 * link-local address's interface index times 256; 0 on send: the connected
 * peer), address (4 words, network order).
 */
export const META_WORDS = 8;
/** `offloads` bit: runs of datagrams to one peer leave as one UDP GSO send. */
export const UDP_GSO = 1;
/** `offloads` bit: the socket takes UDP GRO buffers (several datagrams of one size) and cuts them up. */
export const UDP_GRO = 2;

/** Most datagrams one receive callback carries (the metadata array lent to `open` must hold this many). */
export const RECEIVE_SLOTS = 32;

/** Most datagrams one receive round (one event-loop turn) hands over: the addon's `ROUND_DATAGRAMS`. */
export const ROUND_DATAGRAMS = 128;

/** The addon's functions (see `native/udp-batch.c`); failures are negative errno values, misuse throws. */
export interface UdpBatch {
  /** `offload`: runs of datagrams to one peer leave as one UDP GSO send, and arrive through UDP GRO, where the kernel has them. */
  open(family: 4 | 6, onMessages: (...datagrams: ArrayBuffer[]) => void, onError: (errno: number, syscall: string) => void, meta: Int32Array, offload: boolean): UdpBatchHandle | number;
  bind(handle: UdpBatchHandle, ip: string, port: number, receiveBufferBytes: number): number;
  connect(handle: UdpBatchHandle, ip: string, port: number): number;
  address(handle: UdpBatchHandle): [string, number] | number;
  send(handle: UdpBatchHandle, bytes: Uint8Array, meta: Int32Array, count: number): number;
  ref(handle: UdpBatchHandle, on: boolean): void;
  close(handle: UdpBatchHandle): void;
  /** What the socket uses of the kernel's UDP offloads: `UDP_GSO` (its sends) and `UDP_GRO` (its receives), added. */
  offloads(handle: UdpBatchHandle): number;
  /** The address at `meta[word..]` as text, with its zone (`fe80::1%eth0`) when `familyWord` has one. */
  ntop(familyWord: number, meta: Int32Array, word: number): string | undefined;
  /** Writes `ip`'s address to `meta[word..]` and returns its family word (zone included), or false if it is not a literal of `family`. */
  pton(family: 4 | 6, ip: string, meta: Int32Array, word: number): number | false;
}

/** The addon's file name on this platform and architecture. */
export const UDP_BATCH_ADDON_FILE = addonFile('udp-batch');

let loaded: UdpBatch | null | undefined;

/** The addon if it was built for this platform and loads; else `undefined`, and sockets are `node:dgram`'s. */
export function loadUdpBatch(): UdpBatch | undefined {
  if (loaded === undefined) {
    const addon = loadAddon('udp-batch');
    loaded = hasFunctions<UdpBatch>(addon, ['open', 'bind', 'connect', 'address', 'send', 'ref', 'close', 'offloads', 'ntop', 'pton']) ? addon : null;
  }
  return loaded ?? undefined;
}
