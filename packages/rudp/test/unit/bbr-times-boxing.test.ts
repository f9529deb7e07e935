/**
 * BBR's full-bandwidth mark, probe cycle start, delay-run start and last spurious loss hold a rate and
 * times (fractions) once a connection carries data: that must not box them in every idle connection,
 * whose marks are still 0 (see helpers/field-boxing.ts). A file of its own, as the helper asks.
 */
import { describe, expect, it } from 'vitest';
import { Bbr } from '../../src/core/congestion/bbr.js';
import type { AckSample } from '../../src/core/congestion/controller.js';
import { heapGrowthPerObject } from '../helpers/field-boxing.js';

/** An ACK of one 1,200-byte packet: `rate` bytes/ms (`undefined`: application-limited), RTT `rttMs`. */
function sample(delivered: number, rate: number | undefined, rttMs: number): AckSample {
  return { ackedBytes: 1_200, bytesInFlight: 0, deliveryRate: rate, appLimited: rate === undefined, priorDelivered: delivered - 1_200, delivered, minRttMs: 20.5, srttMs: rttMs, latestRttMs: rttMs, ackedRttSumMs: rttMs, ackedRttCount: 1 };
}

describe('Bbr: one connection carrying data', () => {
  it('boxes no rate or time mark in the idle connections (no heap grows per connection)', () => {
    const perObject = heapGrowthPerObject<Bbr>({
      make: () => {
        // An idle connection: a greeting's few application-limited acknowledgements.
        const bbr = new Bbr(1_200);
        for (let k = 1; k <= 3; k++) bbr.onAck(1.5 + 20.75 * k, sample(1_200 * k, undefined, 20.5));
        return bbr;
      },
      read: (b) => b.window() + b.pacingRate(20.5),
      push: () => {
        const busy = new Bbr(1_200);
        let delivered = 0;
        let t = 0.5;
        // Rounds at a steady rate (the pipe fills: PROBE_BW cycles), then RTTs well above the minimum, then a spurious loss.
        for (let k = 0; k < 400; k++) {
          delivered += 1_200;
          t += 0.75;
          busy.onAck(t, sample(delivered, 57.25, k < 300 ? 20.5 : 45.5));
        }
        busy.onSpuriousLoss(t + 0.125, 1_200);
        expect(busy.pacingRate(20.5)).toBeGreaterThan(0);
      },
    });
    expect(perObject).toBeLessThan(8);
  });
});
