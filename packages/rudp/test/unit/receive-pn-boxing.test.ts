/**
 * The packet numbers a connection receives pass 2^31 after 2^31 packets, or, from a hostile peer, after
 * 131,072 packets each `MAX_PN_JUMP` ahead (seconds of sending): that must not box the receive side's
 * packet numbers (the ACK tracker's, its ranges', the replay window's) in every other connection
 * (see helpers/field-boxing.ts). A file of its own, as the helper asks.
 */
import { describe, expect, it } from 'vitest';
import { AckTracker, MAX_PN_JUMP } from '../../src/core/receive/ack-generation.js';
import { ReplayWindow } from '../../src/crypto/replay-window.js';
import { PAST_SMI, heapGrowthPerObject } from '../helpers/field-boxing.js';
import { writerWithRoom } from './fixtures.js';

const CONFIG = { ackEveryPackets: 2, maxAckDelayMs: 25 };
/** Receive sides measured: a box a field (16 B each) is still 1.6 MB against a noise of a few hundred KB at most. */
const COUNT = 100_000;

interface ReceiveSide {
  readonly acks: AckTracker;
  readonly replay: ReplayWindow;
}

/** A receive side that accepted `pn` (ack-eliciting), its previous largest `previous`. */
function receive(side: ReceiveSide, pn: number, previous: number): void {
  // A plain check, not expect: called 231,072 times here, where expect's own cost was most of the test's.
  if (!side.replay.mark(pn)) throw new Error(`packet ${pn} taken as a replay`);
  side.acks.record(pn);
  side.acks.onPacket(0, pn, previous, true, false);
}

describe('receive side: one peer past packet number 2^31', () => {
  it('boxes no packet number in the other connections (no heap grows per connection)', () => {
    const perObject = heapGrowthPerObject<ReceiveSide>({
      make: () => {
        const side = { acks: new AckTracker(CONFIG), replay: new ReplayWindow() };
        receive(side, 1, -1);
        side.acks.onAckAcknowledged(side.acks.write(0, writerWithRoom(100), 100));
        return side;
      },
      read: (s) => s.acks.largest + (s.acks.isDue(0) ? 1 : 0) + s.replay.highest,
      push: () => {
        const long = { acks: new AckTracker(CONFIG), replay: new ReplayWindow() };
        let largest = -1;
        // As a hostile peer can: each packet as far ahead as the receiver takes, then one late.
        for (let pn = 1; largest <= PAST_SMI; pn += MAX_PN_JUMP) {
          if (long.acks.tooFarAhead(pn)) throw new Error(`packet ${pn} refused as too far ahead`);
          receive(long, pn, largest);
          largest = pn;
        }
        receive(long, largest - 1, largest);
        const written = long.acks.write(0, writerWithRoom(1_000), 1_000);
        long.acks.onAckAcknowledged(written);
        expect(written).toBeGreaterThan(PAST_SMI);
        expect(long.replay.highest).toBeGreaterThan(PAST_SMI);
      },
    }, COUNT);
    expect(perObject).toBeLessThan(8);
  });
});
