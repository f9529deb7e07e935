/**
 * The repair policy's moving sums and credits hold fractions once a connection sees loss (and a clean
 * one's only its outcome weight): one lossy connection must not box the loss sums, repair and copy
 * credits and the handshake's guess in every clean idle connection (see helpers/field-boxing.ts). A
 * file of its own, as the helper asks.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_CONFIG } from '../../src/core/config.js';
import { RttEstimator } from '../../src/core/recovery/rtt.js';
import { RepairPolicy } from '../../src/core/repair/repair-policy.js';
import { type ChunkRef, OutgoingMessage } from '../../src/core/send/outgoing-message.js';
import { heapGrowthPerObject } from '../helpers/field-boxing.js';
import { writerWithRoom } from './fixtures.js';

const rtt = new RttEstimator();
rtt.update(40.5, 0);

describe('RepairPolicy: one connection with loss', () => {
  it('boxes no loss sum or credit in the clean connections (no heap grows per connection)', () => {
    const perObject = heapGrowthPerObject<RepairPolicy>({
      make: () => {
        // A clean connection: a few packets acknowledged (its outcome weight a fraction already).
        const p = new RepairPolicy(DEFAULT_CONNECTION_CONFIG, rtt);
        for (let i = 0; i < 3; i++) p.onPacketAcked();
        return p;
      },
      read: (p) => p.lossRate() + (p.bursty() ? 1 : 0),
      push: () => {
        const lossy = new RepairPolicy(DEFAULT_CONNECTION_CONFIG, rtt);
        lossy.seed(0.04, false);
        let pn = 1;
        // 10 % loss, every other loss in a run of two; small messages leave, each packet with a repair if earned.
        for (let i = 0; i < 400; i++, pn++) {
          if (i % 10 === 0) lossy.onPacketLost(pn);
          else if (i % 20 === 1) lossy.onPacketLost(pn);
          else lossy.onPacketAcked();
          const m = new OutgoingMessage(i, new Uint8Array(40).fill(i & 0xff), 0, 1_000);
          lossy.rememberSmall(1.5 * i, m);
          const chunks: ChunkRef[] = [{ message: m, index: 0, notBefore: 0 }];
          lossy.fillRepair(1.5 * i + 0.25, pn, writerWithRoom(1_200), chunks);
        }
        expect(lossy.lossRate()).toBeGreaterThan(0.05);
      },
    });
    expect(perObject).toBeLessThan(8);
  });
});
