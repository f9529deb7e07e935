/**
 * How a connection ends. With a goodbye: its CLOSE is due (ours, or the
 * answer to the peer's), what it had in flight is forgotten and it drains
 * for three probe timeouts. Without one: a timeout, a refused handshake, the
 * end of the drain, the endpoint's shutdown. Either way the `closed` event
 * is emitted once, at the first.
 */
import type { Connection } from '../connection.js';
import type { CloseKind, CloseReason } from '../events.js';
import { MAX_CLOSE_REASON } from '../../wire/frame.js';

/**
 * Close code of a connection the transport ends because the rules were
 * broken: too many forged packets (the integrity limit), or a peer that
 * acknowledged packets it cannot have received (an optimistic ACK).
 */
export const PROTOCOL_VIOLATION = 3;

const encoder = new TextEncoder();

/** `c` starts its goodbye for `reason` (nothing happens if it is already draining or closed); the `closed` event is emitted now. */
export function startClose(c: Connection, now: number, reason: CloseReason): void {
  if (c.state === 'draining' || c.state === 'closed') return;
  const bytes = encoder.encode(reason.message).subarray(0, MAX_CLOSE_REASON);
  c.closeFrame = { code: reason.code, reason: reason.kind === 'peer' ? new Uint8Array(0) : bytes };
  // Answer a peer's CLOSE once; send our own.
  c.closeSendDue = true;
  c.state = 'draining';
  c.pendingClose = reason;
  // Three probe timeouts (RFC 9000 §10.2), each at most maxPtoMs: a peer that inflates its round trip
  // (by holding its ACKs) would otherwise keep the closed connection, and its buffers, for as long.
  c.drainUntil = now + 3 * Math.min(c.rtt.pto(c.config.maxAckDelayMs), c.config.maxPtoMs);
  c.retransmits.clear();
  c.recovery.clear();
  // A draining connection takes no more data: what it granted goes back to the endpoint's budget.
  c.flow.release(c.reassembly.datagramsHeld);
  c.host.emit({ type: 'closed', connection: c, reason });
  c.closeReason = reason;
}

/** Ends `c` without a goodbye (or after draining); `alreadyReported`: its `closed` event was emitted when the drain began. */
export function finish(c: Connection, kind: CloseKind, code: number, message: string, alreadyReported: boolean): void {
  c.state = 'closed';
  c.recovery.clear();
  c.retransmits.clear();
  c.flow.release(c.reassembly.datagramsHeld);
  if (!alreadyReported) {
    const reason: CloseReason = { kind, code, message };
    c.closeReason = reason;
    c.host.emit({ type: 'closed', connection: c, reason });
  }
}
