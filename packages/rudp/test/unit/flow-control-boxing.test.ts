/**
 * A connection's flow control holds stream offsets that pass 2^31 after 2 GiB. A field V8 first saw
 * as a small integer (a `= 0` initializer) turns, once any object holds a larger number in it, into a
 * boxed 16-byte number in every object of the class: one connection's long transfer would cost each of
 * a server's 10,000 idle connections 16 bytes a field (see helpers/field-boxing.ts). A file of its own,
 * as the helper asks.
 */
import { describe, expect, it } from 'vitest';
import { FlowControl } from '../../src/core/flow-control.js';
import { PAST_SMI, heapGrowthPerObject } from '../helpers/field-boxing.js';

const MIB = 1 << 20;

describe('FlowControl: one connection past 2 GiB of stream', () => {
  it('boxes no stream offset in the other connections (no heap grows per object)', () => {
    const perObject = heapGrowthPerObject<FlowControl>({
      make: () => new FlowControl(MIB, MIB),
      // Through getters that read every offset the push moves past 2^31.
      read: (f) => f.limit + f.credit + f.begunCredit + (f.allows(0) ? 1 : 0),
      push: () => {
        const long = new FlowControl(32 * MIB, MIB);
        // The receiver side: the grant grows with the rate read (epochConsumed), the messages begun and read
        // (begun, consumed) pass 2 GiB, and the limit announced (advertisedLimit) with them.
        for (let read = 0; read < PAST_SMI; read += MIB) {
          long.growByRate(MIB, read / MIB, 1);
          long.began(MIB);
          long.onRead(MIB);
        }
        // The sender side: waiting for a limit past 2 GiB (blockedAt).
        expect(long.allows(PAST_SMI + long.peerWindow)).toBe(false);
        expect(long.limit).toBeGreaterThan(PAST_SMI);
        expect(long.begunCredit).toBeGreaterThan(PAST_SMI);
      },
    });
    // One box is 16 bytes in each (the code before fd319f3: 80.7 B, five boxes); the long connection's own
    // few hundred bytes spread over 200,000 are ~0, and what the test runner allocates meanwhile (up to
    // ~250 KB: 4.6 B an object over 50,000) well under a box.
    expect(perObject).toBeLessThan(8);
  });
});
