/**
 * A server connection following its client to a new port (NAT rebinding),
 * after RFC 9000 §9.3: which packets from another address are opened at
 * all, which one moves the connection, the PATH_CHALLENGEs that validate
 * the new port (path-validation.ts: only a PATH_RESPONSE from there echoing
 * one does), and what ends a validation.
 *
 * The rule for a packet from another port of the client's host: opened as
 * any (authentication, replay window); only one that authenticates, is new
 * and carries the highest packet number received so far starts a
 * validation (§9.3: a reordered older one must not move the path), and its
 * frames count as any packet's. From then on every datagram goes to the new
 * port (a NAT rebinding left the old one dead), within the amplification
 * limit until the port is validated (§9.3.1); RTT and congestion state stay
 * (§9.4: only the port changed).
 *
 * A validation fails when it times out, when another port replaces it, when
 * a newer packet comes from the validated address (the client is still
 * there: the packet that named the candidate was a copy an attacker raced
 * ahead, or a NAT changed its mind), or, while the connection moved, when an
 * authentic copy of a packet already received comes from there (one of the
 * two was copied: a NAT does not copy, §9.3.3's attacker does). The
 * connection then sends to the validated address again (§9.3.2), and for
 * `CAUTION_PTOS` probe timeouts after a failure a new port is validated
 * BEFORE anything but challenges goes to it (`PathValidation.moved` false): an
 * attacker who races a copy of every client packet ahead (§9.3.3) then
 * diverts the connection once, until the original of its first copy
 * arrives, not for as long as it keeps racing.
 */
import type { Connection } from '../connection.js';
import type { DatagramScratch } from '../datagram-scratch.js';
import { dataPacketType, sealDatagram } from '../packet-sealing.js';
import { PathValidation, sameHost } from '../path-validation.js';
import type { PeerAddress } from '../sans-io.js';
import { type Frame, PATH_DATA_BYTES, writePathChallenge, writePing } from '../../wire/frame.js';
import { packetNumberLength } from '../../wire/packet.js';

/**
 * Probe timeouts after a failed validation during which a new port is
 * validated before the connection moves there: racing copies then costs
 * the connection at most one diversion (at most 3 probe timeouts, usually
 * one round trip) in this many probe timeouts.
 */
export const CAUTION_PTOS = 64;

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
    if (newest && path !== undefined) fail(c, now);
    return;
  }
  if (path !== undefined && path.candidate === from) {
    path.onReceived(size);
    return;
  }
  if (!newest) return;
  // One candidate at a time: the newest authenticated one replaces the last.
  if (path !== undefined) fail(c, now);
  c.path = new PathValidation(from, now, pto(c), size, now >= c.cautiousUntil);
  c.host.pathValidation('started');
}

/**
 * An authentic copy of a packet already received came from the validated
 * address while the connection had moved to a candidate: the client sent
 * it once, so one of the two was copied, and a NAT that rebinds does not
 * copy (RFC 9000 §9.3.3's attacker does, racing its copy ahead). The
 * validation fails at once, as if a newer packet had come from there.
 */
export function copyFromValidated(c: Connection, now: number): void {
  if (c.path !== undefined && c.path.moved) fail(c, now);
}

/**
 * After the frames of an authenticated packet from `from`: the candidate is
 * validated if it is `from` and one of them is a PATH_RESPONSE echoing a
 * challenge this validation sent there (RFC 9000 §8.2.3). An ACK validates
 * nothing: it is the client's word, and a client whose packets can reach
 * the server from another user's port would acknowledge what went there.
 */
export function checkValidated(c: Connection, from: PeerAddress, frames: readonly Frame[], count: number): void {
  const path = c.path;
  if (path === undefined || path.candidate !== from || (c.state !== 'established' && c.state !== 'closing')) return;
  for (let i = 0; i < count; i++) {
    const f = frames[i] as Frame;
    if (f.type !== 'path-response' || !path.answeredBy(f.data)) continue;
    const previous = c.remote;
    c.path = undefined;
    c.moveTo(from);
    c.host.migrated(c, previous);
    return;
  }
}

/** Whether a challenge to the candidate, or a PING to the validated address it left, is due at `now`. */
export function pathProbeDue(c: Connection, now: number): boolean {
  return c.path !== undefined && (c.path.probeDue(now) || c.path.oldPathProbeDue());
}

/**
 * Whether the amplification limit holds back a datagram of the size in use:
 * the connection moved to a candidate not validated yet, and what went
 * there is already close to 3x what came from it. Nothing but a PING goes,
 * and no timer that would send fires, until more comes from it.
 */
export function amplificationBlocked(c: Connection): boolean {
  return c.path !== undefined && c.path.moved && !c.path.mayAmplify(c.datagramSize);
}

/**
 * A PATH_CHALLENGE with 8 fresh bytes of the host's randomness, alone in
 * its packet, to the candidate, or else a PING to the validated address
 * (`c.destination` set to where it goes); as an MTU probe, out of loss
 * detection and congestion control, so its loss costs nothing but the next
 * probe.
 */
export function pollPathProbe(c: Connection, now: number, scratch: DatagramScratch, pn: number): Uint8Array {
  const path = c.path as PathValidation;
  const w = scratch.writer(c.config.mtu, dataPacketType(c.protection), c.remoteCid, pn, packetNumberLength(pn, c.recovery.largestAcked));
  if (path.probeDue(now)) {
    const data = challengeData(c);
    writePathChallenge(w, data);
    path.onProbeSent(now, data);
    c.destination = path.candidate;
  } else {
    writePing(w);
    path.onOldPathProbeSent();
    c.destination = c.remote;
  }
  return sealDatagram(c.protection, w, pn, scratch);
}

/** 8 unpredictable bytes (RFC 9000 §8.2.1): two 32-bit draws of the host's randomness (cryptographic in the Node adapter). */
function challengeData(c: Connection): Uint8Array {
  const data = new Uint8Array(PATH_DATA_BYTES);
  const view = new DataView(data.buffer);
  view.setUint32(0, c.host.drawRandom() >>> 0);
  view.setUint32(4, c.host.drawRandom() >>> 0);
  return data;
}

/** When the validation next needs the connection (a PING, or giving up); `Infinity` if none runs. */
export function pathDeadline(c: Connection): number {
  return c.path?.deadline() ?? Number.POSITIVE_INFINITY;
}

/** The validation timer fired: gives up once its time is out (a PING due is sent by the poll that follows). */
export function expirePath(c: Connection, now: number): void {
  if (c.path !== undefined && now >= c.path.abandonAt) fail(c, now);
}

/** The validation failed: the connection sends to its validated address, and validates the next new port before moving there. */
function fail(c: Connection, now: number): void {
  c.path = undefined;
  c.cautiousUntil = now + CAUTION_PTOS * pto(c);
  c.host.pathValidation('abandoned');
}

function pto(c: Connection): number {
  return c.rtt.pto(c.config.maxAckDelayMs);
}
