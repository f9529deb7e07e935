/**
 * Loss detection counts the bytes acknowledged (the delivery-rate samples' `delivered`): past 2^31
 * once a connection delivered 2 GiB. That must not box the count in every other connection (see
 * helpers/field-boxing.ts). A file of its own, as the helper asks (BBR's count: bbr-boxing.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { PAST_SMI, heapGrowthPerObject } from '../helpers/field-boxing.js';
import { RecordingController } from './fixtures.js';
import { ack, packet, rig, type Rig } from './loss-detection-rig.js';

const MIB = 1 << 20;

/** Sends packet `pn` of `size` bytes at `t` (fractional, as a connection's clock) and has it acknowledged 1.5 ms later. */
function deliver(r: Rig, pn: number, t: number, size: number): void {
  r.ld.onPacketSent(t, packet(pn, t, size));
  if (!r.ld.onAck(t + 1.5, ack([[pn, pn]]), pn)) throw new Error(`packet ${pn}'s ACK not taken`);
}

/** Objects measured: a box a field (16 B each) is still 1.6 MB against a noise of a few hundred KB at most. */
const COUNT = 100_000;

describe('LossDetection: one connection past 2 GiB delivered', () => {
  it('LossDetection boxes no delivered count in the other connections (no heap grows per connection)', () => {
    const perObject = heapGrowthPerObject<Rig>({
      make: () => {
        const r = rig();
        deliver(r, 1, 1.25, 100);
        return r;
      },
      read: (r) => r.ld.largestAcked + r.ld.bytesInFlight,
      push: () => {
        const long = rig();
        let pn = 1;
        for (; (pn - 1) * MIB <= PAST_SMI; pn++) deliver(long, pn, 1.25 * pn, MIB);
        expect((long.cc as RecordingController).acks.at(-1)?.sample.delivered).toBeGreaterThan(PAST_SMI);
      },
    }, COUNT);
    expect(perObject).toBeLessThan(8);
  });
});
