/**
 * ACK generation on its own: packet numbers recorded, ACK frames written by
 * `AckTracker.write` and parsed back by the wire parser, the ack-of-ack
 * floor, the room limit, and when an ACK falls due.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ACK_ONLY_PER_ACK_OF_ACK, type AckConfig, AckTracker, MAX_ACKS_PER_BATCH, MAX_PN_JUMP, RANGES_BEFORE_ACK_OF_ACK } from '../../src/core/receive/ack-generation.js';
import { type AckFrame, type PnRange, ackFrameSize } from '../../src/wire/ack-frame.js';
import { framesIn, payloadBytes, writerWithRoom } from './fixtures.js';

const CONFIG: AckConfig = { ackEveryPackets: 2, maxAckDelayMs: 25 };

/** A tracker that received `pns` (each as an ack-eliciting packet at t = 0). */
function tracker(pns: readonly number[], config: AckConfig = CONFIG): AckTracker {
  const t = new AckTracker(config);
  for (const pn of pns) {
    const before = t.largest;
    if (t.record(pn)) t.onPacket(0, pn, before, true, false);
  }
  return t;
}

/** Writes an ACK with `room` bytes and parses it back. */
function writeAndParse(t: AckTracker, now: number, room = 1_000): { largest: number; frame: AckFrame | undefined; bytes: number } {
  const w = writerWithRoom(room);
  const largest = t.write(now, w, room);
  const frames = framesIn(w);
  expect(frames.length).toBeLessThanOrEqual(1);
  return { largest, frame: frames[0] as AckFrame | undefined, bytes: payloadBytes(w) };
}

const r = (lo: number, hi: number): PnRange => ({ lo, hi });

describe('AckTracker.write: the ACK frame round trip', () => {
  it('writes every range, highest first, exactly as received', () => {
    const t = tracker([1, 2, 3, 5, 7, 8, 10, 11, 12]);
    const { largest, frame } = writeAndParse(t, 0);
    expect(largest).toBe(12);
    expect(frame?.ranges).toEqual([r(10, 12), r(7, 8), r(5, 5), r(1, 3)]);
  });

  it('property: any set of received numbers (up to the 32 ranges kept) round-trips through the wire format', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 3_000 }), { minLength: 1, maxLength: 32, size: 'max' }), (pns) => {
        const t = tracker(pns, { ackEveryPackets: 2, maxAckDelayMs: 25 });
        const { frame } = writeAndParse(t, 0, 2_000);
        expect(frame?.ranges).toEqual(toRanges(pns));
      }),
      { seed: 3, numRuns: 300 },
    );
  });

  it('reports the delay since the largest packet arrived, in µs (to the wire\'s 8 µs unit)', () => {
    const t = new AckTracker(CONFIG);
    t.record(1);
    t.onPacket(100, 1, -1, true, false);
    t.record(0);
    // A reordered older packet does not restart the delay clock.
    t.onPacket(102, 0, 1, true, false);
    expect(writeAndParse(t, 103).frame?.delayMicros).toBe(3_000);
    // Never negative, whatever `now` says.
    expect(writeAndParse(t, 99).frame?.delayMicros).toBe(0);
  });

  it('the delay clock restarts on a new largest even if it is not ack-eliciting', () => {
    const t = new AckTracker(CONFIG);
    t.record(1);
    t.onPacket(100, 1, -1, true, false);
    t.record(2);
    t.onPacket(110, 2, 1, false, false);
    expect(writeAndParse(t, 111).frame?.delayMicros).toBe(1_000);
  });

  it('prunes ranges at or below the ack-of-ack floor, always keeping the newest range', () => {
    const pns = [1, 2, 3, 5, 7, 8, 10, 11, 12];
    const floors: readonly [number, PnRange[]][] = [
      [-1, [r(10, 12), r(7, 8), r(5, 5), r(1, 3)]],
      [2, [r(10, 12), r(7, 8), r(5, 5), r(1, 3)]],
      [3, [r(10, 12), r(7, 8), r(5, 5)]],
      [4, [r(10, 12), r(7, 8), r(5, 5)]],
      [5, [r(10, 12), r(7, 8)]],
      [8, [r(10, 12)]],
      [12, [r(10, 12)]],
      [40, [r(10, 12)]],
    ];
    for (const [floor, expected] of floors) {
      const t = tracker(pns);
      t.onAckAcknowledged(floor);
      expect(writeAndParse(t, 0).frame?.ranges, `floor ${floor}`).toEqual(expected);
    }
  });

  it('the floor only rises', () => {
    const t = tracker([1, 2, 3, 5, 7, 8, 10]);
    t.onAckAcknowledged(5);
    t.onAckAcknowledged(2);
    expect(writeAndParse(t, 0).frame?.ranges).toEqual([r(10, 10), r(7, 8)]);
  });

  it('drops the oldest ranges to fit the room, and writes nothing (returns -1) if one range does not fit', () => {
    const pns = [1, 2, 3, 5, 7, 8, 10, 11, 12];
    const all = [r(10, 12), r(7, 8), r(5, 5), r(1, 3)];
    for (let n = 1; n <= all.length; n++) {
      const size = ackFrameSize(all.slice(0, n), 0);
      const exact = writeAndParse(tracker(pns), 0, size);
      expect(exact.frame?.ranges).toEqual(all.slice(0, n));
      expect(exact.bytes).toBe(size);
      if (n < all.length) {
        // One byte short of the next range's fit still gives these n.
        const next = ackFrameSize(all.slice(0, n + 1), 0);
        expect(writeAndParse(tracker(pns), 0, next - 1).frame?.ranges).toEqual(all.slice(0, n));
      }
    }
    const t = tracker(pns);
    const tooSmall = writeAndParse(t, 0, ackFrameSize(all.slice(0, 1), 0) - 1);
    expect(tooSmall.largest).toBe(-1);
    expect(tooSmall.bytes).toBe(0);
    // Nothing was written, so the ACK is still owed.
    expect(t.isDue(0)).toBe(true);
  });

  it('property: for any room, the frame keeps the most of the newest ranges whose size (ackFrameSize) fits it, and -1 when none does', () => {
    fc.assert(
      fc.property(
        // Numbers up to 2^31: ranges and gaps of 1-, 2-, 4- and 8-byte varints, up to the 32 ranges kept.
        fc.uniqueArray(fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 70_000 }), fc.integer({ min: 0, max: 2 ** 31 })), { minLength: 1, maxLength: 32 }),
        fc.integer({ min: 0, max: 400 }),
        (pns, room) => {
          const all = toRanges(pns);
          let most = 0;
          while (most < all.length && ackFrameSize(all, 0, most + 1) <= room) most++;
          const { largest, frame, bytes } = writeAndParse(tracker(pns), 0, room);
          expect(largest).toBe(most === 0 ? -1 : (all[0] as PnRange).hi);
          expect(frame?.ranges ?? []).toEqual(all.slice(0, most));
          expect(bytes).toBe(ackFrameSize(all, 0, most));
        },
      ),
      { seed: 5, numRuns: 500 },
    );
  });

  it('a written ACK clears what was owed, including the count towards ackEveryPackets', () => {
    const t = new AckTracker(CONFIG);
    t.record(0);
    t.onPacket(0, 0, -1, true, false);
    t.record(1);
    t.onPacket(1, 1, 0, true, false);
    expect(t.deadline()).toBe(1);
    writeAndParse(t, 1);
    expect(t.deadline()).toBe(Number.POSITIVE_INFINITY);
    expect(t.isDue(1_000)).toBe(false);
    // One packet after the ACK: the count restarted, so it waits for the delay.
    t.record(2);
    t.onPacket(5, 2, 1, true, false);
    expect(t.deadline()).toBe(5 + 25);
  });
});

describe('AckTracker: when an ACK is due', () => {
  it('an in-order ack-eliciting packet: within maxAckDelayMs; the second: at once', () => {
    const t = new AckTracker(CONFIG);
    expect(t.deadline()).toBe(Number.POSITIVE_INFINITY);
    t.record(0);
    t.onPacket(10, 0, -1, true, false);
    expect(t.deadline()).toBe(35);
    expect(t.isDue(34)).toBe(false);
    expect(t.isDue(35)).toBe(true);
    t.record(1);
    t.onPacket(12, 1, 0, true, false);
    expect(t.deadline()).toBe(12);
  });

  it('follows ackEveryPackets', () => {
    const t = new AckTracker({ ackEveryPackets: 3, maxAckDelayMs: 25 });
    for (let pn = 0; pn < 2; pn++) {
      t.record(pn);
      t.onPacket(pn, pn, pn - 1, true, false);
    }
    expect(t.deadline()).toBe(25);
    t.record(2);
    t.onPacket(7, 2, 1, true, false);
    expect(t.deadline()).toBe(7);
  });

  it('a later packet never postpones the deadline', () => {
    const t = new AckTracker({ ackEveryPackets: 10, maxAckDelayMs: 25 });
    t.record(0);
    t.onPacket(0, 0, -1, true, false);
    t.record(1);
    t.onPacket(20, 1, 0, true, false);
    expect(t.deadline()).toBe(25);
  });

  it('a gap (loss or reordering) makes the ACK due at once, unless the packet carries a repair', () => {
    const t = new AckTracker({ ackEveryPackets: 10, maxAckDelayMs: 25 });
    t.record(0);
    t.onPacket(0, 0, -1, true, false);
    t.record(2);
    t.onPacket(3, 2, 0, true, false);
    expect(t.deadline()).toBe(3);
    const q = new AckTracker({ ackEveryPackets: 10, maxAckDelayMs: 25 });
    q.record(0);
    q.onPacket(0, 0, -1, true, false);
    q.record(2);
    q.onPacket(3, 2, 0, true, true);
    expect(q.deadline()).toBe(25);
    // A reordered older packet is a gap too.
    q.record(1);
    q.onPacket(4, 1, 2, true, false);
    expect(q.deadline()).toBe(4);
  });

  it('a packet after a quiet spell we did not answer: at once (a sparse sender\'s ACK needs no timer)', () => {
    const t = new AckTracker(CONFIG);
    t.record(0);
    t.onPacket(0, 0, -1, true, false);
    writeAndParse(t, 25);
    // Ten seconds later, nothing sent meanwhile: waiting could gain neither a second packet nor an answer.
    t.record(1);
    t.onPacket(10_000, 1, 0, true, false);
    expect(t.deadline()).toBe(10_000);
    writeAndParse(t, 10_000);
    // Just over the delay is quiet enough.
    t.record(2);
    t.onPacket(10_026, 2, 1, true, false);
    expect(t.deadline()).toBe(10_026);
  });

  it('keeps the delay when the quiet spell was answered, was short, is the first packet, or ends in a gap', () => {
    // We sent something after the previous packet (a request and its reply): the next ACK may ride on the next answer.
    const answered = new AckTracker(CONFIG);
    answered.record(0);
    answered.onPacket(0, 0, -1, true, false);
    answered.onAckElicitingSent(3);
    writeAndParse(answered, 3);
    answered.record(1);
    answered.onPacket(10_000, 1, 0, true, false);
    expect(answered.deadline()).toBe(10_025);
    // A steady stream a packet per 20 ms: the delay can still coalesce.
    const steady = new AckTracker({ ackEveryPackets: 10, maxAckDelayMs: 25 });
    steady.record(0);
    steady.onPacket(0, 0, -1, true, false);
    steady.record(1);
    steady.onPacket(25, 1, 0, true, false);
    expect(steady.deadline()).toBe(25);
    // The first packet of a connection: its answer often follows.
    const first = new AckTracker(CONFIG);
    first.record(0);
    first.onPacket(10_000, 0, -1, true, false);
    expect(first.deadline()).toBe(10_025);
    // A gap with a repair after a quiet spell: the next packets may rebuild it before the sender must hear.
    const repaired = new AckTracker(CONFIG);
    repaired.record(0);
    repaired.onPacket(0, 0, -1, true, false);
    writeAndParse(repaired, 25);
    repaired.record(2);
    repaired.onPacket(10_000, 2, 0, true, true);
    expect(repaired.deadline()).toBe(10_025);
  });

  it('a packet that is not ack-eliciting owes nothing', () => {
    const t = new AckTracker(CONFIG);
    t.record(0);
    t.onPacket(0, 0, -1, false, false);
    t.record(5);
    t.onPacket(1, 5, 0, false, false);
    expect(t.deadline()).toBe(Number.POSITIVE_INFINITY);
    expect(t.peerLacksAck()).toBe(false);
  });

  it('a duplicate ack-eliciting packet means our ACK may be lost: due at once; a duplicate ACK-only packet does not', () => {
    const t = tracker([0]);
    writeAndParse(t, 0);
    t.onDuplicate(50, false);
    expect(t.deadline()).toBe(Number.POSITIVE_INFINITY);
    t.onDuplicate(50, true);
    expect(t.deadline()).toBe(50);
    t.onDuplicate(60, true);
    expect(t.deadline()).toBe(50);
  });

  it('is never due with nothing received', () => {
    const t = new AckTracker(CONFIG);
    t.onDuplicate(0, true);
    expect(t.deadline()).toBe(0);
    expect(t.isDue(10)).toBe(false);
  });
});

describe('AckTracker: bookkeeping', () => {
  it('record reports duplicates; largest and any follow what arrived', () => {
    const t = new AckTracker(CONFIG);
    expect(t.any).toBe(false);
    expect(t.largest).toBe(-1);
    expect(t.record(4)).toBe(true);
    expect(t.record(4)).toBe(false);
    expect(t.record(2)).toBe(true);
    expect(t.any).toBe(true);
    expect(t.largest).toBe(4);
  });

  it('peerLacksAck: until the peer acknowledged an ACK covering our largest ack-eliciting packet', () => {
    const t = tracker([0, 1, 2]);
    expect(t.peerLacksAck()).toBe(true);
    t.onAckAcknowledged(1);
    expect(t.peerLacksAck()).toBe(true);
    t.onAckAcknowledged(2);
    expect(t.peerLacksAck()).toBe(false);
    // A newer ACK-only packet from the peer does not need acknowledging.
    t.record(3);
    t.onPacket(0, 3, 2, false, false);
    expect(t.peerLacksAck()).toBe(false);
    t.record(4);
    t.onPacket(0, 4, 3, true, false);
    expect(t.peerLacksAck()).toBe(true);
    // A reordered older ack-eliciting packet does not lower the mark.
    const q = tracker([5]);
    q.record(1);
    q.onPacket(0, 1, 5, true, false);
    q.onAckAcknowledged(4);
    expect(q.peerLacksAck()).toBe(true);
    expect(new AckTracker(CONFIG).peerLacksAck()).toBe(false);
  });

  it('wantsAckOfAck: once the frames carry RANGES_BEFORE_ACK_OF_ACK ranges, at most every ACK_ONLY_PER_ACK_OF_ACK ACK-only packets; the floor it brings shrinks the frame', () => {
    const t = tracker([1, 3, 5, 7]);
    writeAndParse(t, 0);
    const asks: number[] = [];
    for (let i = 1; i <= 2 * ACK_ONLY_PER_ACK_OF_ACK; i++) if (t.wantsAckOfAck()) asks.push(i);
    expect(asks).toEqual([ACK_ONLY_PER_ACK_OF_ACK, 2 * ACK_ONLY_PER_ACK_OF_ACK]);
    // The peer acknowledged the packet whose ACK covered up to 7: one range is left, and nothing is asked.
    t.onAckAcknowledged(7);
    t.record(8);
    t.onPacket(0, 8, 7, true, false);
    expect(writeAndParse(t, 0).frame?.ranges).toEqual([r(7, 8)]);
    for (let i = 1; i <= 2 * ACK_ONLY_PER_ACK_OF_ACK; i++) expect(t.wantsAckOfAck()).toBe(false);
  });

  it('a late packet below the floor is reported in every frame until the peer acknowledges a later one', () => {
    // 4 was missing when the ACK the peer acknowledged was written (floor 9); it arrives late.
    const t = tracker([1, 3, 5, 7, 8, 9]);
    writeAndParse(t, 0);
    t.onAckAcknowledged(9);
    const receive = (pn: number): void => {
      t.record(pn);
      t.onPacket(0, pn, t.largest, true, false);
    };
    receive(10);
    receive(11);
    expect(writeAndParse(t, 0).frame?.ranges).toEqual([r(7, 11)]);
    t.record(4);
    // Without it the peer, which likely declared 4 lost, would never learn the loss was spurious.
    expect(writeAndParse(t, 0).frame?.ranges).toEqual([r(7, 11), r(3, 5)]);
    // Once only is not enough: that frame may be lost, or overtaken by a later one without it.
    expect(writeAndParse(t, 0).frame?.ranges).toEqual([r(7, 11), r(3, 5)]);
    receive(12);
    expect(writeAndParse(t, 0).frame?.ranges).toEqual([r(7, 12), r(3, 5)]);
    // The peer has a frame written after the first that carried 4 (whose largest was 11): done.
    t.onAckAcknowledged(12);
    receive(13);
    expect(writeAndParse(t, 0).frame?.ranges).toEqual([r(7, 13)]);
    const u = tracker([1, 2, 4, 5, 6, 8]);
    writeAndParse(u, 0);
    u.onAckAcknowledged(8);
    u.record(3);
    const first = writeAndParse(u, 0).frame?.ranges;
    expect(first).toEqual([r(8, 8), r(1, 6)]);
    // Acknowledging the frame that first carried it (largest 8) is not enough: an earlier frame had that largest too.
    u.onAckAcknowledged(8);
    expect(writeAndParse(u, 0).frame?.ranges).toEqual([r(8, 8), r(1, 6)]);
  });

  it('wantsAckOfAck: never while the frames carry fewer ranges', () => {
    const t = tracker([1, 2, 3, 5, 6]);
    writeAndParse(t, 0);
    expect(RANGES_BEFORE_ACK_OF_ACK).toBeGreaterThan(2);
    for (let i = 0; i < 4 * ACK_ONLY_PER_ACK_OF_ACK; i++) expect(t.wantsAckOfAck()).toBe(false);
  });

  it('tooFarAhead: more than MAX_PN_JUMP past the largest received, and never before anything was received', () => {
    const t = new AckTracker(CONFIG);
    expect(t.tooFarAhead(10 * MAX_PN_JUMP)).toBe(false);
    t.record(100);
    expect(t.tooFarAhead(100 + MAX_PN_JUMP)).toBe(false);
    expect(t.tooFarAhead(100 + MAX_PN_JUMP + 1)).toBe(true);
  });

  it('expand restores a truncated number next to the largest received', () => {
    const t = new AckTracker(CONFIG);
    t.record(0x1fffe);
    expect(t.expand(0x0001, 2)).toBe(0x20001);
    expect(t.expand(0xfffd, 2)).toBe(0x1fffd);
  });
});

/** The ranges (highest first) of a set of packet numbers. */
function toRanges(pns: readonly number[]): PnRange[] {
  const sorted = [...new Set(pns)].sort((a, b) => b - a);
  const out: { lo: number; hi: number }[] = [];
  for (const pn of sorted) {
    const last = out[out.length - 1];
    if (last && last.lo === pn + 1) last.lo = pn;
    else out.push({ lo: pn, hi: pn });
  }
  return out;
}

describe('AckTracker: a batch of packets handled before one write (recvmmsg) gets the ACKs one at a time would have drawn', () => {
  /** How many ACKs go out at `now` for what `t` holds, writing while one is due. */
  function acksNow(t: AckTracker, now: number): number {
    let n = 0;
    while (t.isDue(now) && n < 100) {
      expect(writeAndParse(t, now).largest).toBe(t.largest);
      n++;
    }
    return n;
  }

  it('one per ackEveryPackets ack-eliciting packets of the batch, each a copy of the newest frame, at most MAX_ACKS_PER_BATCH', () => {
    expect(acksNow(tracker([1, 2]), 0)).toBe(1);
    expect(acksNow(tracker([1, 2, 3]), 0)).toBe(1);
    expect(acksNow(tracker([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 0)).toBe(5);
    expect(acksNow(tracker(Array.from({ length: 64 }, (_, i) => i + 1)), 0)).toBe(MAX_ACKS_PER_BATCH);
    expect(acksNow(tracker([1, 2, 3, 4, 5, 6], { ackEveryPackets: 3, maxAckDelayMs: 25 }), 0)).toBe(2);
  });

  it('packets handled one at a time, each written for, draw one ACK each time as before', () => {
    const t = tracker([1, 2]);
    expect(acksNow(t, 0)).toBe(1);
    for (const pn of [3, 4]) {
      const before = t.largest;
      t.record(pn);
      t.onPacket(1, pn, before, true, false);
    }
    expect(acksNow(t, 1)).toBe(1);
    // Nothing owed after: the next lone packet waits for the ACK delay again.
    t.record(5);
    t.onPacket(2, 5, 4, true, false);
    expect(t.isDue(2)).toBe(false);
    expect(t.deadline()).toBe(2 + 25);
  });
});
