/**
 * The scratch objects of the send path, one set for every connection of the
 * thread: a connection builds a packet to the end before another starts
 * (nothing in building one polls another), so the plan, the sources and the
 * record handed to loss detection are rewritten per packet instead of
 * allocated (`test/send-scratch.test.ts` checks two connections polled in
 * turn).
 */
import type { OutgoingPacket } from '../recovery/sent-packet.js';
import { emptyArray } from '../shared-empty.js';
import type { Writable } from '../writable.js';
import type { PacketPlan, PacketSources } from './packet-builder.js';

/** The packet sources of the connection being polled, during `populate` (connection/transmit.ts) only (`undefined` between packets). */
export const SOURCES: Writable<Partial<PacketSources>> = {
  acks: undefined,
  repairReceiver: undefined,
  flow: undefined,
  retransmits: undefined,
  sendQueue: undefined,
  repairPolicy: undefined,
};

/** The plan of the packet being built (every field rewritten per packet; `populateDataPacket` keeps nothing of it). */
export const PLAN: Writable<PacketPlan> = { ack: false, data: false, newData: false, ping: false, resends: true };

/**
 * The record of the packet just sent, as handed to loss detection, which
 * copies it into a record of its own: rewritten per packet, and its chunks
 * let go once handed over.
 */
export const OUTGOING: Writable<OutgoingPacket> = {
  pn: 0,
  timeSent: 0,
  size: 0,
  chunks: emptyArray(),
  retransmission: false,
  ackLargest: -1,
  carriedMaxData: false,
  carriedBlocked: false,
  appLimited: false,
  leftQueueEmpty: false,
  pingOnly: false,
};
