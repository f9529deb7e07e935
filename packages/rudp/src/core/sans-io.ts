/**
 * The contract every sans-IO transport endpoint in this project honours
 * (rudp's own `Endpoint`, and the KCP adapter in `bench`). The simulator and
 * the Node adapter drive any `SansIoEndpoint` the same way:
 *
 * 1. feed it datagrams with `handleDatagram(now, bytes, from)`;
 * 2. drain `pollTransmit(now)` until it returns `undefined`, sending each;
 * 3. ask `pollTimeout()` for the next deadline and call `handleTimeout(now)`
 *    when the clock reaches it (then drain `pollTransmit` again).
 *
 * Time is a plain number of milliseconds chosen by the driver; the endpoint
 * never reads a clock, never touches a socket and never draws randomness
 * except from a source it was given.
 */

/** A peer address, `host:port` (IPv6 hosts in brackets: `[::1]:4000`). */
export type PeerAddress = string;

/** A datagram the endpoint wants sent. */
export interface Transmit {
  readonly to: PeerAddress;
  readonly data: Uint8Array;
}

/** A transport state machine with time passed in and datagrams polled out. */
export interface SansIoEndpoint {
  /**
   * Accept one datagram that arrived at `now` from `from`. Never throws.
   * `data` is the endpoint's from then on (a message it delivers may be a
   * view of it): the caller must not write to it afterwards.
   */
  handleDatagram(now: number, data: Uint8Array, from: PeerAddress): void;
  /** The next datagram to send, or `undefined` when there is nothing to send now. */
  pollTransmit(now: number): Transmit | undefined;
  /** The earliest time at which `handleTimeout` must be called, or `undefined` for none. */
  pollTimeout(): number | undefined;
  /** Run every timer that is due at `now`. */
  handleTimeout(now: number): void;
}

/** A source of randomness: returns a uniformly distributed 32-bit unsigned integer. */
export type RandomSource = () => number;

/** Formats a host and port as a `PeerAddress`. */
export function formatAddress(host: string, port: number): PeerAddress {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Splits a `PeerAddress` into host and port; `undefined` if it is not one. */
export function parseAddress(address: PeerAddress): { readonly host: string; readonly port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: (m[1] ?? m[2]) as string, port };
}
