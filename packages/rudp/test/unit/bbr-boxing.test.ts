/**
 * BBR keeps the bytes delivered that end its round trip (`nextRoundDelivered`): past 2^31 once a
 * connection delivered 2 GiB. That must not box the count in every other connection (see
 * helpers/field-boxing.ts). A file of its own, as the helper asks.
 */
import { describe, expect, it } from 'vitest';
import { Bbr } from '../../src/core/congestion/bbr.js';
import type { AckSample } from '../../src/core/congestion/controller.js';
import { PAST_SMI, heapGrowthPerObject } from '../helpers/field-boxing.js';

const MIB = 1 << 20;

/** An ACK of `ackedBytes` that brings the bytes delivered from `priorDelivered` to `delivered` (application-limited: no mode changes). */
function sample(priorDelivered: number, delivered: number): AckSample {
  return { ackedBytes: delivered - priorDelivered, bytesInFlight: 0, deliveryRate: undefined, appLimited: true, priorDelivered, delivered, minRttMs: 20.5, srttMs: 21.5, latestRttMs: 21.5, ackedRttSumMs: 21.5, ackedRttCount: 1 };
}

describe('Bbr: one connection past 2 GiB delivered', () => {
  it('boxes no round-end count in the other connections (no heap grows per connection)', () => {
    const perObject = heapGrowthPerObject<Bbr>({
      make: () => {
        // A few round trips, as every connection's first: the fields holding RTTs are boxed numbers already.
        const bbr = new Bbr(1_200);
        for (let round = 0; round < 4; round++) bbr.onAck(1.5 + 1.25 * round, sample(100 * round, 100 * round + 100));
        return bbr;
      },
      read: (b) => b.window(),
      push: () => {
        const long = new Bbr(1_200);
        let delivered = 0;
        for (let t = 1.5; delivered <= PAST_SMI; t += 1.25) {
          long.onAck(t, sample(delivered, delivered + MIB));
          delivered += MIB;
        }
        expect(delivered).toBeGreaterThan(PAST_SMI);
      },
    });
    expect(perObject).toBeLessThan(8);
  });
});
