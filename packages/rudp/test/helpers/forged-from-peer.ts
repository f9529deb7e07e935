/**
 * A plaintext pair whose client is gone, and packets forged in the client's name: how the amplification
 * tests (attack round 24) feed a server connection what anyone on a plaintext path can send it.
 */
import { expect } from 'vitest';
import type { Connection } from '../../src/core/connection.js';
import { CLIENT, SERVER, makePair, type Pair } from './pair.js';

/** A plaintext pair over 10 ms links, established, then its client removed: the server's connection to forge for. */
export function servedWithoutClient(): { readonly p: Pair; readonly served: Connection } {
  const p = makePair({ link: { delayMs: 10, jitterMs: 0 }, client: { plaintext: true }, server: { plaintext: true } });
  p.sim.runFor(300);
  const served = p.serverConn();
  expect(served?.state).toBe('established');
  if (served === undefined) throw new Error('no server connection');
  p.sim.removeNode(CLIENT);
  return { p, served };
}

/** Hands `datagram` to the server as from the client's address, and runs the simulation `ms` on. */
export function deliverAsClient(p: Pair, datagram: Uint8Array, ms = 1): void {
  p.server.handleDatagram(p.sim.now, datagram, CLIENT);
  p.sim.wake(SERVER);
  p.sim.runFor(ms);
}
