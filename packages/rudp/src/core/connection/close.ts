/**
 * How a connection ends. With a goodbye: its CLOSE is due (ours, or the
 * answer to the peer's), what it had in flight is forgotten and it drains
 * for three probe timeouts. Without one: a timeout, a refused handshake, the
 * end of the drain, the endpoint's shutdown. Either way the `closed` event
 * is emitted once, at the first.
 */
import type { Connection } from '../connection.js';
import type { CloseKind, CloseReason } from '../events.js';
import { closeReasonRoom, utf8PrefixLength } from '../../wire/frame.js';
import { HEADER_SIZE, TAG_SIZE, TRAILER_SIZE } from '../../wire/packet.js';
import { reportAckedRun } from '../send/acked-runs.js';

/**
 * Close code of a connection the transport ends because the rules were
 * broken: too many forged packets (the integrity limit), or a peer that
 * acknowledged packets it cannot have received (an optimistic ACK); and of
 * a client's attempt (kind `'refused'`) whose server's authenticated
 * ACCEPT announced a receive window no message fits.
 */
export const PROTOCOL_VIOLATION = 3;

/**
 * A connection's goodbye (`Connection.closing`): made when its drain begins, so that an open
 * connection carries one field for it, not four.
 */
export interface Closing {
  /** The CLOSE we send (and send again while draining). */
  readonly frame: { readonly code: number; readonly reason: Uint8Array };
  /** Our CLOSE is owed. */
  sendDue: boolean;
  /**
   * Plaintext only: bytes our CLOSE may still take in answer to the peer's packets while draining:
   * three times what they brought (`ANSWER_FACTOR`), at most `ACK_CREDIT_CAP`, less the answers sent.
   * The first CLOSE is not an answer and takes none. Without it, a plaintext connection answered every
   * packet naming it, whoever sent it: an attacker spoofing the peer's address had a 13-byte packet
   * answered with a CLOSE of up to 285 bytes, 17x with a 200-byte reason, for the whole drain (attack
   * round 24). Capped: the peer's data after a lost CLOSE banked megabytes a forger then spent at 16x.
   * An encrypted connection answers only packets the peer sealed, whole: cut to this credit, a peer
   * that missed the first CLOSE was told 57 bytes of a 200-byte reason (the round's review).
   */
  answerCredit: number;
  /** The first CLOSE went: in plaintext every later one is an answer, within `answerCredit`. */
  firstSent: boolean;
  /** When draining ends. */
  readonly drainUntil: number;
  /** Why the connection is draining, for the close once it ends. */
  readonly reason: CloseReason;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * `message` as `c`'s CLOSE with `code` carries it, as UTF-8 and as text:
 * whole, or cut at a character boundary to `MAX_CLOSE_REASON` (256) bytes,
 * or to less where a small `mtu` leaves less room beside the ACK the CLOSE
 * shares its packet with. The connection's own close reason is the same
 * text, so both ends report the same reason.
 */
export function closeReasonOf(c: Connection, code: number, message: string): { readonly bytes: Uint8Array; readonly text: string } {
  const encoded = encoder.encode(message);
  // The packet's room (the longest header), less the most an ACK before the CLOSE takes (transmit.ts: half).
  const room = c.config.mtu - HEADER_SIZE - (c.encrypted ? TAG_SIZE : TRAILER_SIZE);
  const length = utf8PrefixLength(encoded, closeReasonRoom(room - (room >> 1), code));
  if (length === encoded.length) return { bytes: encoded, text: message };
  const bytes = encoded.subarray(0, length);
  return { bytes, text: decoder.decode(bytes) };
}

/** `c` starts its goodbye for `reason` (nothing happens if it is already draining or closed); the `closed` event is emitted now. */
export function startClose(c: Connection, now: number, told: CloseReason): void {
  if (c.state === 'draining' || c.state === 'closed') return;
  // A peer's reason came off the wire (and is not sent back); ours is cut to what the CLOSE carries.
  const cut = told.kind === 'peer' ? undefined : closeReasonOf(c, told.code, told.message);
  const reason = cut === undefined || cut.text === told.message ? told : { ...told, message: cut.text };
  c.closing = {
    frame: { code: reason.code, reason: cut === undefined ? new Uint8Array(0) : cut.bytes },
    // Answer a peer's CLOSE once; send our own.
    sendDue: true,
    answerCredit: 0,
    firstSent: false,
    // Three probe timeouts (RFC 9000 §10.2), each at most maxPtoMs: a peer that inflates its round trip
    // (by holding its ACKs) would otherwise keep the closed connection, and its buffers, for as long.
    drainUntil: now + 3 * Math.min(c.rtt.pto(c.config.maxAckDelayMs), c.config.maxPtoMs),
    reason,
  };
  c.state = 'draining';
  c.retransmits.clear();
  forgetFlight(c);
  // Read before the queue forgets which messages never left.
  const unsentFrom = c.sendQueue.firstUnsentId();
  // Forgotten, so its bytes go now, not at the drain's end (the application was told they will not arrive).
  c.sendQueue.discard();
  // A draining connection takes no more data: what it granted goes back to the endpoint's budget.
  c.flow.release(c.reassembly.datagramsHeld);
  // Messages an ACK under way acknowledged (a controller ended the connection from its `onLoss`) are reported
  // before the close, not after it: past `closed` the Node driver has let go, and rejected them as unacknowledged.
  reportAckedRun();
  c.host.emit({ type: 'closed', connection: c, reason, unsentFrom });
  c.closeReason = reason;
}

/** Ends `c` without a goodbye (or after draining); `alreadyReported`: its `closed` event was emitted when the drain began. */
export function finish(c: Connection, kind: CloseKind, code: number, message: string, alreadyReported: boolean, note?: string, cause?: Error): void {
  c.state = 'closed';
  forgetFlight(c);
  c.retransmits.clear();
  const unsentFrom = c.sendQueue.firstUnsentId();
  c.sendQueue.discard();
  c.flow.release(c.reassembly.datagramsHeld);
  if (!alreadyReported) {
    const noted: CloseReason = note === undefined ? { kind, code, message } : { kind, code, message, note };
    const reason: CloseReason = cause === undefined ? noted : { ...noted, cause };
    c.closeReason = reason;
    // Before the close, as `startClose` does.
    reportAckedRun();
    c.host.emit({ type: 'closed', connection: c, reason, unsentFrom });
  }
  // Nothing is sealed any more: send keys a key update replaced just before are wiped now, not left for the collector.
  // Last: a bug of rudp's own thrown there propagates from a connection whose close is otherwise done and reported.
  c.protection?.end();
}

/**
 * `c` ended: what it had in flight is forgotten, and its controller is called no more (loss detection and the
 * pacer let go of it). An application's controller may have ended it from one of its own calls (destroy()
 * in `onLoss`, mid-ACK): the ACK stops there, and the controller is not told of it with nothing in flight.
 */
function forgetFlight(c: Connection): void {
  c.recovery.clear();
  c.pacer.end();
}
