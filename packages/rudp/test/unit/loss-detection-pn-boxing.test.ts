/**
 * Loss detection holds our own packet numbers (the largest acknowledged, the next one left out, the
 * current path's first, the sent queue's last): past 2^31 after 2^31 packets, hours of a fast sender.
 * That must not box them in every other connection (see helpers/field-boxing.ts). A file of its own,
 * as the helper asks.
 */
import { describe, expect, it } from 'vitest';
import { PAST_SMI, heapGrowthPerObject } from '../helpers/field-boxing.js';
import { RecordingController } from './fixtures.js';
import { ack, rig, send, type Rig } from './loss-detection-rig.js';

/** Objects measured: a box a field (16 B each) is still 1.6 MB against a noise of a few hundred KB at most. */
const COUNT = 100_000;

describe('LossDetection: one connection past packet number 2^31', () => {
  it('boxes no packet number in the other connections (no heap grows per connection)', () => {
    const perObject = heapGrowthPerObject<Rig>({
      make: () => {
        const r = rig();
        r.ld.scheduleSkip(1, 0x1234_5678);
        send(r, 1, 1.25);
        r.ld.onAck(42.5, ack([[1, 1]]), 1);
        return r;
      },
      read: (r) => r.ld.largestAcked + r.ld.skipAt + r.ld.bytesInFlight,
      push: () => {
        const long = rig();
        long.ld.scheduleSkip(PAST_SMI, 0x9abc_def0);
        send(long, PAST_SMI + 1, 1.25);
        long.ld.onAck(42.5, ack([[PAST_SMI + 1, PAST_SMI + 1]]), PAST_SMI + 1);
        send(long, PAST_SMI + 2, 43.5);
        // The client moved: a new path from the next number on (its first packet past 2^31 too).
        long.ld.useController(new RecordingController(), PAST_SMI + 3, 44.5);
        send(long, PAST_SMI + 3, 44.75);
        expect(long.ld.largestAcked).toBeGreaterThan(PAST_SMI);
        expect(long.ld.skipAt).toBeGreaterThan(PAST_SMI);
      },
    }, COUNT);
    expect(perObject).toBeLessThan(8);
  });
});
