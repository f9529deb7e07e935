/**
 * The rig of the tests of a peer that keeps sending but never acknowledges (transport-timeouts.test.ts,
 * transport-outage-acknowledgement.test.ts): the server's idle timeout `idleMs`, the client's long.
 */
import { expect } from 'vitest';
import type { Connection } from '../../src/core/connection.js';
import { CLIENT, SERVER, makePair, type Pair } from './pair.js';

/**
 * A connected pair whose client hears nothing from the server (that direction drops everything), and
 * whose server answers every message (as the forum answers every request): those answers are never
 * acknowledged. The server's idle timer never fires while the client sends.
 */
export function unacknowledgingClient(idleMs: number): { readonly p: Pair; readonly server: Connection | undefined } {
  const p = makePair({ link: { delayMs: 10 }, client: { idleTimeoutMs: 60_000 }, server: { idleTimeoutMs: idleMs, keepAliveMs: 0 } });
  p.sim.runFor(500);
  const server = p.serverConn();
  expect(server?.state).toBe('established');
  p.sim.setLink(SERVER, CLIENT, { delayMs: 10, loss: 1 });
  p.onServerEvent = (e) => {
    if (e.type === 'message' && e.connection.state === 'established') e.connection.send(e.data);
  };
  return { p, server };
}
