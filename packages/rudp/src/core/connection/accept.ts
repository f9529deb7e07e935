/**
 * A client's ACCEPT, applied: connect-attempt.ts decides what the ACCEPT
 * means (refused, forged, downgraded, or the server's id, window, keys and
 * identity); this file makes the connection act on it, once, and ends it
 * if a message queued before the handshake cannot fit the server's window.
 */
import type { Connection } from '../connection.js';
import type { PacketDrop } from '../packet-sealing.js';
import { PROTOCOL_VIOLATION, finish } from './close.js';
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
      // Nothing is sent: the client has no keys in place yet, and the server's connection idles out.
      finish(c, 'refused', PROTOCOL_VIOLATION, a.message, false);
      return 'ok';
    case 'accepted':
      break;
  }
  if (a.keys !== undefined) {
    c.protection = a.keys.protection;
    c.exporter = a.keys.exporter;
    c.peerStaticKey = a.serverKey;
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
