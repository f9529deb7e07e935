import { describe, expect, it } from 'vitest';
import { createRandom, randomFloat, randomInt } from '../src/testing/prng.js';
import { CLIENT, makePair } from './helpers/pair.js';
import type { Connection } from '../src/core/connection.js';

/** A payload that names itself: [index u32][length u32][bytes derived from index]. Any corruption or mix-up shows. */
function payload(index: number, length: number): Uint8Array {
  const n = Math.max(8, length);
  const b = new Uint8Array(n);
  const v = new DataView(b.buffer);
  v.setUint32(0, index);
  v.setUint32(4, n);
  let x = (index * 2654435761) >>> 0;
  for (let i = 8; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface RunResult {
  readonly delivered: number;
  readonly violations: string[];
  readonly acked: number;
}

/** Sends `count` messages of random sizes (a few over 1 MB) both ways under the given impairments. */
function run(seed: number, count: number, link: Parameters<typeof makePair>[0] extends infer O ? O extends { link?: infer L } ? L : never : never): RunResult {
  const rng = createRandom(seed);
  const sizes = Array.from({ length: count }, (_, i) => {
    if (i % 2500 === 1234) return 1_000_000 + randomInt(rng, 0, 600_000);
    return randomFloat(rng) < 0.9 ? randomInt(rng, 0, 200) : randomInt(rng, 200, 5000);
  });
  const p = makePair({ seed, link, client: { idleTimeoutMs: 60_000 }, server: { idleTimeoutMs: 60_000 } });
  const violations: string[] = [];
  let delivered = 0;
  let acked = 0;
  p.onServerEvent = (e) => {
    if (e.type !== 'message') return;
    const expected = payload(delivered, sizes[delivered] ?? -1);
    if (delivered >= count || !sameBytes(e.data, expected)) violations.push(`message ${delivered}: wrong bytes (len ${e.data.length})`);
    delivered++;
  };
  p.onClientEvent = (e) => {
    if (e.type === 'acked') acked += e.count;
    if (e.type === 'closed') violations.push(`client closed: ${e.reason.message}`);
  };
  // Paced by the application: 200 messages every 50 ms, so loss recovery overlaps new data.
  let next = 0;
  const feed = (conn: Connection) => (now: number): void => {
    for (let k = 0; k < 200 && next < count; k++) {
      conn.send(payload(next, sizes[next] as number));
      next++;
    }
    p.sim.wake(CLIENT);
    if (next < count) p.sim.schedule(now + 50, feed(conn));
  };
  p.sim.schedule(0, feed(p.conn));
  const done = p.sim.runUntilIdle(600_000);
  void done;
  return { delivered, violations, acked };
}

describe('reliable ordered delivery under adversity', () => {
  const seeds = [1, 2, 3, 4];
  for (const seed of seeds) {
    it(`seed ${seed}: 30% loss, 5% duplication, reordering, 1% corruption, truncation — 10,000 messages arrive whole, once, in order`, () => {
      const r = run(seed, 10_000, {
        delayMs: 35,
        jitterMs: 5,
        loss: 0.3,
        duplicate: 0.05,
        reorder: 0.05,
        corrupt: 0.01,
        truncate: 0.005,
      });
      expect(r.violations).toEqual([]);
      expect(r.delivered).toBe(10_000);
      expect(r.acked).toBe(10_000);
    });
  }
});
