/**
 * A DATA or PROTECTED packet arriving on a connection (from its address, or
 * on a server from another address of its client: migration.ts): opened
 * (one that does not authenticate is dropped, never answered), its frames parsed into
 * the thread's shared scratch (receive/received-frames.ts), each frame
 * handed to the mechanism it concerns, and the scratch let go of the
 * datagram afterwards.
 */
import type { Connection } from '../connection.js';
import { type PacketDrop, openPayload } from '../packet-sealing.js';
import { EMPTY_FRAME, FRAMES, FRAME_SCRATCH, anyFrame, isAckEliciting, isClose, isRepair } from '../receive/received-frames.js';
import { noteMessageAcked, reportAckedRun } from '../send/acked-runs.js';
import { PROTOCOL_VIOLATION, startClose } from './close.js';
import { earnCredit } from './answer-credit.js';
import { noteOvercommitBegun, noteOvercommitProgress } from './timeouts.js';
import { checkValidated, copyFromValidated, notePacketFrom } from './migration.js';
import { notePathChallenge } from './path-response.js';
import { discardOldKeysIfDue, noteAcknowledged, noteKeyRotation } from './old-keys.js';
import type { PeerAddress } from '../sans-io.js';
import { type Frame, parseFramesInto } from '../../wire/frame.js';
import type { HeaderFields } from '../../wire/packet.js';

/**
 * Packet `h` (header already parsed) for `c`; `size` is the datagram's,
 * `from` its source (another port than `c.remote` only where
 * `mayComeFrom` allowed it). `'ok'` unless it was dropped, and why (the
 * endpoint counts it).
 */
export function receivePacket(c: Connection, now: number, h: HeaderFields, size: number, from: PeerAddress): 'ok' | PacketDrop {
  const pn = c.acks.expand(h.pn, h.pnBytes);
  if (c.acks.tooFarAhead(pn)) return 'malformed';
  if (c.oldKeysUntil !== undefined) discardOldKeysIfDue(c, now);
  // A copy from the validated address of a packet the connection moved for (migration.ts) is told from a forged replay.
  const payload = openPayload(c.protection, c.encrypted, h, pn, from === c.remote && c.path?.moved === true);
  if (payload === 'integrity-limit') {
    startClose(c, now, { kind: 'local', code: PROTOCOL_VIOLATION, message: 'too many forged packets' });
    return 'auth';
  }
  if (payload === 'copy') {
    copyFromValidated(c, now);
    return 'replay';
  }
  if (typeof payload === 'string') return payload;
  noteKeyRotation(c, now);
  const frames = FRAMES;
  const count = parseFramesInto(payload, frames, FRAME_SCRATCH);
  if (count === undefined) {
    frames.fill(EMPTY_FRAME);
    FRAME_SCRATCH.release();
    return 'malformed';
  }
  try {
    return handleFrames(c, now, pn, size, from, frames, count);
  } finally {
    // The frames hold views of the datagram: the shared list must not keep it alive.
    // A loop, not `fill`: Array.prototype.fill is a call into V8's C++ runtime, on every packet.
    for (let i = 0; i < count; i++) frames[i] = EMPTY_FRAME;
    FRAME_SCRATCH.release();
    // Acknowledgements a frame's handler took before it threw are still reported, now.
    reportAckedRun();
  }
}

/** The frames of authenticated packet `pn` from `from` (`frames[0, count)`, parsed and valid). */
function handleFrames(c: Connection, now: number, pn: number, size: number, from: PeerAddress, frames: readonly Frame[], count: number): 'ok' {
  const acceptRtt = c.serverHandshake?.onClientPacket(now);
  if (acceptRtt !== undefined) c.rtt.seed(acceptRtt);
  // An authenticated packet proves the client has our ACCEPT: its copy and the server hello (some
  // 300 bytes a connection) are never needed again. In plaintext anyone could forge this packet.
  if (c.encrypted) c.serverHandshake = undefined;
  c.repairReceiver.expireIfIdle(now);
  c.stat.packetsReceived++;
  c.stat.bytesReceived += size;
  const previousLargest = c.acks.largest;
  if (!c.acks.record(pn)) {
    c.stat.duplicatePackets++;
    c.acks.onDuplicate(now, anyFrame(frames, count, isAckEliciting));
    return 'ok';
  }
  // A new packet only: a copy of an old one, which anyone on the path can send again (a plaintext
  // connection takes it this far; an encrypted one's replay window refuses it before), proves nothing of
  // the peer: it would hold a vanished peer's connection open (the idle and keep-alive timers count from
  // `lastReceived`) and restart its unacknowledged count (connection/timeouts.ts).
  if (now - c.lastReceived >= c.config.idleTimeoutMs / 2) c.heardAgainAt = now;
  c.lastReceived = now;
  if (!c.encrypted) c.ackCredit = earnCredit(c.ackCredit, size);
  if (c.state === 'draining') {
    // Any packet but the peer's own CLOSE gets ours again (the peer missed it, and is still sending
    // data or acknowledging what came before it): two draining ends answering each other's CLOSEs
    // exchanged one a round trip until a drain ended, 877 datagrams (median) for each connection the
    // forum closed on loopback. A draining peer sends nothing but its CLOSE, so this ends.
    // In plaintext within 3x of what came (`Closing.answerCredit`): anyone who knows the peer's address and
    // the connection id can send these packets, and the CLOSE is up to 20 times the smallest of them.
    if (c.closing !== undefined) {
      // At most what the ACK-only packets may bank: the peer's data arriving after our CLOSE was lost (each
      // packet 3x its bytes, each answer a few hundred) banked megabytes a forger then spent at 16x.
      if (!c.encrypted) c.closing.answerCredit = earnCredit(c.closing.answerCredit, size);
      if (!anyFrame(frames, count, isClose)) c.closing.sendDue = true;
    }
    return 'ok';
  }
  // Only a server's encrypted connection ever gets a packet from another address (`mayComeFrom`), so
  // the path's state is touched only where it can run.
  if (from !== c.remote || c.path !== undefined) notePacketFrom(c, now, from, pn > previousLargest, size);
  let ackEliciting = false;
  const hasRepair = anyFrame(frames, count, isRepair);
  c.repairReceiver.prepare(hasRepair, previousLargest >= 0 && pn > previousLargest + 1 ? now : undefined);
  let ackSeen = false;
  for (let i = 0; i < count; i++) {
    const f = frames[i] as Frame;
    if (isAckEliciting(f)) ackEliciting = true;
    // Our sender writes one ACK frame a packet. Each makes loss detection walk the flight up to its
    // largest, acknowledging anything or not, and a packet holds some 150: a peer repeating one true
    // frame made every datagram cost up to 25 ordinary ones (attack round 16). The first is acted on.
    if (f.type === 'ack') {
      if (ackSeen) continue;
      ackSeen = true;
    }
    handleFrame(c, now, pn, f);
    if (c.state !== 'established' && c.state !== 'closing') return 'ok';
  }
  c.acks.onPacket(now, pn, previousLargest, ackEliciting, hasRepair);
  if (c.path !== undefined) checkValidated(c, now, from, frames, count);
  return 'ok';
}

/** Frame `f` of packet `pn`, to the mechanism it concerns. */
function handleFrame(c: Connection, now: number, pn: number, f: Frame): void {
  switch (f.type) {
    case 'ping':
      return;
    case 'ack': {
      // An ACK of a packet we never sent says the peer acknowledges what it did not receive, to
      // make us send faster than the path carries (see `LossDetection.ackViolation`).
      const violation = c.recovery.ackViolation(f.ranges, c.nextPn - 1, c.encrypted);
      if (violation !== undefined) {
        startClose(c, now, { kind: 'local', code: PROTOCOL_VIOLATION, message: `protocol violation: the peer ${violation}` });
        return;
      }
      c.pmtu.onAck(now, f.ranges);
      const progressed = c.recovery.onAck(now, f, c.nextPn - 1, pn >= c.acks.largest);
      reportAckedRun();
      // Not for a connection its controller ended from the ACK's calls (destroy(): loss detection stopped there).
      if (progressed && (c.state === 'established' || c.state === 'closing')) {
        noteAcknowledged(c);
        c.sendQueue.compact();
        c.repairPolicy.forgetAcknowledged();
      }
      return;
    }
    case 'fragment': {
      const overcommitted = c.flow.holdsOvercommit;
      const begun = c.flow.begunCredit;
      if (c.reassembly.accept(f) !== 'new') return;
      if (c.overcommitTimer?.pace !== undefined) noteOvercommitProgress(c, now);
      // Every message that begins while credit answered from the overcommit is not yet filled is held to the pace.
      if (overcommitted && c.flow.begunCredit !== begun) noteOvercommitBegun(c, now, f.messageId);
      // Repairs cover default messages only (a rebuilt message has no CHANNEL frame to say otherwise).
      if (f.offset === 0 && f.data.length === f.messageLength && f.delivery === undefined) c.repairReceiver.onWholeMessage(f.messageId, f.data);
      if (c.hasMessage()) c.host.readable(c);
      return;
    }
    case 'datagram':
      if (c.reassembly.acceptDatagram(f.channel, f.data) && c.hasMessage()) c.host.readable(c);
      return;
    case 'repair':
      c.repairReceiver.onRepair(now, pn, f);
      if (c.hasMessage()) c.host.readable(c);
      return;
    case 'message-ack':
      c.sendQueue.ackBelow(f.next, (m) => noteMessageAcked(c, c.host, m.id));
      c.retransmits.noteAcked();
      reportAckedRun();
      // Messages a repair rebuilt are complete only now (the ACK frame came first in the packet).
      c.repairPolicy.forgetAcknowledged();
      return;
    case 'max-data':
      c.flow.onMaxData(f.limit, c.sendQueue.startedStreamEnd);
      return;
    case 'window':
      c.flow.onWindow(f.window);
      return;
    case 'blocked':
      c.flow.onPeerBlocked(f.limit);
      c.answerBlocked();
      return;
    case 'path-challenge':
      notePathChallenge(c, f.data);
      return;
    case 'path-response':
      // Judged once the packet's frames are handled, by where it came from (`checkValidated`).
      return;
    case 'close':
      startClose(c, now, { kind: 'peer', code: f.code, message: f.reason || 'closed by peer' });
      return;
  }
}
