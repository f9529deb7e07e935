/**
 * How a connection ends when one of the application's plug-ins (its congestion controller, its crypto
 * provider) throws while the connection works: that connection alone, as `destroy()` ends it, with the
 * fault as the close's `cause`. Anything else thrown is a bug of rudp's own and propagates: a fault of
 * rudp's must not be hidden as the application's.
 */
import type { Connection } from '../connection.js';
import type { DatagramScratch } from '../datagram-scratch.js';
import { PluginFault } from '../../crypto/plugin-fault.js';
import { finish, startClose } from './close.js';
import { nextDatagram } from './transmit.js';

/**
 * Ends `c` for `e` if it is a plug-in's fault, else rethrows it. A handshake ends at once (nothing can be
 * sealed for the server before its ACCEPT); a drain already under way ends at once for a provider's fault
 * (its goodbye needs the provider) and goes on after a controller's (the guard stands in, inert, the CLOSE
 * needs no controller, and the close was reported when the drain began).
 */
export function endForFault(c: Connection, now: number, e: unknown): void {
  if (!(e instanceof PluginFault)) throw e;
  c.lastActivity = Math.max(c.lastActivity, now);
  c.host.wake(c);
  switch (c.state) {
    case 'closed':
      return;
    case 'handshake':
      finish(c, 'local', 1, e.message, false, undefined, e);
      return;
    case 'draining':
      if (e.plugin === 'crypto provider') finish(c, 'local', 1, e.message, true, undefined, e);
      return;
    default:
      startClose(c, c.lastActivity, { kind: 'local', code: 1, message: e.message, cause: e });
  }
}

/**
 * The goodbye of a connection just ended by a poll's fault: its first CLOSE (or a server's ACCEPT before
 * it). If a plug-in throws again on the way (a provider that cannot seal), the connection ends without
 * one: polled again, it would throw at every poll.
 */
export function goodbyeAfterFault(c: Connection, now: number, scratch: DatagramScratch): Uint8Array | undefined {
  if (c.state === 'closed') return undefined;
  try {
    return nextDatagram(c, now, scratch);
  } catch (e) {
    if (!(e instanceof PluginFault)) throw e;
    finish(c, 'local', 1, e.message, true, undefined, e);
    return undefined;
  }
}
