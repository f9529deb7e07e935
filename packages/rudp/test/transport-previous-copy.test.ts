/**
 * Previous copies (`redundancy.previousCopyShare`): with one repair per
 * packet, two packets lost in a row leave the next packet's repair with two
 * unknowns, so the first lost message waits a send interval more for a second
 * repair. With the previous message copied beside the repair, the next packet
 * carries two symbols and rebuilds both. And a path losing packets from the
 * start turns repairs on from its first losses (the loss estimate counts them
 * against ten clean packets, not against an average that starts at zero).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_CONFIG, type RedundancyConfig } from '../src/core/config.js';
import { DELAY, INTERVAL, latenciesWithLosses } from './helpers/small-messages-with-losses.js';

/** With redundancy always on (thresholds 0), loses the first packets that carry messages 10 and 11. */
function latenciesAfterTwoLosses(previousCopyShare: number | undefined): readonly number[] {
  const redundancy: RedundancyConfig = { ...DEFAULT_CONNECTION_CONFIG.redundancy, lossThreshold: 0, highLossThreshold: 0, previousCopyShare };
  return latenciesWithLosses({ redundancy }, [10, 11]).latency;
}

describe('previous copies: two packets lost in a row', () => {
  it('with a copy of the previous message in every packet, the next packet rebuilds both (one send interval after the second)', () => {
    const latency = latenciesAfterTwoLosses(1);
    // Message 10 waits for packet 12: two intervals and the delay.
    expect(latency[10]).toBeCloseTo(2 * INTERVAL + DELAY, 6);
    expect(latency[11]).toBeCloseTo(INTERVAL + DELAY, 6);
  });

  it('without (the default), message 10 waits for a second repair, from packet 13', () => {
    const latency = latenciesAfterTwoLosses(undefined);
    expect(latency[10]).toBeGreaterThanOrEqual(3 * INTERVAL + DELAY);
  });
});
