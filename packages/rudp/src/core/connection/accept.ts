/**
 * A client's ACCEPT, applied: connect-attempt.ts decides what the ACCEPT
 * means (refused, forged, downgraded, or the server's id, window, keys and
 * identity); this file makes the connection act on it, once, and ends it
 * if a message queued before the handshake cannot fit the server's window.
 */
import type { Connection } from '../connection.js';
import type { PacketDrop } from '../packet-sealing.js';
import { PROTOCOL_VIOLATION, finish, startClose } from './close.js';
import { tokenText } from '../reset-tokens.js';
import type { AcceptPayload } from '../../wire/packet.js';

/** The server's ACCEPT reached client `c` at `now`: `'ok'`, or why it was dropped (the endpoint counts it). */
export function applyAccept(c: Connection, now: number, accept: AcceptPayload): 'ok' | PacketDrop {
  const attempt = c.connecting;
  if (c.state !== 'handshake' || attempt === undefined) return 'ok';
  const a = attempt.check(accept, c.remote);
  switch (a.kind) {
    case 'ignored':
      return 'ok';
    case 'dropped':
      return a.why;
    case 'refused':
      if (a.mismatch !== undefined) c.keyMismatch = a.mismatch;
      finish(c, 'refused', 0, a.message, false);
      return 'ok';
    case 'invalid':
      // The hello authenticated, so the keys are the server's: its connection is told why in a sealed CLOSE
      // (RFC 9000 §10.2: an immediate close once keys exist), as any connection closed for a protocol
      // violation is, rather than left to idle out. The client drains as after any CLOSE it sends, so the
      // ACCEPT's copy meets a draining connection, no drop, as after a completed handshake (it was counted
      // `unexpected`: the connection was gone).
      c.protection = a.keys.protection;
      c.remoteCid = a.remoteCid;
      c.connecting = undefined;
      attempt.seedEstimates(now, c.rtt, c.repairPolicy, c.stat.packetsLost > 0);
      startClose(c, now, { kind: 'refused', code: PROTOCOL_VIOLATION, message: a.message });
      return 'ok';
    case 'accepted':
      break;
  }
  if (a.keys !== undefined) {
    c.protection = a.keys.protection;
    c.exporter = a.keys.exporter;
    c.peerStaticKey = a.serverKey;
    // The endpoint indexes it once the ACCEPT is handled (endpoint/stateless-reset.ts).
    c.resetToken = a.resetToken === undefined ? undefined : tokenText(a.resetToken);
  }
  c.connecting = undefined;
  c.remoteCid = a.remoteCid;
  c.flow.setPeerWindow(a.peerWindow, a.peerLimit);
  c.state = c.closeRequested ? 'closing' : 'established';
  c.lastReceived = now;
  attempt.seedEstimates(now, c.rtt, c.repairPolicy, c.stat.packetsLost > 0);
  c.host.emit({ type: 'connected', connection: c });
  // A message queued while our own window stood in for the server's, and larger than the server's
  // takes, would never leave and would hold up every message after it: the connection ends, saying why.
  const largest = c.sendQueue.largestWaiting();
  if (largest > c.maxMessageSize()) {
    c.destroy(now, 1, `rudp: a message of ${largest} bytes queued before the handshake exceeds ${c.windowTakes()}`);
  }
  return 'ok';
}
