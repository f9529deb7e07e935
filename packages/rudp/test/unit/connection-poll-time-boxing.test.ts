/**
 * As connection-time-boxing.test.ts, for `lastPollTime`: every connection the Node adapter polls for
 * data stores `performance.now()` in it. In a file of its own (a field boxed by another test in the same
 * worker would already be counted before it starts).
 */
import { describe, expect, it } from 'vitest';
import { DatagramScratch } from '../../src/core/datagram-scratch.js';
import { MAX_DATAGRAM } from '../../src/wire/packet.js';
import { heapGrowthPerConnection, serverConnection } from './connection-boxing-fixtures.js';

describe('Connection: one connection polled at a fractional time', () => {
  it('boxes no time in the other connections (no heap grows per object)', () => {
    const perObject = heapGrowthPerConnection(100_000, () => {
      const polled = serverConnection(1);
      // Its ACCEPT, then a look for data at a fractional time.
      const scratch = new DatagramScratch(MAX_DATAGRAM);
      expect(polled.pollTransmit(1, scratch)).toBeDefined();
      for (let i = 0; i < 10 && polled.pollTransmit(1.25, scratch) !== undefined; i++);
      expect(polled.lastPollTime).toBe(1.25);
    });
    // The polled connection's own few KB spread over 100,000 are well under 1 B (0.5 to 3.3 B measured; with lastPollTime `= 0`: 16.4 to 18.6 B).
    expect(perObject).toBeLessThan(8);
  });
});
