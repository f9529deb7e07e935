/**
 * The pacer's token bucket: what a refill earns, the bucket's cap, when a
 * full packet may go, and when a held sender is woken.
 */
import { describe, expect, it } from 'vitest';
import { RttEstimator } from '../../src/core/recovery/rtt.js';
import { Pacer } from '../../src/core/send/pacer.js';
import { RecordingController } from './fixtures.js';

const MTU = 1_000;

function pacer(window: number, rate: number, now = 0): { p: Pacer; cc: RecordingController; rtt: RttEstimator } {
  const cc = new RecordingController(window, rate);
  const rtt = new RttEstimator();
  return { p: new Pacer(MTU, cc, rtt, now), cc, rtt };
}

/** Full packets the bucket lets go back to back at `now`. */
function burst(p: Pacer, limit = 1_000): number {
  let n = 0;
  while (p.open && n < limit) {
    p.onSent(MTU);
    n++;
  }
  return n;
}

describe('Pacer: tokens', () => {
  it('starts with two packets\' worth', () => {
    const { p } = pacer(100_000, 10);
    expect(burst(p)).toBe(2);
  });

  it('earns rate × elapsed time, and a full packet\'s worth opens it', () => {
    const { p } = pacer(40_000, 10);
    burst(p);
    p.refill(50);
    expect(p.open).toBe(false);
    p.refill(99);
    expect(p.open).toBe(false);
    p.refill(100);
    expect(p.open).toBe(true);
    expect(burst(p)).toBe(1);
  });

  it('refill counts from the last refill, not from the start', () => {
    const { p } = pacer(40_000, 10, 1_000);
    burst(p);
    p.refill(1_060);
    p.refill(1_099);
    expect(p.open).toBe(false);
    p.refill(1_100);
    expect(p.open).toBe(true);
  });

  it('a packet a hair short of a full one (floating-point refill) still counts as full', () => {
    const { p } = pacer(40_000, 10);
    p.onSent(MTU + 1e-7);
    expect(p.open).toBe(true);
    p.onSent(1e-5);
    expect(p.open).toBe(false);
  });

  it('asks the controller for the rate at the smoothed RTT', () => {
    const rtt = new RttEstimator();
    rtt.update(100, 0);
    const asked: number[] = [];
    const cc = new RecordingController(40_000, 10);
    cc.pacingRate = (srtt?: number): number => {
      asked.push(srtt ?? Number.NaN);
      return (srtt ?? 0) / 10;
    };
    const p = new Pacer(MTU, cc, rtt, 0);
    burst(p);
    p.refill(100);
    expect(asked.every((s) => s === 100)).toBe(true);
    expect(asked.length).toBeGreaterThan(0);
    expect(p.open).toBe(true);
  });
});

describe('Pacer: the bucket cap', () => {
  it('a quarter window, at most ten packets, at least two', () => {
    const cases: readonly [window: number, packets: number][] = [
      [1_000_000, 10],
      [40_000, 10],
      [20_000, 5],
      [4_000, 2],
      [1_000, 2],
    ];
    for (const [window, packets] of cases) {
      const { p } = pacer(window, 0.001);
      p.refill(1e9);
      expect(burst(p), `window ${window}`).toBe(packets);
    }
  });

  it('at least what two timer ticks earn, up to half the window', () => {
    const fast = pacer(1_000_000, 50_000);
    fast.p.refill(1e9);
    expect(burst(fast.p)).toBe(100);
    const capped = pacer(60_000, 50_000);
    capped.p.refill(1e9);
    expect(burst(capped.p)).toBe(30);
  });

  it('with no pacing (an infinite rate) a refill fills the bucket to its cap at once', () => {
    const { p } = pacer(1_000_000, Number.POSITIVE_INFINITY);
    burst(p);
    p.refill(0);
    expect(burst(p)).toBe(10);
  });
});

describe('Pacer: waking a held sender', () => {
  it('block() with the window open: when a packet\'s worth will be earned', () => {
    const { p } = pacer(40_000, 10);
    burst(p);
    p.onSent(250);
    p.block(0, true);
    // 1,250 bytes short at 10 B/ms.
    expect(p.deadline(-1)).toBe(125);
    expect(p.deadline(124.9)).toBe(125);
    expect(p.deadline(125)).toBe(Number.POSITIVE_INFINITY);
  });

  it('block() with the window closed, or unblock(): no pacing deadline (an ACK wakes it)', () => {
    const { p } = pacer(40_000, 10);
    burst(p);
    p.block(0, false);
    expect(p.deadline(0)).toBe(Number.POSITIVE_INFINITY);
    p.block(0, true);
    expect(p.deadline(0)).toBe(100);
    p.unblock();
    expect(p.deadline(0)).toBe(Number.POSITIVE_INFINITY);
  });

  it('never "now" (a deadline at the poll time is never scheduled): at least a timer tick later', () => {
    const { p } = pacer(40_000, 1e9);
    p.onSent(MTU + 0.01);
    expect(p.open).toBe(false);
    p.block(7, true);
    expect(p.deadline(6)).toBe(8);
  });

  it('a sender whose packet gaps are below a timer tick waits a whole tick, then sends what the tick earned as one burst', () => {
    // 12 packets a millisecond: a wake-up per 83 µs gap would spin a driver whose timers cannot wait under 1 ms.
    const { p } = pacer(1_000_000, 12_000);
    burst(p);
    p.block(0, true);
    expect(p.deadline(-1)).toBe(1);
    p.refill(1);
    expect(burst(p)).toBe(12);
  });

  it('a wake-up that comes a tick late still sends what both ticks earned', () => {
    const { p } = pacer(1_000_000, 12_000);
    burst(p);
    p.block(0, true);
    p.refill(2);
    expect(burst(p)).toBe(24);
  });

  it('a held sender woken late sends what its deadline\'s tokens and up to three ticks of lateness earned, beyond the cap', () => {
    const { p } = pacer(1_000_000, 12_000);
    burst(p);
    p.block(0, true);
    p.refill(4); // deadline 1, woken 3 ms late: 12 + 36 packets (the cap alone holds 24)
    expect(burst(p)).toBe(48);
    p.block(4, true);
    p.refill(25); // deadline 5, 20 ms late: only 3 ms of it counts
    expect(burst(p)).toBe(48);
  });

  it('a sender that was not held gets no lateness credit: the cap bounds the burst after idle', () => {
    const { p } = pacer(1_000_000, 12_000);
    burst(p);
    p.block(0, true);
    p.unblock();
    p.refill(4);
    expect(burst(p)).toBe(24);
  });

  it('a slow sender still waits for its packet\'s worth, not a tick', () => {
    const { p } = pacer(40_000, 0.5);
    burst(p);
    p.block(0, true);
    expect(p.deadline(-1)).toBe(2_000);
  });

  it('with no rate to wait for, at once', () => {
    const inf = pacer(40_000, Number.POSITIVE_INFINITY);
    inf.p.block(7, true);
    expect(inf.p.deadline(6)).toBe(7);
    const zero = pacer(40_000, 0);
    burst(zero.p);
    zero.p.block(7, true);
    expect(zero.p.deadline(6)).toBe(7);
  });
});
