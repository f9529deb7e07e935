/**
 * Loss detection (RFC 9002 §6) on its own, as quinn-proto tests it: packets
 * recorded as sent, synthetic ACK frames fed in, a congestion controller and
 * a `PacketFate` that only record. Each rule is pinned at its edge, so a
 * one-line change to it fails here rather than in a long simulated run.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LossDetection } from '../../src/core/recovery/loss-detection.js';
import { clipRanges } from '../../src/core/recovery/packet-number-skips.js';
import type { PnRange } from '../../src/wire/ack-frame.js';
import { RecordingController } from './fixtures.js';
import { ack, CONFIG, packet, rig, send } from './loss-detection-rig.js';

describe('LossDetection: configuration', () => {
  it('the defaults are the RFC 9002 thresholds, a 25 ms ACK delay and a 2 s probe cap', () => {
    expect(CONFIG).toMatchObject({ packetThreshold: 3, timeThreshold: 9 / 8, maxAckDelayMs: 25, maxPtoMs: 2_000 });
  });
});

describe('LossDetection: what an ACK acknowledges', () => {
  it('keeps a record of its own of each sent packet: the caller rewrites one object for the next', () => {
    const r = rig();
    const seen: { pn: number; size: number; ackLargest: number }[] = [];
    r.fate.acked = (p) => void seen.push({ pn: p.pn, size: p.size, ackLargest: p.ackLargest });
    const o = { ...packet(1, 1, 500, { ackLargest: 3 }) };
    r.ld.onPacketSent(1, o);
    Object.assign(o, packet(2, 2, 700, { ackLargest: 4 }));
    r.ld.onPacketSent(2, o);
    Object.assign(o, packet(99, 3, 1));
    expect(r.ld.onAck(10, ack([[1, 2]]), 2)).toBe(true);
    expect(seen).toEqual([
      { pn: 1, size: 500, ackLargest: 3 },
      { pn: 2, size: 700, ackLargest: 4 },
    ]);
    expect(r.ld.bytesInFlight).toBe(0);
  });

  it('acknowledges exactly the packets inside the ranges, once, and returns whether anything was new', () => {
    const r = rig();
    for (let pn = 1; pn <= 10; pn++) send(r, pn, pn);
    // Ranges 8–10, 4–5, 1–1: 2, 3, 6, 7 are gaps.
    expect(r.ld.onAck(11, ack([[8, 10], [4, 5], [1, 1]]), 10)).toBe(true);
    expect(r.fate.ackedPns).toEqual([1, 4, 5, 8, 9, 10]);
    expect(r.ld.largestAcked).toBe(10);
    // The same ACK again acknowledges nothing new.
    expect(r.ld.onAck(12, ack([[8, 10], [4, 5], [1, 1]]), 10)).toBe(false);
    expect(r.fate.ackedPns).toEqual([1, 4, 5, 8, 9, 10]);
    for (const pn of [1, 4, 5, 8, 9, 10]) expect(r.ld.inFlight(pn)).toBe(false);
  });

  it('keeps bytes in flight: + on send, − on ack, − on loss; the controller hears every send', () => {
    const r = rig();
    send(r, 1, 0, 300);
    send(r, 2, 1, 500);
    send(r, 3, 2, 700);
    expect(r.ld.bytesInFlight).toBe(1_500);
    expect(r.cc.sent).toEqual([
      { now: 0, bytes: 300 },
      { now: 1, bytes: 500 },
      { now: 2, bytes: 700 },
    ]);
    r.ld.onAck(10, ack([[2, 2]]), 3);
    expect(r.ld.bytesInFlight).toBe(1_000);
    expect(r.cc.acks[0]?.sample.ackedBytes).toBe(500);
    expect(r.cc.acks[0]?.sample.bytesInFlight).toBe(1_000);
  });

  it('property: acknowledged = sent ∩ ranges; lost packets are unacknowledged and below the largest acknowledged', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 40, size: 'max' }), fc.uniqueArray(fc.integer({ min: 1, max: 60 }), { minLength: 1 }), (sentPns, ackedPns) => {
        const r = rig();
        const sent = [...sentPns].sort((a, b) => a - b);
        for (const pn of sent) send(r, pn, 0);
        const largestSent = sent[sent.length - 1] as number;
        const ranges = toRanges(ackedPns.filter((pn) => pn <= largestSent));
        if (ranges.length === 0) return;
        r.ld.onAck(1, { type: 'ack', ranges, delayMicros: 0 }, largestSent);
        const inRanges = (pn: number): boolean => ranges.some((g) => pn >= g.lo && pn <= g.hi);
        expect(r.fate.ackedPns).toEqual(sent.filter(inRanges));
        for (const pn of r.fate.lostPns) {
          expect(inRanges(pn)).toBe(false);
          expect(pn).toBeLessThan(r.ld.largestAcked);
        }
        const gone = new Set([...r.fate.ackedPns, ...r.fate.lostPns]);
        expect(r.ld.bytesInFlight).toBe(sent.filter((pn) => !gone.has(pn)).length * 1_000);
        expect([...r.ld.packets()].map((p) => p.pn)).toEqual(sent.filter((pn) => !gone.has(pn)));
      }),
      { seed: 12, numRuns: 300 },
    );
  });

  it('ignores ranges above the largest packet number sent (a forged packet the peer accepted) and keeps the honest ones', () => {
    const r = rig();
    for (let pn = 1; pn <= 4; pn++) send(r, pn, 0);
    expect(r.ld.onAck(5, ack([[90, 100]]), 4)).toBe(false);
    expect(r.ld.largestAcked).toBe(-1);
    expect(r.ld.onAck(5, ack([[3, 100], [1, 1]]), 4)).toBe(true);
    // 3–100 is read as 3–4.
    expect(r.fate.ackedPns).toEqual([1, 3, 4]);
    expect(r.ld.largestAcked).toBe(4);
  });

  it('clipRanges drops ranges wholly above the maximum and cuts the one that straddles it', () => {
    const ranges: PnRange[] = [
      { lo: 20, hi: 30 },
      { lo: 10, hi: 15 },
      { lo: 1, hi: 5 },
    ];
    expect(clipRanges(ranges, 30)).toBe(ranges);
    expect(clipRanges(ranges, 40)).toBe(ranges);
    expect(clipRanges(ranges, 12)).toEqual([
      { lo: 10, hi: 12 },
      { lo: 1, hi: 5 },
    ]);
    expect(clipRanges(ranges, 15)).toEqual([
      { lo: 10, hi: 15 },
      { lo: 1, hi: 5 },
    ]);
    expect(clipRanges(ranges, 20)).toEqual([
      { lo: 20, hi: 20 },
      { lo: 10, hi: 15 },
      { lo: 1, hi: 5 },
    ]);
    expect(clipRanges(ranges, 0)).toEqual([]);
    expect(clipRanges([], 5)).toEqual([]);
  });
});

describe('LossDetection: RTT samples and what the controller hears', () => {
  it('takes an RTT sample only when the largest acknowledged is newly acknowledged and ack-eliciting', () => {
    const r = rig();
    send(r, 1, 0);
    send(r, 2, 10);
    // Packet 3 was ACK-only (never recorded): the ACK's largest is not a packet we can time.
    expect(r.ld.onAck(50, ack([[1, 3]]), 3)).toBe(true);
    expect(r.rtt.hasSample).toBe(false);
    expect(r.cc.acks[0]?.sample.latestRttMs).toBeUndefined();
    expect(r.ld.largestAcked).toBe(3);
  });

  it('a late ACK of an older packet gives no sample (its largest is not newer than what was acknowledged)', () => {
    const r = rig();
    send(r, 1, 10);
    send(r, 2, 10);
    r.ld.onAck(30, ack([[2, 2]]), 2);
    expect(r.rtt.latest).toBe(20);
    r.ld.onAck(100, ack([[1, 2]]), 2);
    expect(r.fate.ackedPns).toEqual([2, 1]);
    expect(r.rtt.latest).toBe(20);
    expect(r.rtt.srtt).toBe(20);
  });

  it('an ACK whose largest is below the largest acknowledged (reordered ACKs) gives no sample and does not lower it', () => {
    const r = rig();
    send(r, 1, 10);
    send(r, 2, 10);
    r.ld.onAck(30, ack([[2, 2]]), 2);
    r.ld.onAck(95, ack([[1, 1]]), 2);
    expect(r.fate.ackedPns).toEqual([2, 1]);
    expect(r.ld.largestAcked).toBe(2);
    expect(r.rtt.latest).toBe(20);
    expect(r.cc.acks[1]?.sample.latestRttMs).toBeUndefined();
  });

  it('subtracts the peer\'s ACK delay, capped at maxAckDelayMs, and reports the path RTT to the controller', () => {
    const r = rig();
    send(r, 1, 0);
    r.ld.onAck(20, ack([[1, 1]]), 1);
    expect(r.rtt.srtt).toBe(20);
    expect(r.cc.acks[0]?.sample.latestRttMs).toBe(20);
    send(r, 2, 100);
    // 50 ms of delay claimed, 25 ms believed: 100 − 25 = 75 ms.
    r.ld.onAck(200, ack([[2, 2]], 50_000), 2);
    expect(r.rtt.latest).toBe(100);
    expect(r.rtt.srtt).toBe(0.875 * 20 + 0.125 * 75);
    expect(r.cc.acks[1]?.sample.latestRttMs).toBe(75);
    // A delay that would take the sample below min RTT is not subtracted.
    send(r, 3, 300);
    r.ld.onAck(330, ack([[3, 3]], 20_000), 3);
    expect(r.cc.acks[2]?.sample.latestRttMs).toBe(30);
    // Exactly at min RTT it is.
    send(r, 4, 400);
    r.ld.onAck(440, ack([[4, 4]], 20_000), 4);
    expect(r.cc.acks[3]?.sample.latestRttMs).toBe(20);
  });

  it('hands the controller a delivery-rate sample over the newest acknowledged packet\'s flight', () => {
    const r = rig();
    send(r, 1, 0, 1_000, { appLimited: true, leftQueueEmpty: true });
    send(r, 2, 10, 500);
    r.ld.onAck(40, ack([[1, 1]]), 2);
    expect(r.cc.acks[0]).toEqual({
      now: 40,
      sample: { ackedBytes: 1_000, bytesInFlight: 500, deliveryRate: 1_000 / 40, appLimited: true, priorDelivered: 0, delivered: 1_000, minRttMs: 40, srttMs: 40, latestRttMs: 40, ackedRttSumMs: 40, ackedRttCount: 1 },
    });
    send(r, 3, 45, 200);
    r.ld.onAck(60, ack([[2, 3]]), 3);
    // Packet 3 left with 1,000 bytes delivered (at t = 40) in a flight that began at t = 0:
    // interval max(45 − 0, 60 − 40) = 45 ms for the 700 bytes delivered since.
    const s = r.cc.acks[1]?.sample;
    expect(s?.ackedBytes).toBe(700);
    expect(s?.bytesInFlight).toBe(0);
    expect(s?.priorDelivered).toBe(1_000);
    expect(s?.delivered).toBe(1_700);
    expect(s?.deliveryRate).toBe(700 / 45);
    expect(s?.appLimited).toBe(false);
    expect(s?.latestRttMs).toBe(15);
    // Every packet acknowledged is a sample for the controller's mean: 2 (60 − 10) and 3 (60 − 45).
    expect(s?.ackedRttSumMs).toBe(50 + 15);
    expect(s?.ackedRttCount).toBe(2);
    expect(s?.minRttMs).toBe(15);
    expect(s?.srttMs).toBe(r.rtt.srtt);
  });

  it('a flight restarts after going idle: the rate is measured from the restart, and the next flight from the last ACK', () => {
    const r = rig();
    send(r, 1, 0, 1_000);
    r.ld.onAck(10, ack([[1, 1]]), 1);
    // Idle until 100: a new flight starts there.
    send(r, 2, 100, 1_000);
    send(r, 3, 120, 1_000);
    r.ld.onAck(150, ack([[2, 2]]), 3);
    expect(r.cc.acks[1]?.sample.deliveryRate).toBe(1_000 / 50);
    // Packet 3 left at 120 with 1,000 delivered at 100 in a flight begun at 100; the ACK at 150
    // moved the flight's start to packet 2's send time (100): interval max(20, 200 − 100).
    r.ld.onAck(200, ack([[3, 3]]), 3);
    expect(r.cc.acks[2]?.sample.deliveryRate).toBe(2_000 / 100);
    expect(r.cc.acks[2]?.sample.priorDelivered).toBe(1_000);
  });

  it('the flight start follows the newest acknowledged packet', () => {
    const r = rig();
    send(r, 1, 0, 1_000);
    send(r, 2, 30, 1_000);
    r.ld.onAck(40, ack([[1, 1]]), 2);
    send(r, 3, 50, 1_000);
    r.ld.onAck(60, ack([[2, 2]]), 3);
    // Packet 3 left in the flight begun at 0 (its firstSentTime), but the ACK of packet 2 moved the
    // start to 30 for packets sent after it; packet 3's own record keeps 0: max(50 − 0, 70 − 40) = 50.
    r.ld.onAck(70, ack([[3, 3]]), 3);
    expect(r.cc.acks[2]?.sample.deliveryRate).toBe(2_000 / 50);
    send(r, 4, 80, 1_000);
    send(r, 5, 85, 1_000);
    r.ld.onAck(90, ack([[4, 4]]), 5);
    // Packet 5 left in a flight begun at 80 (idle restart) with 3,000 delivered at 70.
    r.ld.onAck(120, ack([[5, 5]]), 5);
    expect(r.cc.acks[4]?.sample.deliveryRate).toBe(2_000 / Math.max(85 - 80, 120 - 80));
  });

  it('no rate sample from a zero interval', () => {
    const r = rig();
    send(r, 1, 5);
    r.ld.onAck(5, ack([[1, 1]]), 1);
    expect(r.cc.acks[0]?.sample.deliveryRate).toBeUndefined();
  });
});

describe('LossDetection: runs of losses', () => {
  it('more than ten packets one ACK declares lost are a run (their resends wait for no repair); ten are not', () => {
    for (const lostCount of [10, 11]) {
      const r = rig();
      for (let pn = 1; pn <= lostCount + 3; pn++) send(r, pn, pn);
      // The three newest are acknowledged: the packet rule declares every one before them lost at once.
      r.ld.onAck(lostCount + 4, ack([[lostCount + 1, lostCount + 3]]), lostCount + 3);
      expect(r.fate.lostPns).toEqual([...Array(lostCount).keys()].map((i) => i + 1));
      expect(r.fate.runPns).toEqual(lostCount > 10 ? r.fate.lostPns : []);
    }
  });
});

describe('LossDetection: the packet-threshold rule', () => {
  it('declares a packet lost on the very ACK that acknowledges one three numbers newer, not later by the time rule', () => {
    const r = rig();
    for (let pn = 1; pn <= 4; pn++) send(r, pn, 0);
    // RTT 10 ms: the time rule would need 11.25 ms; this ACK comes at 10.
    r.ld.onAck(10, ack([[4, 4]]), 4);
    expect(r.fate.lostAt).toEqual([{ now: 10, pn: 1 }]);
    // 2 and 3 are only one and two behind: still in flight, waiting on the time rule.
    expect(r.ld.inFlight(2)).toBe(true);
    expect(r.ld.inFlight(3)).toBe(true);
    expect(r.cc.losses).toEqual([{ now: 10, lostBytes: 1_000, bytesInFlight: 2_000 }]);
  });

  it('follows the configured threshold', () => {
    const r = rig({ packetThreshold: 5 });
    for (let pn = 1; pn <= 6; pn++) send(r, pn, 0);
    r.ld.onAck(10, ack([[5, 5]]), 6);
    expect(r.fate.lostPns).toEqual([]);
    r.ld.onAck(10, ack([[6, 6]]), 6);
    expect(r.fate.lostPns).toEqual([1]);
  });

  it('a reordered packet within the threshold is not lost, and arrives as an acknowledgement', () => {
    const r = rig();
    for (let pn = 1; pn <= 3; pn++) send(r, pn, 0);
    r.ld.onAck(10, ack([[3, 3]]), 3);
    r.ld.onAck(10, ack([[1, 1]]), 3);
    expect(r.fate.lostPns).toEqual([]);
    expect(r.fate.ackedPns).toEqual([3, 1]);
  });

  it('losses from one ACK reach the controller as one onLoss with the bytes lost; no onLoss when nothing is lost', () => {
    const r = rig();
    for (let pn = 1; pn <= 6; pn++) send(r, pn, 0, 100 * pn);
    r.ld.onAck(10, ack([[5, 6]]), 6);
    expect(r.fate.lostPns).toEqual([1, 2, 3]);
    expect(r.cc.losses).toEqual([{ now: 10, lostBytes: 600, bytesInFlight: 400 }]);
    r.ld.onAck(11, ack([[4, 6]]), 6);
    expect(r.cc.losses).toHaveLength(1);
  });
});

describe('LossDetection: what a packet record keeps', () => {
  it('keeps the packet builder\'s fields for the PacketFate', () => {
    const r = rig();
    const seen: unknown[] = [];
    const ld = new LossDetection(CONFIG, r.rtt, r.cc, { acked: (p) => seen.push(p), lost: () => undefined, spurious: () => undefined });
    ld.onPacketSent(3, packet(1, 3, 321, { retransmission: true, ackLargest: 17, carriedMaxData: true, appLimited: true }));
    ld.onAck(9, ack([[1, 1]]), 1);
    expect(seen[0]).toMatchObject({ pn: 1, timeSent: 3, size: 321, chunks: [], retransmission: true, ackLargest: 17, carriedMaxData: true, appLimited: true, delivered: 0, deliveredTime: 3, firstSentTime: 3 });
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

describe('LossDetection: a new path (useController)', () => {
  it('reports to the new controller only the losses of packets sent on the new path; the old path\'s are still lost and resent', () => {
    const r = rig();
    for (let pn = 1; pn <= 4; pn++) send(r, pn, pn);
    // The client moved to another host: packets from 5 on go on the new path, to a new controller.
    const fresh = new RecordingController();
    r.ld.useController(fresh, 5, 5);
    for (let pn = 5; pn <= 12; pn++) send(r, pn, 10 + pn);
    // 1-4 (old path) and 6 (new path) never arrive; the rest does.
    r.ld.onAck(40, ack([[7, 12], [5, 5]]), 12);
    expect(r.fate.lostPns).toEqual([1, 2, 3, 4, 6]);
    expect(fresh.losses.map((l) => l.lostBytes)).toEqual([1_000]);
    expect(r.cc.losses).toEqual([]);
  });

  it('declares the old path\'s packets still in flight lost at the switch (resent as a run), so they neither fill the new window nor give the new controller or the RTT a sample; the probe backoff and the reordering window start afresh (RFC 9000 §9.4)', () => {
    const r = rig();
    for (let pn = 1; pn <= 3; pn++) send(r, pn, pn);
    r.ld.onAck(60, ack([[1, 1]]), 3);
    for (let pn = 4; pn <= 9; pn++) send(r, pn, 60 + pn);
    // The old path died: two probe timeouts fired, and it had been seen to reorder.
    r.ld.onPtoExpired();
    r.ld.onPtoExpired();
    r.ld.packetThreshold = 7;
    r.ld.reorderDelayMs = 40;
    const fresh = new RecordingController();
    r.rtt.reset();
    r.ld.useController(fresh, 10, 500);
    expect(r.ld.bytesInFlight).toBe(0);
    expect(r.fate.lostAt).toEqual([2, 3, 4, 5, 6, 7, 8, 9].map((pn) => ({ now: 500, pn })));
    expect(r.fate.runPns).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect({ pto: r.ld.ptoCount, threshold: r.ld.packetThreshold, reorder: r.ld.reorderDelayMs }).toEqual({ pto: 0, threshold: CONFIG.packetThreshold, reorder: 0 });
    expect([...fresh.losses, ...r.cc.losses.filter((l) => l.now >= 500)]).toEqual([]);
    // The new path's first packet, then a late ACK that also covers two old-path packets (the old path
    // still delivered them): they are taken back as delivered, and only the new path's packet is a sample.
    send(r, 10, 510);
    r.ld.onAck(620, ack([[10, 10], [4, 5]]), 10);
    expect(r.fate.spuriousPns).toEqual([4, 5]);
    expect(r.fate.ackedPns).toEqual([1, 10]);
    expect(fresh.acks.map((a) => a.sample.ackedBytes)).toEqual([1_000]);
    expect(fresh.spurious).toEqual([]);
    expect(r.rtt.minRtt).toBe(110);
    expect({ threshold: r.ld.packetThreshold, reorder: r.ld.reorderDelayMs }).toEqual({ threshold: CONFIG.packetThreshold, reorder: 0 });
  });
});
