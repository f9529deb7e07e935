/**
 * A connection's counters (`stats()`) count the bytes sent and received: past 2^31 once it carried
 * 2 GiB. That must not box them in every other connection's counters (see helpers/field-boxing.ts).
 * A file of its own, as the helper asks.
 */
import { describe, expect, it } from 'vitest';
import { type ConnectionCounters, newCounters } from '../../src/core/connection-stats.js';
import { PAST_SMI, heapGrowthPerObject } from '../helpers/field-boxing.js';

/** What the connection does per datagram (transmit.ts, frame-dispatch.ts). */
function count(c: ConnectionCounters, sent: number, received: number): void {
  c.packetsSent++;
  c.bytesSent += sent;
  c.packetsReceived++;
  c.bytesReceived += received;
}

describe('ConnectionCounters: one connection past 2 GiB each way', () => {
  it('boxes no byte count in the other connections (no heap grows per connection)', () => {
    const perObject = heapGrowthPerObject<ConnectionCounters>({
      make: () => {
        const c = newCounters();
        count(c, 1_200, 1_200);
        return c;
      },
      read: (c) => c.bytesSent + c.bytesReceived + c.packetsSent,
      push: () => {
        const long = newCounters();
        while (long.bytesSent <= PAST_SMI) count(long, 1_472, 1_472);
        expect(long.bytesReceived).toBeGreaterThan(PAST_SMI);
      },
    });
    expect(perObject).toBeLessThan(8);
  });
});
