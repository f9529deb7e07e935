/**
 * A large message under heavy loss and reordering arrives whole and intact:
 * its holes, however many, are bookkeeping only (reassembly.ts keeps them as
 * ranges, or as bits past MAX_LISTED_RANGES), and no fragment is refused for them.
 */
import { describe, expect, it } from 'vitest';
import { CLIENT, makePair } from './helpers/pair.js';
import type { Connection } from '../src/core/connection.js';
import { MAX_LISTED_RANGES, type Reassembly } from '../src/core/receive/reassembly.js';

/** Bytes that name their offset and message: any misplaced or foreign byte shows. */
function message(seed: number, length: number): Uint8Array {
  const b = new Uint8Array(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** The server connection's reassembly (private: read here for its bookkeeping only). */
function reassemblyOf(conn: Connection): Reassembly {
  return (conn as unknown as { readonly reassembly: Reassembly }).reassembly;
}

describe('a large message under heavy loss and reordering (simulated)', () => {
  const cases = [
    { seed: 1, delayMs: 30, loss: 0.25 },
    { seed: 2, delayMs: 30, loss: 0.25 },
    { seed: 3, delayMs: 150, loss: 0.1 },
  ] as const;
  for (const { seed, delayMs, loss } of cases) {
    it(`seed ${seed}: 2 MiB in 256-byte datagrams, ${delayMs} ms, ${loss * 100}% loss, 10% reordering, jitter: arrives whole, byte for byte`, () => {
      const p = makePair({
        seed,
        link: { delayMs, jitterMs: 10, loss, reorder: 0.1, duplicate: 0.02, bandwidthBps: 50_000_000, queueBytes: 1024 * 1024 },
        client: { mtu: 256, maxDatagramSize: 256, idleTimeoutMs: 120_000 },
        server: { idleTimeoutMs: 120_000, receiveWindow: 4 * 1024 * 1024 },
      });
      const big = message(seed, 2 * 1024 * 1024);
      const after = message(seed + 100, 3000);
      const received: Uint8Array[] = [];
      const closed: string[] = [];
      p.onServerEvent = (e) => {
        if (e.type === 'message') received.push(e.data);
        if (e.type === 'closed') closed.push(e.reason.message);
      };
      p.sim.schedule(100, () => {
        p.conn.send(big);
        p.conn.send(after);
        p.sim.wake(CLIENT);
      });
      let mostListed = 0;
      const watch = (now: number): void => {
        const s = p.serverConn();
        if (s !== undefined) mostListed = Math.max(mostListed, reassemblyOf(s).rangesListed);
        if (received.length < 2) p.sim.schedule(now + 5, watch);
      };
      p.sim.schedule(100, watch);
      p.sim.runUntilIdle(600_000);
      expect(closed).toEqual([]);
      expect(received.length).toBe(2);
      expect(Buffer.compare(received[0] as Uint8Array, big)).toBe(0);
      expect(Buffer.compare(received[1] as Uint8Array, after)).toBe(0);
      // The holes were many (up to 118 ranges at a time in these runs), and still far from where the
      // ranges give way to bits: MAX_LISTED_RANGES is set above what honest loss makes.
      expect(mostListed).toBeGreaterThan(20);
      expect(mostListed).toBeLessThanOrEqual(MAX_LISTED_RANGES);
    });
  }
});
