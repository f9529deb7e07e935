/**
 * What a connection sends next, one datagram a call: its handshake packet,
 * its CLOSE, a path MTU probe, a PATH_CHALLENGE validating a client's new
 * port or a PING to the address it left (migration.ts), the PATH_RESPONSE
 * echoing a challenge (path-response.ts), or a DATA packet of ACKs, resends, new data
 * and repairs, as the congestion window, pacing and the probe timer allow.
 * The packet's contents are chosen by send/packet-builder.ts; this file
 * decides whether a packet goes, at what size, and records it once sent.
 */
import type { Connection } from '../connection.js';
import type { DatagramScratch } from '../datagram-scratch.js';
import { dataPacketType, sealDatagram } from '../packet-sealing.js';
import { newDataProbeAt } from '../recovery/new-data-probe.js';
import { type PacketContents, type PacketPlan, type PacketSources, populateDataPacket, releasePacketContents } from '../send/packet-builder.js';
import { OUTGOING, PLAN, SOURCES } from '../send/packet-scratch.js';
import { writeMtuProbe } from '../send/path-mtu.js';
import { emptyArray } from '../shared-empty.js';
import { AcceptAnswer } from '../handshake.js';
import { PluginFault } from '../../crypto/plugin-fault.js';
import { PROTOCOL_VIOLATION, startClose } from './close.js';
import { spendCredit } from './answer-credit.js';
import { amplificationBlocked, pathProbeDue, pollPathProbe } from './migration.js';
import { pollPathResponse } from './path-response.js';
import { closeFrameSize, writeCloseFitting, writePadding } from '../../wire/frame.js';
import { HEADER_SIZE, type PacketWriter, TAG_SIZE, TRAILER_SIZE, packetNumberLength } from '../../wire/packet.js';

/** The close message of a connection whose send keys reached their confidentiality limit with no key update possible. */
export const KEY_SPENT = 'packet keys exhausted: no key update possible before their confidentiality limit';

/** A data packet with less room than this left is full (its sender would fill larger ones). */
const FULL_PACKET_SLACK = 64;

/** The next datagram `c` sends at `now`, written in `scratch` (handshake packets are copied out of it), if any. */
export function nextDatagram(c: Connection, now: number, scratch: DatagramScratch): Uint8Array | undefined {
  switch (c.state) {
    case 'handshake': {
      const initial = c.connecting?.timing.pollInitial(now, scratch.full);
      return initial === undefined ? undefined : account(c, initial.slice());
    }
    case 'established':
    case 'closing':
      // Keys near their confidentiality limit that cannot be updated (a peer that never let them): the connection ends, its CLOSE sealed within the keys' reserve.
      if (c.protection?.sendKeySpent() === true) {
        startClose(c, now, { kind: 'local', code: PROTOCOL_VIOLATION, message: KEY_SPENT });
        // Held to 3x toward an address not validated, as every packet is: the CLOSE stays due for the drain.
        return amplificationBlocked(c) ? undefined : pollCloseFrame(c, now, scratch);
      }
      // A challenge to a new address of the client goes first: at most three a validation, within 3x.
      if (pathProbeDue(c, now)) return account(c, pollPathProbe(c, now, scratch, takePn(c)));
      if (amplificationBlocked(c)) return undefined;
      // The echo of a PATH_CHALLENGE: the peer is validating our new address, and waits for it.
      if (c.pathResponseDue) return account(c, pollPathResponse(c, scratch, takePn(c)));
      const accept = pendingAccept(c, now, scratch);
      if (accept !== undefined) return accept;
      if (c.state === 'closing' && c.sendQueue.allAcked()) {
        startClose(c, now, { kind: 'local', code: 0, message: 'closed' });
        return pollCloseFrame(c, now, scratch);
      }
      return pollData(c, now, scratch);
    case 'draining':
      if (amplificationBlocked(c)) return undefined;
      // A server connection ended before its ACCEPT left (destroy(), close() or server.close() in the
      // 'connection' listener, which runs before the pump sends): the client cannot read a CLOSE without
      // it, and waited out its handshake timeout blaming the path. The ACCEPT goes first, then the CLOSE
      // (attack rounds 30 and 31).
      return pendingAccept(c, now, scratch) ?? pollCloseFrame(c, now, scratch);
    default:
      return undefined;
  }
}

/** The server's ACCEPT, when one is due (the first, its copy, or again for a repeated INITIAL). */
function pendingAccept(c: Connection, now: number, scratch: DatagramScratch): Uint8Array | undefined {
  const h = c.serverHandshake;
  return h?.acceptPending(now) === true ? account(c, h.pollAccept(now, scratch.full, c.remoteCid, c.stat.packetsSent === 0).slice()) : undefined;
}

/** When new data may go as a probe past a full window and pacing (`Infinity`: not now); see new-data-probe.ts. */
export function newDataProbeDeadline(c: Connection): number {
  return newDataProbeAt(c.lastNewDataProbeAt ?? Number.NEGATIVE_INFINITY, c.recovery.ptoCount, c.rtt.srtt, c.sendQueue);
}

function pollData(c: Connection, now: number, scratch: DatagramScratch): Uint8Array | undefined {
  c.lastPollTime = now;
  c.lastActivity = now;
  // Asked once a poll: by the window test here, an MTU probe's or a new-data probe's resends (not by a probe timeout's probes).
  const window = c.probesDue > 0 ? Number.POSITIVE_INFINITY : (c.windowSeen = c.cc.window());
  c.pacer.refill(now);
  // The application's controller may end its connection from those calls (destroy(); the pacer asks it nothing
  // after): nothing more is built, and the goodbye goes now (a poll that returned nothing is not polled again for it).
  if (ended(c)) return nextDatagram(c, now, scratch);
  c.pmtu.checkProbeLost(now, c.rtt.pto(c.config.maxAckDelayMs));
  syncDatagramSize(c);
  const dataProbe = c.probesDue === 0 && now >= newDataProbeDeadline(c);
  const probe = c.probesDue > 0 || dataProbe;
  // Probe-timeout packets go at the base size while larger ones are in use: if the path black-holes
  // large datagrams, these still arrive, and their ACK shows the large ones lost.
  const mtu = probe ? c.config.mtu : c.datagramSize;
  const cwndOpen = probe || c.recovery.bytesInFlight + mtu <= window;
  const canSendData = cwndOpen && (probe || c.pacer.open);
  // Drop what no longer needs sending first, so a stale entry cannot make an empty packet.
  const hasRetransmit = c.retransmits.pruneAndCheckReady(now);
  const hasNew = c.sendQueue.hasNewData();
  // Held back: perhaps by a message the peer's window can never take (a length-tracking view grown after send()).
  if (!hasNew) c.sendQueue.checkWaitingFits(c.maxMessageSize());
  const wantData = canSendData && (hasRetransmit || hasNew || c.flow.due || c.pingDue || probe);
  const wantAck = c.acks.isDue(now);
  // A client's answer to its ACCEPT (handshake.ts): any packet is one, and one goes now. This poll gave
  // the application its turn (what it writes on learning of the connection goes by the next poll).
  const answer = c.acceptAnswer === AcceptAnswer.Due;
  c.acceptAnswer = AcceptAnswer.Armed;
  if (!wantData && !wantAck && !answer) {
    if (!canSendData && (hasRetransmit || hasNew)) c.pacer.block(now, cwndOpen);
    // `block` asked the pacing rate.
    return ended(c) ? nextDatagram(c, now, scratch) : undefined;
  }
  c.pacer.unblock();
  // No MTU probe to a port not validated yet: it would spend most of the amplification limit on padding.
  const probeSize = wantData && !probe && c.path === undefined ? c.pmtu.probeDue(now, c.filledPacket) : undefined;
  if (probeSize !== undefined && c.recovery.bytesInFlight + probeSize <= window) return pollMtuProbe(c, now, scratch, probeSize);

  const pn = takePn(c);
  const pnBytes = packetNumberLength(pn, c.recovery.largestAcked);
  // Plaintext: an ACK-only packet within the credit the peer's packets gave (`Connection.ackCredit`): fewer
  // ranges, never none (the newest range always fits), so every packet is still acknowledged and no ACK
  // stays due (the poll would find it due again at once).
  const ackOnly = !wantData && !answer && !c.encrypted;
  const size = ackOnly ? Math.min(mtu, Math.max(c.ackCredit, 5 + pnBytes + c.acks.oneRangeBytes(now) + TRAILER_SIZE)) : mtu;
  const w = scratch.writer(size, dataPacketType(c.protection), c.remoteCid, pn, pnBytes);
  const plan = PLAN;
  plan.ack = wantAck;
  plan.data = wantData;
  // Datagrams carry no repairs: tail copies stay wanted when only datagrams follow.
  plan.newData = hasNew && c.sendQueue.hasNewReliableData();
  plan.ping = c.pingDue || probe;
  // Resends wait for the window: the packet-threshold rule sends them once this packet's ACK comes.
  plan.resends = !dataProbe || c.recovery.bytesInFlight + mtu <= window;
  const room = w.room();
  const p = populate(c, now, pn, w, plan);
  // Nothing else to say: PADDING alone, which asks for no acknowledgement (an old peer parses it as no frame).
  if (answer && w.room() === room) writePadding(w);
  if (wantData) {
    c.pingDue = false;
    if (c.probesDue > 0) c.probesDue--;
    else if (dataProbe) c.lastNewDataProbeAt = now;
  }
  // An answer from the endpoint's overcommit left: the peer's time to begin its message starts once it acknowledges it.
  if (p.carriedMaxData && c.flow.overcommits !== (c.overcommitTimer?.answer ?? 0)) {
    // A message begun from an earlier answer stays held to its pace (timeouts.ts).
    c.overcommitTimer = { answer: c.flow.overcommits, since: now, pn, ackedAt: Number.POSITIVE_INFINITY, pace: c.overcommitTimer?.pace };
  }
  if (p.chunks.length > 0 && w.room() < FULL_PACKET_SLACK) c.filledPacket = true;
  const datagram = sealDatagram(c.protection, w, pn, scratch);
  // Never below 0: only a packet seen before (a copy anyone on the path can send again, which brings no
  // credit) gets a packet past the credit, and a debt its copies ran up cut the peer's next ACKs to one range.
  if (ackOnly) c.ackCredit = spendCredit(c.ackCredit, datagram.length);
  if (p.ackEliciting) {
    const o = OUTGOING;
    o.pn = pn;
    o.timeSent = now;
    o.size = datagram.length;
    o.chunks = p.chunks;
    o.retransmission = p.retransmission;
    o.ackLargest = p.ackLargest;
    o.carriedMaxData = p.carriedMaxData;
    o.carriedBlocked = p.carriedBlocked;
    o.appLimited = !c.sendQueue.hasNewData() && !c.retransmits.hasResends();
    o.leftQueueEmpty = !c.sendQueue.hasNewData() && !c.retransmits.hasReady(now);
    o.pingOnly = p.pingOnly;
    c.recovery.onPacketSent(now, o);
    o.chunks = emptyArray();
    c.pacer.onSent(datagram.length);
    c.acks.onAckElicitingSent(now);
  }
  // Only now did the messages begun in it leave, and the packet count as sent: a throw above (a plug-in sealing
  // or counting it) lost the packet, which never reached the socket.
  c.stat.packetsSent++;
  c.stat.bytesSent += datagram.length;
  if (p.retransmission) c.stat.packetsRetransmitted++;
  if (p.repairSent) c.stat.repairsSent++;
  c.sendQueue.packetLeft();
  releasePacketContents();
  return datagram;
}

/** Whether `c` ended during its poll: its controller, the application's, called destroy() (it may from any call). */
function ended(c: Connection): boolean {
  return c.state !== 'established' && c.state !== 'closing';
}

/**
 * The next packet number, leaving out the one loss detection chose to skip
 * (`LossDetection.skipAt`, RFC 9000 §21.4): the skipped number is never
 * sealed, so only a peer that acknowledges what it did not receive covers it.
 */
function takePn(c: Connection): number {
  const pn = c.nextPn++;
  if (pn !== c.recovery.skipAt) return pn;
  c.recovery.onSkipped(pn, c.host.drawRandom());
  return c.nextPn++;
}

/**
 * Packs packet `pn` from `c`'s modules, lent to the shared `SOURCES` for
 * the one call: an object per packet was heap per message of idle traffic,
 * one per connection would be heap every idle connection holds, and a
 * shared one left pointing at them kept the last connection's modules (and
 * through them its endpoint) alive after it closed.
 */
function populate(c: Connection, now: number, pn: number, w: PacketWriter, plan: PacketPlan): PacketContents {
  const s = SOURCES;
  s.acks = c.acks;
  s.repairReceiver = c.repairReceiver;
  s.flow = c.flow;
  s.retransmits = c.retransmits;
  s.sendQueue = c.sendQueue;
  s.repairPolicy = c.repairPolicy;
  try {
    return populateDataPacket(now, pn, w, s as PacketSources, plan);
  } finally {
    s.acks = undefined;
    s.repairReceiver = undefined;
    s.flow = undefined;
    s.retransmits = undefined;
    s.sendQueue = undefined;
    s.repairPolicy = undefined;
  }
}

/**
 * A path MTU probe of `size` bytes: a PING padded to the size. It carries
 * no data, so its loss costs no resend, and it stays out of loss detection
 * and congestion control (path-mtu.ts judges it); pacing counts its bytes.
 */
function pollMtuProbe(c: Connection, now: number, scratch: DatagramScratch, size: number): Uint8Array {
  const pn = takePn(c);
  const w = scratch.writer(size, dataPacketType(c.protection), c.remoteCid, pn, packetNumberLength(pn, c.recovery.largestAcked));
  writeMtuProbe(w);
  const datagram = sealDatagram(c.protection, w, pn, scratch);
  c.pmtu.onProbeSent(now, pn, datagram.length);
  c.pacer.onSent(datagram.length);
  return account(c, datagram);
}

/** Tells the send queues of a datagram size path MTU discovery raised or a black hole lowered. */
function syncDatagramSize(c: Connection): void {
  const size = c.pmtu.current;
  if (size === c.datagramSize) return;
  c.datagramSize = size;
  const room = size - HEADER_SIZE - (c.encrypted ? TAG_SIZE : TRAILER_SIZE);
  c.sendQueue.setPacketRoom(room);
  c.retransmits.packetRoom = room;
}

/**
 * The CLOSE frame `close.ts` made due, once (a peer's later packets make it due again). In plaintext an
 * answer to them is no larger than their credit (`Closing.answerCredit`, 3x their bytes): the reason is
 * cut to fit, so a peer that missed the first CLOSE is still told at once, by the code at least. An
 * encrypted connection's answers are whole: only the peer can make a packet it takes, and it is answered
 * at its own validated address. `again`: whether a provider's fault that lost it but left keys the peer
 * reads may have it sealed once more (see the catch).
 */
function pollCloseFrame(c: Connection, now: number, scratch: DatagramScratch, again = true): Uint8Array | undefined {
  const closing = c.closing;
  if (closing === undefined || !closing.sendDue) return undefined;
  // Keys at their confidentiality limit seal nothing more: the peer learns of the close from its idle timeout or a stateless reset.
  if (c.protection !== undefined && !c.protection.canSeal) {
    closing.sendDue = false;
    return undefined;
  }
  const answer = closing.firstSent && !c.encrypted;
  const size = answer ? Math.min(c.config.mtu, Math.floor(closing.answerCredit)) : c.config.mtu;
  // Not even the code fits yet: still due, until the peer's next packets bring more credit.
  if (size < HEADER_SIZE + closeFrameSize(closing.frame.code, EMPTY_REASON) + (c.encrypted ? TAG_SIZE : TRAILER_SIZE)) return undefined;
  closing.sendDue = false;
  const pn = takePn(c);
  const w = scratch.writer(size, dataPacketType(c.protection), c.remoteCid, pn, packetNumberLength(pn, c.recovery.largestAcked));
  // The ACK still owed goes first: alone, the CLOSE told a peer whose last messages we had read that they failed.
  if (c.acks.peerLacksAck()) c.acks.write(now, w, w.room() >> 1);
  writeCloseFitting(w, closing.frame.code, closing.frame.reason);
  const protection = c.protection;
  const phase = protection?.keyPhase();
  const sealed = protection?.packetsSealed;
  let datagram: Uint8Array;
  try {
    datagram = sealDatagram(protection, w, pn, scratch);
  } catch (e) {
    // The provider's fault lost this CLOSE but left keys the peer reads: the new keys of a key update threw on
    // it, their first packet, and the previous ones came back (its key phase bit is stale); or it was sealed
    // and what followed threw (the next keys' derivation, the wipe of the keys an update replaced). Sealed
    // again, once, with a new number, the goodbye still leaves; a provider whose keys cannot seal throws again.
    if (!again || !(e instanceof PluginFault) || protection === undefined || (protection.keyPhase() === phase && protection.packetsSealed === sealed)) throw e;
    closing.sendDue = true;
    return pollCloseFrame(c, now, scratch, false);
  }
  if (answer) closing.answerCredit = spendCredit(closing.answerCredit, datagram.length);
  closing.firstSent = true;
  return account(c, datagram);
}

/** A CLOSE frame's reason when none fits. */
const EMPTY_REASON = new Uint8Array(0);

/** Counts `datagram` as sent by `c` (a DATA packet counts its own, with what else it carried). */
function account(c: Connection, datagram: Uint8Array): Uint8Array {
  c.stat.packetsSent++;
  c.stat.bytesSent += datagram.length;
  return datagram;
}
