/**
 * A server connection following its client to a new port (NAT rebinding):
 * which packets from another address are opened at all, which one starts a
 * path validation (path-validation.ts), the PINGs sent to the candidate,
 * and the move once one is acknowledged from there.
 *
 * The rule for a packet from another port of the client's host: opened as
 * any (authentication, replay window); only one that authenticates, is new
 * and carries the highest packet number received so far starts a
 * validation (RFC 9000 §9.3: a reordered older one must not move the path),
 * and its frames count as any packet's. A newer packet from the validated
 * address ends a validation: the client is still there (a copy an attacker
 * raced ahead from another port, or a NAT that changed its mind).
 */
import type { Connection } from '../connection.js';
import type { DatagramScratch } from '../datagram-scratch.js';
import { dataPacketType, sealDatagram } from '../packet-sealing.js';
import { PathValidation, sameHost } from '../path-validation.js';
import type { PeerAddress } from '../sans-io.js';
import { type Frame, writePing } from '../../wire/frame.js';
import { packetNumberLength } from '../../wire/packet.js';

/**
 * Whether a packet for `c` from `from` (not its address) may be opened: only
 * on an encrypted server connection that is live, from another port of the
 * same host. Anything else is dropped unopened (`addressMismatch`), as before.
 */
export function mayComeFrom(c: Connection, from: PeerAddress): boolean {
  return c.role === 'server' && c.encrypted && (c.state === 'established' || c.state === 'closing') && sameHost(c.remote, from);
}

/**
 * An authenticated packet of `size` bytes from `from` (its number the
 * highest yet if `newest`), before its frames are handled: see the file's
 * comment.
 */
export function notePacketFrom(c: Connection, now: number, from: PeerAddress, newest: boolean, size: number): void {
  const path = c.path;
  if (from === c.remote) {
    if (newest && path !== undefined) abandon(c);
    return;
  }
  if (path !== undefined && path.candidate === from) {
    path.onReceived(size);
    return;
  }
  if (!newest) return;
  // One candidate at a time: the newest authenticated one replaces the last.
  if (path !== undefined) abandon(c);
  c.path = new PathValidation(from, now, c.rtt.pto(c.config.maxAckDelayMs), size);
  c.host.pathValidation('started');
}

/** After the frames of an authenticated packet from `from`: moves to `from` if it is the candidate and one of them acknowledges a PING sent there. */
export function checkValidated(c: Connection, from: PeerAddress, frames: readonly Frame[], count: number): void {
  const path = c.path;
  if (path === undefined || path.candidate !== from || (c.state !== 'established' && c.state !== 'closing')) return;
  for (let i = 0; i < count; i++) {
    const f = frames[i] as Frame;
    if (f.type !== 'ack' || !path.acknowledgedBy(f.ranges)) continue;
    const previous = c.remote;
    c.path = undefined;
    c.moveTo(from);
    c.host.migrated(c, previous);
    return;
  }
}

/** Whether a PING to the candidate is due at `now`. */
export function pathProbeDue(c: Connection, now: number): boolean {
  return c.path !== undefined && c.path.probeDue(now);
}

/**
 * A PING for the candidate (`c.destination` set to it): alone in its packet,
 * and, as an MTU probe, out of loss detection and congestion control, so
 * its loss costs nothing but the next probe.
 */
export function pollPathProbe(c: Connection, now: number, scratch: DatagramScratch, pn: number): Uint8Array {
  const path = c.path as PathValidation;
  const w = scratch.writer(c.config.mtu, dataPacketType(c.protection), c.remoteCid, pn, packetNumberLength(pn, c.recovery.largestAcked));
  writePing(w);
  const datagram = sealDatagram(c.protection, w, pn, scratch);
  path.onProbeSent(now, pn, datagram.length);
  c.destination = path.candidate;
  return datagram;
}

/** When the validation next needs the connection (a PING, or giving up); `Infinity` if none runs. */
export function pathDeadline(c: Connection): number {
  return c.path?.deadline() ?? Number.POSITIVE_INFINITY;
}

/** The validation timer fired: gives up once its time is out (a PING due is sent by the poll that follows). */
export function expirePath(c: Connection, now: number): void {
  if (c.path !== undefined && now >= c.path.abandonAt) abandon(c);
}

/** Gives the validation up; the connection stays on its validated address. */
function abandon(c: Connection): void {
  c.path = undefined;
  c.host.pathValidation('abandoned');
}
