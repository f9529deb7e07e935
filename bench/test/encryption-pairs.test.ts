import { describe, expect, it } from 'vitest';
import { ENCRYPTION_PAIRS, encryptionRatio, encryptionRunOrder, pairRuns } from '../src/udp/encryption-pairs.js';
import type { Rate } from '../src/udp/throughput.js';

const rate = (messagesPerSec: number): Rate => ({ messagesPerSec, datagramsPerSec: Number.NaN, cpuSeconds: 1, bytes: messagesPerSec });

describe('the encrypted ÷ plaintext pairs of a real-UDP round', () => {
  it('mirrors its pairs and alternates which kind runs first', () => {
    expect(encryptionRunOrder(0)).toEqual([false, true, true, false, false, true, true, false]);
    expect(encryptionRunOrder(1)).toEqual([true, false, false, true, true, false, false, true]);
    for (const round of [0, 1, 2, 3]) {
      const order = encryptionRunOrder(round);
      expect(order).toHaveLength(2 * ENCRYPTION_PAIRS);
      // Each pair holds one run of each kind.
      for (let i = 0; i < order.length; i += 2) expect(order[i]).not.toBe(order[i + 1]);
    }
  });

  it('pairs each run with its neighbour, whichever kind came first', () => {
    const order = encryptionRunOrder(1);
    // Plaintext runs at 100/s, encrypted at 90, 80, 70, 60 in the order they ran.
    const runs = [rate(100), rate(90), rate(80), rate(100), rate(100), rate(70), rate(60), rate(100)];
    expect(pairRuns(order, runs).map((p) => [p.encrypted.messagesPerSec, p.plain.messagesPerSec])).toEqual([
      [90, 100],
      [80, 100],
      [70, 100],
      [60, 100],
    ]);
  });

  it('takes the median of the pairs, so one stalled run does not decide the round', () => {
    const order = encryptionRunOrder(0);
    // Encrypted 0.88 of plaintext in every pair but one, whose encrypted run lost half its rate to a stall.
    const runs = [rate(88), rate(100), rate(100), rate(44), rate(88), rate(100), rate(100), rate(88)];
    expect(encryptionRatio(pairRuns(order, runs))).toBeCloseTo(0.88, 10);
    // A ratio of pooled runs would have read 0.77.
    const pooled = (88 + 44 + 88 + 88) / 400;
    expect(pooled).toBeCloseTo(0.77, 10);
  });
});
