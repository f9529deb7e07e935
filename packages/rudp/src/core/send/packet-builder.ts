/**
 * Packs the frames of one DATA packet, in priority order: the ACK when one
 * is due (kept small in front of data), owed flow-control credit, resends,
 * new data with the repair it earns (or tail copies when it was the last),
 * the ACK state again where room is left, and a PING if nothing else asks
 * for an acknowledgement but one is wanted (a keep-alive, a probe, or an
 * ACK-only packet whose old ranges the peer should let us forget). What goes in is decided by the
 * modules that own it; this file only orders and fits them.
 */
import { WROTE_BLOCKED, WROTE_MAX_DATA } from '../announced-limit.js';
import type { FlowControl } from '../flow-control.js';
import type { AckTracker } from '../receive/ack-generation.js';
import type { RepairPolicy } from '../repair/repair-policy.js';
import type { RepairReceiver } from '../repair/repair-receiver.js';
import { writePing } from '../../wire/frame.js';
import type { PacketWriter } from '../../wire/packet.js';
import type { ChunkRef } from './outgoing-message.js';
import type { RetransmitQueue } from './retransmit-queue.js';
import type { SendQueue } from './send-queue.js';
import { emptyArray } from '../shared-empty.js';
import type { Writable } from '../writable.js';

/** Room an ACK that is due may take in front of data. */
const ACK_ROOM = 16;

/** The modules a DATA packet draws from. */
export interface PacketSources {
  readonly acks: AckTracker;
  readonly repairReceiver: RepairReceiver;
  readonly flow: FlowControl;
  readonly retransmits: RetransmitQueue;
  readonly sendQueue: SendQueue;
  readonly repairPolicy: RepairPolicy;
}

/** What the coordinator decided this packet is for. */
export interface PacketPlan {
  /** An ACK is due now. */
  readonly ack: boolean;
  /** Congestion control and pacing let data go, and there is some (or a PING/probe is owed). */
  readonly data: boolean;
  /** New reliable data is waiting (it carries repairs: resent tail copies would be moot). */
  readonly newData: boolean;
  /** The packet must elicit an ACK even without data (keep-alive or probe). */
  readonly ping: boolean;
  /** Resends may go in it (not in a probe that only lets a small sender's new data past a full window). */
  readonly resends: boolean;
}

/** What a built packet carries. */
export interface PacketContents {
  /** Largest packet number our ACK frame covered (-1: no ACK). */
  readonly ackLargest: number;
  /** The packet's own array (the shared empty one when it carries none): kept by the packet's record. */
  readonly chunks: readonly ChunkRef[];
  /** It carried MAX_DATA (owed, or a raise repeated). */
  readonly carriedMaxData: boolean;
  /** It carried BLOCKED. */
  readonly carriedBlocked: boolean;
  /** It carried a resend. */
  readonly retransmission: boolean;
  readonly ackEliciting: boolean;
  /** Its only ack-eliciting frame is a PING (`plan.ping`, or an ACK-only packet's ask to be acknowledged), or a probe's flow-control frames. */
  readonly pingOnly: boolean;
  readonly repairSent: boolean;
}

/**
 * The chunks of the packet being built. An array per packet would make room
 * for 17 at its first push; this one keeps its storage, and the packet gets
 * an exact copy. It is emptied by `pop` (a `length` write to 0 drops the
 * storage), so it keeps no message alive between packets.
 */
const CHUNKS: ChunkRef[] = [];

/** What `populateDataPacket` returns: one object, rewritten by every call. */
const CONTENTS: Writable<PacketContents> = {
  ackLargest: -1,
  chunks: emptyArray(),
  carriedMaxData: false,
  carriedBlocked: false,
  retransmission: false,
  ackEliciting: false,
  pingOnly: false,
  repairSent: false,
};

/**
 * Lets go of the chunks of the packet last built, once its record has them. `CONTENTS` outlives the
 * call, and its chunks (their messages whole) stayed reachable until any connection of the thread
 * built its next packet: a reply of a connection destroyed meanwhile stayed alive for as long.
 */
export function releasePacketContents(): void {
  CONTENTS.chunks = emptyArray();
}

/**
 * Fills packet `pn` (its header already in `w`) according to `plan`. The
 * result is one object rewritten by the next call: read it before building
 * another packet (its `chunks` array is the packet's own to keep).
 */
export function populateDataPacket(now: number, pn: number, w: PacketWriter, s: PacketSources, plan: PacketPlan): PacketContents {
  try {
    return fill(now, pn, w, s, plan, CHUNKS);
  } finally {
    while (CHUNKS.length > 0) CHUNKS.pop();
  }
}

function fill(now: number, pn: number, w: PacketWriter, s: PacketSources, plan: PacketPlan, chunks: ChunkRef[]): PacketContents {
  let ackLargest = -1;
  if (plan.ack) ackLargest = writeAcks(now, w, s, plan.data ? ACK_ROOM : w.room());
  let carriedMaxData = false;
  let carriedBlocked = false;
  let retransmission = false;
  let ackEliciting = false;
  let pingOnly = false;
  let repairSent = false;
  if (plan.data) {
    const flowFrames = s.flow.writeIfDue(w);
    if (flowFrames !== 0) {
      carriedMaxData = (flowFrames & WROTE_MAX_DATA) !== 0;
      carriedBlocked = (flowFrames & WROTE_BLOCKED) !== 0;
      ackEliciting = true;
    }
    retransmission = plan.resends && s.retransmits.fill(now, w, chunks, plan.newData);
    const fresh = chunks.length;
    const datagrams = s.sendQueue.fillNewData(w, chunks, now, s.repairPolicy);
    if (datagrams > 0) ackEliciting = true;
    const freshEnd = chunks.length;
    if (freshEnd > fresh) {
      s.retransmits.noteNewData(now);
      repairSent = s.repairPolicy.fillRepair(now, pn, w, chunks);
      if (!s.sendQueue.hasNewReliableData()) s.repairPolicy.queueTailCopies(now, chunks, s.retransmits, fresh, freshEnd);
    }
    if (chunks.length > 0) {
      ackEliciting = true;
      if (!carriedMaxData && s.flow.repeatRaiseIfRoom(w)) carriedMaxData = true;
    }
    // Data packets also repeat the ACK state where it fits (cheap after ack-of-ack pruning), so one
    // lost ACK costs nothing; a full bulk chunk leaves no room, and the peer's ACK-only packets need none.
    if (ackLargest < 0 && w.room() > 0 && s.acks.peerLacksAck()) ackLargest = writeAcks(now, w, s, w.room());
    if (!ackEliciting && plan.ping) {
      writePing(w);
      ackEliciting = true;
      pingOnly = true;
    } else if (plan.ping && (carriedMaxData || carriedBlocked) && chunks.length === 0 && datagrams === 0) {
      // A probe (or keep-alive) with nothing to resend but the flow-control frames of packets in flight
      // (`AnnouncedLimit.onProbeTimeout`): no more the application's data than its PING was, so it does not
      // restart the idle timer either.
      pingOnly = true;
    }
  } else if (ackLargest >= 0 && w.room() > 0 && s.flow.repeatAnswerIfRoom(w)) {
    // An ACK-only packet repeats our answer to the peer's BLOCKED until it is known to have arrived.
    carriedMaxData = true;
    ackEliciting = true;
  } else if (ackLargest >= 0 && w.room() > 0 && s.acks.wantsAckOfAck()) {
    // An ACK-only packet whose frame carries old gaps asks to be acknowledged, so they can be dropped.
    writePing(w);
    ackEliciting = true;
    pingOnly = true;
  }
  const out = CONTENTS;
  out.ackLargest = ackLargest;
  out.chunks = chunks.length === 0 ? emptyArray() : chunks.slice();
  out.carriedMaxData = carriedMaxData;
  out.carriedBlocked = carriedBlocked;
  out.retransmission = retransmission;
  out.ackEliciting = ackEliciting;
  out.pingOnly = pingOnly;
  out.repairSent = repairSent;
  return out;
}

/** The ACK frame, and after it the MESSAGE_ACK for rebuilt messages if one is owed. */
function writeAcks(now: number, w: PacketWriter, s: PacketSources, room: number): number {
  const largest = s.acks.write(now, w, room);
  if (largest >= 0) s.repairReceiver.writeMessageAckIfDue(w);
  return largest;
}
