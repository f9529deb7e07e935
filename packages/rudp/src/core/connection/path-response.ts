/**
 * The answer to a PATH_CHALLENGE (RFC 9000 §8.2.2): a PATH_RESPONSE echoing
 * its 8 bytes, alone in a sealed packet, sent at the next poll (the server
 * validating the client's new address waits for it). What a flood of
 * challenges can make a connection send is bounded: it keeps one, the
 * latest (an older one is superseded: the peer accepts any echo of its
 * current validation), so it answers at most once per packet it received,
 * with a packet of at most 34 bytes (the one that carried the challenge was
 * at least 32). In plaintext, where anyone on the path can forge the
 * challenge, the echo also takes from the ACK-only packets' credit
 * (`Connection.ackCredit`): each forged packet drew its echo and an ACK of
 * up to 3x besides, 4.0x in all (20-byte packets numbered 2 apart).
 */
import type { Connection } from '../connection.js';
import type { DatagramScratch } from '../datagram-scratch.js';
import { dataPacketType, sealDatagram } from '../packet-sealing.js';
import { PATH_DATA_BYTES, writePathResponse } from '../../wire/frame.js';
import { packetNumberLength } from '../../wire/packet.js';
import { spendCredit } from './answer-credit.js';

/** A PATH_CHALLENGE carrying `data` (a view of the datagram: copied) arrived: its echo is due, in place of any older one not sent yet. */
export function notePathChallenge(c: Connection, data: Uint8Array): void {
  // One buffer a connection, allocated at its first challenge: a flood of them allocates nothing more.
  const echo = (c.pathResponse ??= new Uint8Array(PATH_DATA_BYTES));
  echo.set(data);
  c.pathResponseDue = true;
}

/**
 * The PATH_RESPONSE due, alone in packet `pn`; as an MTU probe, out of loss
 * detection and congestion control (RFC 9000 §8.2.2: not delayed), so its
 * loss costs nothing but the answer to the peer's next challenge.
 */
export function pollPathResponse(c: Connection, scratch: DatagramScratch, pn: number): Uint8Array {
  c.pathResponseDue = false;
  const w = scratch.writer(c.config.mtu, dataPacketType(c.protection), c.remoteCid, pn, packetNumberLength(pn, c.recovery.largestAcked));
  writePathResponse(w, c.pathResponse as Uint8Array);
  const datagram = sealDatagram(c.protection, w, pn, scratch);
  if (!c.encrypted) c.ackCredit = spendCredit(c.ackCredit, datagram.length);
  return datagram;
}
