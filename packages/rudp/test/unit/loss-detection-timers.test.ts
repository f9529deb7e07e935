/**
 * What loss detection decides by the clock, on its own (as in
 * loss-detection.test.ts): the time-threshold rule and its loss timer, the
 * rule for packets no ACK has passed yet, and the probe timeout with its
 * backoff. Each rule is pinned at its edge.
 */
import { describe, expect, it } from 'vitest';
import { ack, rig, send, type Rig } from './loss-detection-rig.js';

describe('LossDetection: the time-threshold rule', () => {
  /** Packets 1–3 in flight at t = 0, packet 4 sent at 100 and acknowledged at 116: RTT 16 ms, loss delay 9/8 · 16 = 18 ms. */
  function timed(): Rig {
    const r = rig({ packetThreshold: 10 });
    for (let pn = 1; pn <= 3; pn++) send(r, pn, 0);
    send(r, 4, 100);
    return r;
  }

  it('at the ACK, a packet older than 9/8 RTT is lost; the loss timer is armed for the one that is not yet', () => {
    const r = rig({ packetThreshold: 10 });
    send(r, 1, 0);
    send(r, 2, 90);
    send(r, 3, 100);
    r.ld.onAck(116, ack([[3, 3]]), 3);
    // Packet 1: 116 − 0 ≥ 18, lost. Packet 2: 116 − 90 = 26 ≥ 18, lost too. Nothing else pending.
    expect(r.fate.lostPns).toEqual([1, 2]);
    expect(r.ld.lossDeadline()).toBe(Number.POSITIVE_INFINITY);
  });

  it('fires exactly at timeSent + 9/8 · RTT, not a moment before', () => {
    const r = rig({ packetThreshold: 10 });
    send(r, 1, 100);
    send(r, 2, 101);
    r.ld.onAck(117, ack([[2, 2]]), 2);
    expect(r.rtt.srtt).toBe(16);
    expect(r.fate.lostPns).toEqual([]);
    expect(r.ld.lossDeadline()).toBe(100 + 18);
    r.ld.detectLosses(117.999);
    expect(r.fate.lostPns).toEqual([]);
    expect(r.ld.lossDeadline()).toBe(118);
    r.ld.detectLosses(118);
    expect(r.fate.lostAt).toEqual([{ now: 118, pn: 1 }]);
    expect(r.ld.lossDeadline()).toBe(Number.POSITIVE_INFINITY);
  });

  it('arms the loss timer on the oldest pending packet', () => {
    const r = timed();
    r.ld.onAck(116, ack([[4, 4]]), 4);
    // All of 1–3 are 116 ms old: lost at once by time.
    expect(r.fate.lostPns).toEqual([1, 2, 3]);
    const q = rig({ packetThreshold: 10 });
    // RTT 80, loss delay 90: packets sent less than 10 ms before packet 4 are still pending.
    send(q, 1, 112);
    send(q, 2, 115);
    send(q, 3, 118);
    send(q, 4, 120);
    q.ld.onAck(200, ack([[4, 4]]), 4);
    expect(q.fate.lostPns).toEqual([]);
    expect(q.ld.lossDeadline()).toBe(112 + 90);
    q.ld.detectLosses(202);
    expect(q.fate.lostPns).toEqual([1]);
    expect(q.ld.lossDeadline()).toBe(115 + 90);
  });

  it('uses the larger of smoothed and latest RTT', () => {
    const r = rig({ packetThreshold: 10 });
    send(r, 1, 0);
    r.ld.onAck(16, ack([[1, 1]]), 1);
    send(r, 2, 100);
    send(r, 3, 101);
    r.ld.onAck(149, ack([[3, 3]]), 3);
    // latest 48, srtt 0.875 · 16 + 0.125 · 48 = 20: the delay is 9/8 · 48 = 54.
    expect(r.rtt.srtt).toBe(20);
    expect(r.ld.lossDeadline()).toBe(100 + 54);
    // And the larger when it is the smoothed one: latest 8 after srtt 20.
    send(r, 4, 200);
    send(r, 5, 201);
    r.ld.onAck(209, ack([[5, 5]]), 5);
    expect(r.rtt.latest).toBe(8);
    expect(r.ld.lossDeadline()).toBe(200 + (9 / 8) * r.rtt.srtt);
  });

  it('never waits less than 1 ms (timer granularity), even on a zero RTT', () => {
    const r = rig({ packetThreshold: 10 });
    send(r, 1, 50);
    send(r, 2, 50);
    r.ld.onAck(50, ack([[2, 2]]), 2);
    expect(r.rtt.srtt).toBe(0);
    expect(r.fate.lostPns).toEqual([]);
    expect(r.ld.lossDeadline()).toBe(51);
  });

  it('never declares lost a packet newer than the largest acknowledged, however old', () => {
    const r = rig();
    for (let pn = 1; pn <= 3; pn++) send(r, pn, 0);
    r.ld.onAck(10, ack([[1, 1]]), 3);
    r.ld.detectLosses(100_000);
    expect(r.fate.lostPns).toEqual([]);
    expect(r.ld.lossDeadline()).toBe(Number.POSITIVE_INFINITY);
  });

  it('the time rule counts in onLoss like the packet rule', () => {
    const r = rig({ packetThreshold: 10 });
    send(r, 1, 100, 300);
    send(r, 2, 101, 400);
    r.ld.onAck(117, ack([[2, 2]]), 2);
    r.ld.detectLosses(118);
    expect(r.cc.losses).toEqual([{ now: 118, lostBytes: 300, bytesInFlight: 0 }]);
  });
});

describe('LossDetection: the probe timeout', () => {
  // Before any sample: srtt 250, rttvar 125, so PTO = 250 + 4 · 125 + 25 = 775 ms.
  const BASE = 775;

  it('is Infinity with nothing in flight, and runs from the last ack-eliciting packet sent', () => {
    const r = rig();
    expect(r.ld.ptoDeadline()).toBe(Number.POSITIVE_INFINITY);
    send(r, 1, 0);
    expect(r.ld.ptoDeadline()).toBe(BASE);
    send(r, 2, 40);
    expect(r.ld.lastAckElicitingSentAt).toBe(40);
    // Two in flight: the peer owes an immediate ACK (`ackEveryPackets`), so no ACK-delay allowance.
    expect(r.ld.ptoDeadline()).toBe(40 + BASE - 25);
  });

  it("leaves the peer's ACK delay out only while ackEveryPackets packets are in flight (RFC 8985 §7.2)", () => {
    const r = rig({ ackEveryPackets: 3 });
    send(r, 1, 0);
    send(r, 2, 10);
    expect(r.ld.ptoDeadline()).toBe(10 + BASE);
    send(r, 3, 20);
    expect(r.ld.ptoDeadline()).toBe(20 + BASE - 25);
    // The oldest two acknowledged: one left, whose ACK the peer may hold back.
    r.ld.onAck(30, ack([[1, 2]]), 3);
    expect(r.ld.ptoDeadline() - r.ld.lastAckElicitingSentAt).toBe(r.rtt.pto(25));
  });

  it("keeps the peer's ACK delay for a lone packet where we ACK every packet (ours is no promise of the peer's)", () => {
    const r = rig({ ackEveryPackets: 1 });
    send(r, 1, 0);
    expect(r.ld.ptoDeadline()).toBe(BASE);
    send(r, 2, 10);
    expect(r.ld.ptoDeadline()).toBe(10 + BASE - 25);
  });

  it('doubles on each expiry up to the default 2 s cap', () => {
    const r = rig();
    send(r, 1, 0);
    const spacing: number[] = [];
    for (let i = 0; i < 4; i++) {
      spacing.push(r.ld.ptoDeadline());
      r.ld.onPtoExpired();
    }
    expect(spacing).toEqual([BASE, 2 * BASE, 2_000, 2_000]);
  });

  it('doubles on each expiry up to maxPtoMs, and stays there', () => {
    const r = rig({ maxPtoMs: 10_000 });
    send(r, 1, 0);
    const spacing: number[] = [];
    for (let i = 0; i < 7; i++) {
      spacing.push(r.ld.ptoDeadline());
      r.ld.onPtoExpired();
    }
    expect(spacing).toEqual([BASE, 2 * BASE, 4 * BASE, 8 * BASE, 10_000, 10_000, 10_000]);
    expect(r.ld.ptoCount).toBe(7);
  });

  it('the cap never cuts the unbacked-off PTO', () => {
    const r = rig({ maxPtoMs: 500 });
    send(r, 1, 0);
    expect(r.ld.ptoDeadline()).toBe(BASE);
    r.ld.onPtoExpired();
    expect(r.ld.ptoDeadline()).toBe(BASE);
  });

  it('a probe timeout swollen past a tenth of the idle timeout (a queue\'s worth of round trip) waits that tenth, or maxPtoMs if longer', () => {
    // One sample of 8 s (a 64 KiB queue at 64 kbit/s): srtt 8 s, rttvar 4 s, PTO 8 + 16 + 0.025 s.
    const swollen = (config: Parameters<typeof rig>[0]): number[] => {
      const r = rig(config);
      r.rtt.update(8_000, 0);
      send(r, 1, 0);
      const spacing: number[] = [];
      for (let i = 0; i < 3; i++) {
        spacing.push(r.ld.ptoDeadline());
        r.ld.onPtoExpired();
      }
      return spacing;
    };
    // Before: 24,025 ms each, one probe in the 30 s the idle timer gives.
    expect(swollen({})).toEqual([3_000, 3_000, 3_000]);
    expect(swollen({ idleTimeoutMs: 60_000 })).toEqual([6_000, 6_000, 6_000]);
    expect(swollen({ idleTimeoutMs: 10_000, maxPtoMs: 2_000 })).toEqual([2_000, 2_000, 2_000]);
    // A tenth of the idle timeout past the PTO leaves it whole.
    expect(swollen({ idleTimeoutMs: 600_000 })).toEqual([24_025, 24_025, 24_025]);
  });

  it('uses the RTT estimate and the peer\'s max ACK delay', () => {
    const r = rig({ maxAckDelayMs: 10 });
    send(r, 1, 0);
    r.ld.onAck(40, ack([[1, 1]]), 1);
    send(r, 2, 100);
    // srtt 40, rttvar 20: 40 + 80 + 10.
    expect(r.ld.ptoDeadline()).toBe(100 + 130);
  });

  it('an ACK that acknowledges something resets the backoff; one that acknowledges nothing does not', () => {
    const r = rig();
    send(r, 1, 0);
    send(r, 2, 0);
    r.ld.onPtoExpired();
    r.ld.onPtoExpired();
    r.ld.onAck(10, ack([[5, 9]]), 2);
    expect(r.ld.ptoCount).toBe(2);
    r.ld.onAck(10, ack([[2, 2]]), 2);
    expect(r.ld.ptoCount).toBe(0);
  });

  it('clear() forgets what is in flight (a closing connection arms no probe)', () => {
    const r = rig();
    send(r, 1, 0);
    r.ld.clear();
    expect(r.ld.bytesInFlight).toBe(0);
    expect(r.ld.inFlight(1)).toBe(false);
    expect(r.ld.ptoDeadline()).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('LossDetection: packets no ACK has passed yet', () => {
  it('a fresh ACK still lacking a packet older than a round trip and its spread declares it lost; a stale one does not', () => {
    const r = rig();
    send(r, 1, 0);
    r.ld.onAck(70, ack([[1, 1]]), 1);
    // srtt 70, rttvar 35 after the first sample: the window is max(9/8 · 70, 70 + 2 · 35) = 140 ms.
    // Small messages: each packet left with nothing queued behind it (app-limited).
    for (let pn = 2; pn <= 5; pn++) send(r, pn, 100 + (pn - 2) * 20, 1_000, { appLimited: true, leftQueueEmpty: true });
    // A packet of a sender that fills the path is left to the usual rules (its queue delay may be news to srtt).
    send(r, 6, 100, 1_000);
    // An ACK from a packet that overtook a newer one (not fresh) says nothing of what the peer lacks.
    r.ld.onAck(245, ack([[1, 1]]), 6, false);
    expect(r.fate.lostPns).toEqual([]);
    // Fresh: packets 2 (sent at 100) and 3 (120) are 140 ms old or more, 4 and 5 are not.
    r.ld.onAck(260, ack([[1, 1]]), 6, true);
    expect(r.fate.lostPns).toEqual([2, 3]);
    expect(r.ld.inFlight(4)).toBe(true);
    expect(r.ld.inFlight(6)).toBe(true);
    expect(r.cc.losses.at(-1)?.lostBytes).toBe(2_000);
  });
});
