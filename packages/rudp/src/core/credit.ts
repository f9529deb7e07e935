/**
 * The credit a message takes and a connection grants at first (flow-control.ts spends it).
 *
 * A reliable message takes its bytes and `MESSAGE_CREDIT` more of the
 * window, at both ends: a message held costs the receiver some 270 bytes of
 * heap however short it is, and a window counted in bytes alone let a peer
 * make a connection hold 65,536 empty messages (18 MB) in any window. Both
 * ends also keep message ids within `MAX_MESSAGES_AHEAD` of the oldest one
 * not yet whole. The receiver refuses what goes past either, so the sender
 * never sends it: a refused fragment's packet is still acknowledged, and an
 * honest sender whose message was refused would have lost it.
 */
import type { ReceivePool } from './receive/receive-pool.js';
import { type HostLevel, hostLevels } from './host-key.js';
import type { PeerAddress } from './sans-io.js';

/** Window bytes a reliable message takes beyond its own (its bookkeeping at the receiver). */
export const MESSAGE_CREDIT = 256;

/** Window bytes a reliable message of `length` bytes takes. */
export function creditOf(length: number): number {
  return length + MESSAGE_CREDIT;
}

/** Smallest receive window an endpoint has or takes from a peer: smaller, no message of a few hundred bytes would fit. */
export const MIN_RECEIVE_WINDOW = 1_024;

/** Most message ids past the oldest one not yet whole that a receiver tracks (and so a sender sends). */
export const MAX_MESSAGES_AHEAD = 65_536;

/**
 * Credit a connection grants at first, bytes (less if its window is
 * smaller): what an application that never reads holds a connection. About
 * twice the bandwidth-delay product of 50 Mbit/s over 70 ms (437 KB), so a
 * transfer at that rate is not held back while the grant grows; a faster
 * or longer path is held back a round trip or two per doubling, until the
 * grant reaches the window.
 */
export const INITIAL_GRANT = 1024 * 1024;

/** The credit a connection with window `window` grants at first. */
export function initialGrant(window: number): number {
  return window < INITIAL_GRANT ? window : INITIAL_GRANT;
}

/**
 * The grant a connection with window `window` of `party` starts with: `initialGrant`, or less once the
 * party's first grants fill its share of the endpoint's budget (`ReceivePool.firstGrant`).
 */
export function firstGrantOf(window: number, pool: ReceivePool | undefined, party: string | undefined): number {
  const grant = initialGrant(window);
  return pool === undefined ? grant : pool.firstGrant(party, grant);
}

/** The party a server connection's peer at `address` counts in: its coarsest host level (an IPv4 address, an IPv6 /48). */
export function partyOf(address: PeerAddress): string {
  const levels = hostLevels(address);
  return (levels[levels.length - 1] as HostLevel).key;
}

/**
 * The window a connection announces (the largest message its peer may send): `window`, or what the
 * endpoint's budget could ever grant one connection if that is less. A message past that would wait
 * for credit for good; announced so, `send` refuses it instead, as before credit was granted lazily.
 */
export function windowWithin(window: number, pool: ReceivePool | undefined): number {
  if (pool === undefined) return window;
  const most = pool.largestGrant;
  return window < most ? window : most;
}
