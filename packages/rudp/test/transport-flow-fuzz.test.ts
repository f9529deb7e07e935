/**
 * A property test of flow control over seeds (helpers/flow-fuzz.ts): server receive budgets, windows,
 * message sizes (1 B to the window), channels, loss, reordering, duplication and the server
 * application's pauses drawn from the seed. Every reliable message arrives, intact, in order within its
 * channel, within a time bound, and once every connection ended the endpoint's receive budget holds
 * nothing and no party is left in its share of first grants.
 *
 * Under a short budget too, and the budget's charge never passes its bound (the budget less its
 * sixteenth, the overcommit and the floors). Before the overcommit (a waiting message may take up to
 * the largest window past the budget, oldest first: receive-pool.ts), connections whose peers waited
 * or went idle held the credit their grants grew to (credit announced is never taken back), and a
 * message needing more than the budget had left waited for good: 64 of seeds 1-100 (188 of 1-300)
 * ended so, seeds 1, 2, 3, 5, 6 and 8 of the ten run by default among them; now 0 of 1-1000. Seed
 * 701 stalled until the session 33 review: each waiting message needed 27 bytes more than the
 * overcommit had left, the floors of clients opened while the budget was spent having taken them
 * (they now come on top of it; README, Flow control). Seed 71 found a peer waiting for 244 bytes
 * while the budget had 628 left (each top-up offered half the room, for the grant, not the message).
 */
import { describe, expect, it } from 'vitest';
import { type FuzzRun, runFlowFuzz } from './helpers/flow-fuzz.js';

const BOUND_MS = 60_000;
/** `FLOW_FUZZ_SEEDS=200` (and `FLOW_FUZZ_FIRST`) runs more seeds by hand. */
const COUNT = Number(process.env.FLOW_FUZZ_SEEDS ?? 10);
const FIRST = Number(process.env.FLOW_FUZZ_FIRST ?? 1);
const seeds = (extra: readonly number[]): number[] => [...new Set([...Array.from({ length: COUNT }, (_, k) => FIRST + k), ...extra])];

/** Every message arrived, in order per channel (0-3; 4 and 5 carry unordered ones), intact. */
function expectAllArrived(run: FuzzRun, info: string): void {
  for (const [i, list] of run.sent.entries()) {
    const got = run.received[i] ?? [];
    expect(got.length, `${info}: client ${i} read ${got.length} of ${list.length}`).toBe(list.length);
    for (let channel = 0; channel < 4; channel++) {
      const want = list.filter((m) => m.channel === channel).map((m) => m.data);
      const have = got.filter((m) => m.channel === channel).map((m) => m.data);
      expect(have.map((m) => m.length), `${info}: client ${i} channel ${channel}`).toEqual(want.map((m) => m.length));
      for (const [k, m] of have.entries()) expect(Buffer.compare(m, want[k] as Uint8Array), `${info}: client ${i} channel ${channel} #${k}`).toBe(0);
    }
    const key = (m: Uint8Array): string => `${m.length}:${Buffer.from(m).toString('base64')}`;
    for (let channel = 4; channel < 6; channel++) {
      const want = list.filter((m) => m.channel === channel).map((m) => key(m.data)).sort();
      expect(got.filter((m) => m.channel === channel).map((m) => key(m.data)).sort(), `${info}: client ${i} channel ${channel}`).toEqual(want);
    }
  }
}

describe('flow control under random sizes, channels, loss and pauses (seeded property test)', () => {
  for (const seed of seeds([])) {
    it(`seed ${seed}, a budget that holds every window: every message arrives`, () => {
      const run = runFlowFuzz(seed, BOUND_MS, true);
      const info = `seed ${seed}: ${run.setup}`;
      expectAllArrived(run, info);
      expect(run.tookMs, info).toBeLessThan(BOUND_MS);
      expect(run.leastSeen, info).toBeGreaterThanOrEqual(0);
      expect(run.after, info).toEqual({ granted: 0, waiting: 0, parties: 0 });
    });
  }
  for (const seed of seeds([71, 701])) {
    it(`seed ${seed}, a short budget: every message arrives, within the budget's bound`, () => {
      const run = runFlowFuzz(seed, BOUND_MS, false);
      const info = `seed ${seed}: ${run.setup}${run.tookMs === Number.POSITIVE_INFINITY ? `, stalled (every waiting peer needing more than the budget and overcommit leave: ${run.budgetBound})` : ''}`;
      expectAllArrived(run, info);
      expect(run.tookMs, info).toBeLessThan(BOUND_MS);
      expect(run.mostCharged, info).toBeLessThanOrEqual(run.chargeBound);
      expect(run.leastSeen, info).toBeGreaterThanOrEqual(0);
      expect(run.after, info).toEqual({ granted: 0, waiting: 0, parties: 0 });
    });
  }
});
