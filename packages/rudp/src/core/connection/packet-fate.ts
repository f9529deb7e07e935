/**
 * What a sent packet's fate means to the connection's mechanisms: loss
 * detection decides that a packet was acknowledged, lost, or lost in error
 * (`PacketFate`), and the connection passes it on through these to path MTU
 * discovery, the redundancy policy, ACK generation, flow control, the
 * resend queue and the messages whose pieces it carried.
 */
import type { Connection } from '../connection.js';
import type { SentPacket } from '../recovery/sent-packet.js';
import { noteMessageAcked } from '../send/acked-runs.js';
import type { ChunkRef } from '../send/outgoing-message.js';
import { noteOvercommitAnswerAcked } from './timeouts.js';

/** The peer has packet `p` of `c`. */
export function packetAcked(c: Connection, p: SentPacket): void {
  c.pmtu.onPacketAcked(c.lastActivity, p.pn, p.size);
  c.repairPolicy.onPacketAcked();
  c.acks.onAckAcknowledged(p.ackLargest);
  if (p.carriedMaxData) {
    // Only a packet sent after the raise can have told the peer of it (an older credit update cannot).
    if (p.pn >= c.raisedAtPn) c.flow.onMaxDataAcked();
    noteOvercommitAnswerAcked(c, c.lastActivity, p.pn);
  }
  // By index: `for of` here left an iterator result per chunk in the 64 KiB stream's profile.
  const chunks = p.chunks;
  for (let i = 0; i < chunks.length; i++) ackChunk(c, chunks[i] as ChunkRef);
  if (chunks.length > 0) c.retransmits.noteAcked();
}

/** Packet `p` of `c` was declared lost at `now` (`silent`, `run`: see `PacketFate.lost`). */
export function packetLost(c: Connection, now: number, p: SentPacket, silent: boolean, run: boolean): void {
  c.stat.packetsLost++;
  c.pmtu.onPacketLost(now, p.pn, p.size);
  c.repairPolicy.onPacketLost(p.pn);
  if (p.carriedMaxData) c.flow.onMaxDataLost();
  if (p.carriedBlocked) c.flow.onBlockedLost();
  // Tries of the messages it carried that the peer let pass (the unacknowledged timer's count, timeouts.ts).
  const chunks = p.chunks;
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i] as ChunkRef;
    if (chunk.redundant !== true && !chunk.message.isAcked(chunk.index, chunk.piece)) chunk.message.noteLost(now, p.timeSent);
  }
  c.retransmits.requeueLost(now, p, !silent && !run, c.repairPolicy.resendCopies(c.config.redundantCopies, silent), c.repairPolicy.bursty());
}

/** Packet `p` of `c`, declared lost, arrived after all. */
export function packetSpurious(c: Connection, p: SentPacket): void {
  c.stat.spuriousRetransmissions++;
  c.repairPolicy.onLossUndone(p.pn);
  packetAcked(c, p);
}

function ackChunk(c: Connection, chunk: ChunkRef): void {
  const m = chunk.message;
  // Progress on a message of several chunks (or pieces): the peer owes the rest from now
  // (`OutgoingMessage.awaitedSince`). A one-chunk message's acknowledgement completes it.
  if ((m.chunkCount > 1 || chunk.piece !== undefined) && !m.isAcked(chunk.index, chunk.piece)) m.owedFrom(c.lastActivity);
  if (m.ack(chunk.index, chunk.piece)) noteMessageAcked(c, c.host, m.id);
}
