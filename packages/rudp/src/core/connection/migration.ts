/**
 * A server connection following its client to a new address, after RFC 9000
 * §9: another port of its host (NAT rebinding) or another host (an IP
 * address change: Wi-Fi to cellular, a NAT that changed its public
 * address). Which packets from another address are opened at all, which
 * one moves the connection, the PATH_CHALLENGEs that validate the new
 * address (path-validation.ts: only a PATH_RESPONSE from there echoing one
 * does), and what ends a validation.
 *
 * The rule for a packet from another address: opened as any (found by its
 * connection id, authenticated, replay window); only one that
 * authenticates, is new and carries the highest packet number received so
 * far starts a validation (§9.3: a reordered older one must not move the
 * path), and its frames count as any packet's. From then on every datagram
 * goes to the new address (the old one is usually dead), within the
 * amplification limit until the address is validated (§9.3.1).
 *
 * A port change keeps RTT, congestion and path MTU state (§9.4: only the
 * port changed). A change of host is a new path: once validated (§9.4: "on
 * confirming a peer's ownership of its new address") the connection starts
 * a new congestion controller, RTT estimation from its initial values
 * (seeded by the round trip of the challenge answered, as the handshake
 * seeds the first path's) and path MTU from the base size (`newPath`); the
 * loss of a packet sent on the old path is not told to the new controller.
 * Until then the old path's state stands (what goes to the new address is
 * bounded by the amplification limit anyway), so a validation that fails,
 * as a spoofed one does, changed none of it. A new host must also have room
 * under the endpoint's per-host limits for one more connection
 * (`ConnectionHost.hostRoom`: the connection counts against the host it is
 * at), or no validation starts and none completes. Nor is a client met at
 * another address followed to a loopback one (RFC 9000 §21.5.6: request
 * forgery toward the server host's own services).
 *
 * A validation fails when it times out, when another address replaces it,
 * when a newer packet comes from the validated address (the client is still
 * there: the packet that named the candidate was a copy an attacker raced
 * ahead or rewrote, or a NAT changed its mind), or, while the connection
 * moved, when an authentic copy of a packet already received comes from
 * there (one of the two was copied: a NAT does not copy, §9.3.3's attacker
 * does). The connection then sends to the validated address again (§9.3.2),
 * and for `CAUTION_PTOS` probe timeouts after a failure a new address is
 * validated BEFORE anything but challenges goes to it
 * (`PathValidation.moved` false): an attacker who races a copy of every
 * client packet ahead, or rewrites the source of every one (§9.3.3), then
 * diverts the connection once, until the original of its first copy
 * arrives or the validation times out, not for as long as it keeps at it.
 */
import type { Connection } from '../connection.js';
import type { DatagramScratch } from '../datagram-scratch.js';
import { dataPacketType, sealDatagram } from '../packet-sealing.js';
import { PATH_PROBE_BYTES, PathValidation, isLoopback, sameHost } from '../path-validation.js';
import { newController } from '../congestion/guarded-controller.js';
import { RttEstimator } from '../recovery/rtt.js';
import type { PeerAddress } from '../sans-io.js';
import { type Frame, PATH_DATA_BYTES, writePathChallenge, writePing } from '../../wire/frame.js';
import { packetNumberLength } from '../../wire/packet.js';

/**
 * Probe timeouts after a failed validation during which a new address is
 * validated before the connection moves there: racing copies then costs
 * the connection at most one diversion (at most 3 probe timeouts, usually
 * one round trip) in this many probe timeouts. For a new host both count
 * the larger of the probe timeout and the initial one (§8.2.4).
 */
export const CAUTION_PTOS = 64;

/**
 * Whether a packet for `c` from `from` (not its address) may be opened: only
 * on an encrypted server connection that is live (its connection id found
 * it, whatever the source). Anything else is dropped unopened
 * (`addressMismatch`), as before: a client never moves, and a plaintext
 * packet proves nothing of who sent it.
 */
export function mayComeFrom(c: Connection, _from: PeerAddress): boolean {
  return c.role === 'server' && c.encrypted && (c.state === 'established' || c.state === 'closing');
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
  const newHost = !sameHost(c.remote, from);
  // A host at its connection limit takes no more, a moved one included: its packets are still handled, its address not
  // validated. The tally is asked once a probe timeout for the same address (its levels are parsed from the string, some
  // 1.5 µs for IPv6), not for every packet a client keeps sending from there; room that opens is seen a PTO later at most.
  if (newHost) {
    const refused = c.refusedHost;
    if (refused !== undefined && refused.from === from && now < refused.until) return c.host.pathValidation('refused');
    if (!c.host.hostRoom(c, from)) {
      c.refusedHost = { from, until: now + pto(c) };
      return c.host.pathValidation('refused');
    }
    c.refusedHost = undefined;
  }
  // RFC 9000 §21.5.6: a client met at another interface is not followed to a loopback address, where the server's own
  // local services (often unauthenticated) would get datagrams whose content a client holding the keys can shape.
  if (newHost && isLoopback(from) && !isLoopback(c.remote)) return c.host.pathValidation('refused');
  // One candidate at a time: the newest authenticated one replaces the last.
  if (path !== undefined) fail(c, now);
  const ptoMs = pto(c);
  c.path = new PathValidation(from, now, ptoMs, size, c.cautiousUntil === undefined || now >= c.cautiousUntil, newHost, newHost ? Math.max(ptoMs, initialPto(c)) : ptoMs);
  c.path.startPn = c.nextPn;
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
export function checkValidated(c: Connection, now: number, from: PeerAddress, frames: readonly Frame[], count: number): void {
  const path = c.path;
  if (path === undefined || path.candidate !== from || (c.state !== 'established' && c.state !== 'closing')) return;
  for (let i = 0; i < count; i++) {
    const f = frames[i] as Frame;
    if (f.type !== 'path-response') continue;
    const sentAt = path.answeredAt(f.data);
    if (sentAt === undefined) continue;
    // The host may have filled up since the validation started.
    if (path.newHost && !c.host.hostRoom(c, from)) return fail(c, now);
    const previous = c.remote;
    c.path = undefined;
    c.moveTo(from);
    // The first packet sent to the new address: from the first packet that came from there if the connection moved
    // at once, else from now.
    const firstPn = path.moved ? path.startPn : c.nextPn;
    if (path.newHost) newPath(c, now, now - sentAt, firstPn);
    else c.recovery.leaveAddress(firstPn, now);
    c.host.migrated(c, previous);
    return;
  }
}

/**
 * The client moved to another host (RFC 9000 §9.4): a new congestion
 * controller, pacing as at the start, RTT estimation from its initial values
 * seeded with `rttMs` (the challenge's round trip, replaced by the first ACK's
 * sample as the handshake's seed is), and the path MTU back to the base size
 * (discovery searches again as data fills packets). `firstPn`: the first
 * packet sent on the new path; older ones still in flight are declared lost
 * and resent there, and count for neither the new controller nor the RTT
 * (`LossDetection.useController`).
 */
function newPath(c: Connection, now: number, rttMs: number, firstPn: number): void {
  c.rtt.reset();
  c.rtt.seed(Math.max(rttMs, 1e-3));
  c.cc = newController(c.config);
  // Before the old path's packets are declared lost: their loss is no black hole of the new path's.
  c.pmtu.reset();
  c.recovery.useController(c.cc, firstPn, now);
  c.pacer.restart(c.cc, now);
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
 * its packet (padded to the base datagram size for a new host where the
 * amplification limit allows: `PathValidation.probeSize`), to the
 * candidate, or else a PING to the validated address (`c.destination` set
 * to where it goes); as an MTU probe, out of loss detection and congestion
 * control, so its loss costs nothing but the next probe.
 */
export function pollPathProbe(c: Connection, now: number, scratch: DatagramScratch, pn: number): Uint8Array {
  const path = c.path as PathValidation;
  const challenge = path.probeDue(now);
  // Sized before the header is written: a padded challenge's packet is exactly `probeSize` bytes.
  const size = challenge ? path.probeSize(c.config.mtu) : c.config.mtu;
  const w = scratch.writer(size, dataPacketType(c.protection), c.remoteCid, pn, packetNumberLength(pn, c.recovery.largestAcked));
  if (challenge) {
    const data = challengeData(c);
    writePathChallenge(w, data);
    // Padding frames (zero bytes, which every version reads) up to the size, when it is the padded one.
    if (size > PATH_PROBE_BYTES) w.bytes(new Uint8Array(w.room()));
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

/** The validation failed: the connection sends to its validated address, and validates the next new address before moving there. */
function fail(c: Connection, now: number): void {
  const timeoutPto = c.path?.timeoutPtoMs ?? 0;
  c.path = undefined;
  c.cautiousUntil = now + CAUTION_PTOS * Math.max(pto(c), timeoutPto);
  c.host.pathValidation('abandoned');
}

function pto(c: Connection): number {
  return c.rtt.pto(c.config.maxAckDelayMs);
}

/** The probe timeout of a path with no RTT sample yet (RFC 9000 §8.2.4: a new host's path is one). */
function initialPto(c: Connection): number {
  return new RttEstimator().pto(c.config.maxAckDelayMs);
}
