/**
 * Path MTU discovery's ceiling by address family. The core's default,
 * 1472 bytes, is a 1500-byte Ethernet MTU less IPv4's 20-byte header and
 * UDP's 8: right for IPv4 sockets (the sans-IO core does not know the
 * family). An IPv6 header is 40 bytes, so on an IPv6 socket the same MTU
 * carries 1452: probing 1472 there would lose three probes on most paths
 * before the search settled lower. An explicit `maxDatagramSize` is kept.
 */
import type { TransportOptions } from './udp-endpoint.js';

/** Largest UDP payload a 1500-byte MTU carries over IPv6 (40 bytes of IPv6 header, 8 of UDP). */
export const IPV6_MAX_DATAGRAM = 1452;

/** `options` for a socket of `family`: on IPv6, the discovery ceiling lowered to `IPV6_MAX_DATAGRAM` unless set. */
export function withFamilyCeiling(options: TransportOptions, family: 4 | 6): TransportOptions {
  if (family !== 6 || options.maxDatagramSize !== undefined) return options;
  return { ...options, maxDatagramSize: IPV6_MAX_DATAGRAM };
}
