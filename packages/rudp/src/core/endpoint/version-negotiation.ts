/**
 * Peers of different protocol versions: a server answers an INITIAL of
 * another version with a VERSION packet (version-packet.ts), and a client
 * whose attempt gets one ends it at once, saying which versions the server
 * speaks. Before, each side dropped the other's packets (`version`) and the
 * client waited its whole handshake timeout to report a server that does
 * not answer (attack round 20: 30 s, then "Unable to reach the server").
 *
 * The answer is unauthenticated, as a RETRY is: forging it takes the
 * client's connection id and the server's address, and it only ever ends an
 * attempt still in its handshake that has heard nothing else from the server
 * (no RETRY). It is 11 bytes to a datagram of at least
 * 1,200, so no amplifier, and bounded by the stateless queue.
 */
import type { Endpoint } from '../endpoint.js';
import { UNAUTHENTICATED_REFUSAL } from '../connect-attempt.js';
import type { PeerAddress } from '../sans-io.js';
import { PROTOCOL_VIOLATION, finish } from '../connection/close.js';
import { PROTOCOL_VERSION } from '../../wire/packet.js';
import { decodeVersionPacket, encodeVersionPacket, otherVersionInitialCid } from '../../wire/version-packet.js';

/** Server `e` dropped `data` from `from` for its version: answers it with a VERSION packet if it is another version's INITIAL. */
export function answerOtherVersion(e: Endpoint, data: Uint8Array, from: PeerAddress): void {
  if (!e.acceptIncoming) return;
  const cid = otherVersionInitialCid(data);
  if (cid === undefined || cid === 0) return;
  if (e.stateless.length >= e.maxStatelessQueue) return void e.drops.statelessQueueFull++;
  e.stateless.push({ to: from, data: encodeVersionPacket(cid) });
}

/**
 * Client endpoint `e` received a VERSION packet (`data`) from `from`: the attempt it names, still in its
 * handshake with that server, ends as refused. Anything else is dropped and counted.
 */
export function handleVersionPacket(e: Endpoint, data: Uint8Array, from: PeerAddress): void {
  const v = decodeVersionPacket(data);
  if (v === undefined) return void e.drops.malformed++;
  const conn = e.connections.get(v.clientCid);
  if (conn === undefined || conn.role !== 'client' || conn.state !== 'handshake') return void e.drops.unexpected++;
  if (conn.remote !== from) return void e.drops.addressMismatch++;
  // The server's RETRY came in our version, so it speaks it: a later VERSION packet is a forgery (RFC 9000
  // §6.2: discarded once any other packet was processed), which an attacker who saw the INITIAL could
  // send to make the client give up a server it had reached.
  if (conn.connecting?.timing.hasToken === true) return void e.drops.unexpected++;
  // A server of our version never sends one: a forgery, or a broken server; the attempt goes on.
  if (v.versions.includes(PROTOCOL_VERSION)) return void e.drops.malformed++;
  const theirs = v.versions.length === 1 ? `version ${v.versions[0]}` : `versions ${v.versions.join(', ')}`;
  const message = `the server at ${from} refused the connection: it speaks rudp protocol ${theirs}, this client version ${PROTOCOL_VERSION} (another release: use a client and server of one protocol version)${UNAUTHENTICATED_REFUSAL}`;
  finish(conn, 'refused', PROTOCOL_VIOLATION, message, false);
  e.touch(conn);
}
