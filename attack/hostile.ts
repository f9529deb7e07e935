/**
 * Helpers to turn an honest rudp Connection (sans-IO core, simulator) into a
 * hostile peer by replacing pieces of its private state. The attacker holds
 * the session keys legitimately (it completed the handshake), so whatever it
 * writes is sealed and authenticated like an honest packet.
 */
import type { Connection } from '../packages/rudp/src/core/connection.js';
import { writeAck, type PnRange } from '../packages/rudp/src/wire/frame.js';
import type { PacketWriter } from '../packages/rudp/src/wire/packet.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Any = any;

/** The largest packet number this connection has received from its peer. */
export function largestReceived(conn: Connection): number {
  return (conn as Any).acks.largest as number;
}

/**
 * Optimistic ACK: every ACK the connection writes claims [1, largest
 * received + `ahead`]. The peer clips ranges above what it sent, so the
 * claim is always "valid" and acknowledges every packet in flight, whether
 * it arrived or not. ACKs are also made due on every received packet.
 */
export function makeOptimisticAcker(conn: Connection, ahead: number): void {
  const acks = (conn as Any).acks;
  const origWrite = acks.write.bind(acks);
  acks.write = (now: number, w: PacketWriter, room: number): number => {
    const largest = acks.largest as number;
    if (largest < 0) return origWrite(now, w, room);
    const ranges: PnRange[] = [{ lo: 1, hi: largest + ahead }];
    writeAck(w, ranges, 0);
    acks.ackDue = Number.POSITIVE_INFINITY;
    acks.ackElicitingUnacked = 0;
    return largest;
  };
}

/** Make an ACK due on every packet (the attacker answers each datagram). */
export function ackEveryPacket(conn: Connection): void {
  const acks = (conn as Any).acks;
  const orig = acks.onPacket.bind(acks);
  acks.onPacket = (now: number, pn: number, prev: number, elic: boolean, rep: boolean) => {
    orig(now, pn, prev, elic, rep);
    acks.ackDue = now;
  };
}

import { DatagramScratch } from '../packages/rudp/src/core/datagram-scratch.js';
import { sealDatagram, dataPacketType } from '../packages/rudp/src/core/packet-sealing.js';

const CRAFT_SCRATCH = new DatagramScratch(1472);

/**
 * Builds one sealed DATA packet of the (hostile) connection `conn` holding
 * whatever `write` puts in it, with the connection's next packet number and
 * keys, exactly as an honest packet would be sealed. Returns a copy.
 */
export function craft(conn: Connection, size: number, write: (w: PacketWriter) => void): Uint8Array {
  const c = conn as Any;
  const pn = c.nextPn++;
  const w = CRAFT_SCRATCH.writer(size, dataPacketType(c.protection), c.remoteCid, pn, 4);
  write(w);
  return sealDatagram(c.protection, w, pn, CRAFT_SCRATCH).slice();
}

/** Discards everything an endpoint wants to send (the attacker ignores it). */
export function drainTransmits(ep: { pollTransmit(now: number): unknown }, now: number): number {
  let n = 0;
  while (ep.pollTransmit(now)) n++;
  return n;
}
