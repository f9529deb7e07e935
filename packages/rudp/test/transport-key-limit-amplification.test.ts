/**
 * A connection whose send keys are spent (within CLOSE_RESERVE packets of their confidentiality limit, no
 * key update possible: transmit.ts closes it) while it is held to the amplification limit toward a client
 * address it has not validated (RFC 9000 §8, §9.3.1). Its CLOSE waits for the limit as every other packet
 * to that address does; before, the spent-key branch sent it past the limit, ahead of the check.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import type { PacketProtection } from '../src/crypto/index.js';
import type { PeerAddress } from '../src/core/sans-io.js';
import { CLIENT, SERVER, makePair } from './helpers/pair.js';
import { intercept, messages, protectedPacket } from './helpers/rebinding.js';

describe('a spent key meets the amplification limit (simulated)', () => {
  it.each([1, 2, 3])('seed %i: the CLOSE to a client address not validated waits for the 3x limit, as every packet there does', (seed) => {
    const p = makePair({ seed });
    p.sim.runFor(300);
    const sc = p.serverConn() as Connection;
    for (const m of messages(400)) sc.send(m);
    p.sim.wake(SERVER);
    p.sim.runFor(200);
    const third: PeerAddress = '192.0.2.9:9000';
    const bytes = new Map<PeerAddress, { in: number; out: number; over: number }>();
    const count = (peer: PeerAddress) => bytes.get(peer) ?? (bytes.set(peer, { in: 0, out: 0, over: 0 }).get(peer) as { in: number; out: number; over: number });
    // The client's packets arrive once more, as from a third host, then no more: the server moves toward it, held to 3x.
    let spoofed = 0;
    intercept(p.server, (_now, data, from, deliver) => {
      if (from !== CLIENT || !protectedPacket(data)) return deliver(data);
      if (spoofed++ === 0) {
        count(third).in += data.length;
        deliver(data, third);
      }
    });
    const poll = p.server.pollTransmit.bind(p.server);
    p.server.pollTransmit = (now) => {
      const t = poll(now);
      if (t !== undefined) {
        const c = count(t.to);
        c.out += t.data.length;
        if (c.out > 3 * c.in) c.over++;
      }
      return t;
    };
    // Wait until the limit holds the server back toward the third host, then its keys are spent.
    p.sim.runFor(30);
    expect(count(third).in).toBeGreaterThan(0);
    const protection = sc.protection as PacketProtection;
    protection.sendKeySpent = () => true;
    p.sim.wake(SERVER);
    p.sim.runFor(5_000);
    expect(sc.closeReason?.code).toBe(3);
    expect(count(third).over).toBe(0);
  });
});
