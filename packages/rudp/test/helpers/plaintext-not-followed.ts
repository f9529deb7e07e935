/**
 * What the NAT-rebinding and IP-migration tests both check of a plaintext connection (kept apart from
 * rebinding.ts, which the measurements outside vitest import too).
 */
import { expect } from 'vitest';
import type { PeerAddress } from '../../src/core/sans-io.js';
import { CLIENT, SERVER, makePair, messagesOf } from './pair.js';

/**
 * A plaintext pair whose client moves to `to` (a new port or a new host) and sends: the server, which cannot
 * authenticate a packet, drops what comes from there unopened, validates nothing and sends nothing there.
 */
export function expectPlaintextNotFollowed(to: PeerAddress): void {
  const p = makePair({ client: { plaintext: true }, server: { plaintext: true } });
  p.sim.runFor(300);
  const sc = p.serverConn();
  expect(sc?.state).toBe('established');
  p.sim.rebind(CLIENT, to);
  p.conn.send(new TextEncoder().encode(`from ${to}`));
  p.sim.wake(to);
  p.sim.runFor(3_000);
  expect(messagesOf(p.serverEvents)).toEqual([]);
  expect(sc?.remote).toBe(CLIENT);
  const st = p.server.stats();
  expect(st.dropped.addressMismatch).toBeGreaterThan(0);
  expect({ validations: st.pathValidations, migrations: st.migrations }).toEqual({ validations: 0, migrations: 0 });
  expect(p.sim.linkStats(SERVER, to).sentDatagrams).toBe(0);
}
