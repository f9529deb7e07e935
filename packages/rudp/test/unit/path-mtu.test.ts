/**
 * PathMtu alone (core/send/path-mtu.ts): the order of probe sizes, when a
 * size counts as failed, the end of the search, and the black-hole rule.
 */
import { describe, expect, it } from 'vitest';
import { BLACK_HOLE_LOSSES, MAX_PROBES, PathMtu, RAISE_INTERVAL_MS } from '../../src/core/send/path-mtu.js';

/** Runs a search against a path that carries datagrams up to `pathMtu`; returns the sizes probed, in order. */
function search(m: PathMtu, pathMtu: number): number[] {
  const sizes: number[] = [];
  let now = 0;
  let pn = 1;
  for (let size = m.probeDue(now, true); size !== undefined; size = m.probeDue(now, true)) {
    sizes.push(size);
    m.onProbeSent(now, pn, size);
    if (size <= pathMtu) m.onAck(now + 50, [{ lo: pn, hi: pn }]);
    else m.checkProbeLost(now + 300, 300);
    now += 300;
    pn++;
  }
  return sizes;
}

describe('PathMtu search', () => {
  it('tries the ceiling first: one probe on a path that carries it', () => {
    const m = new PathMtu(1200, 1452);
    expect(search(m, 1500)).toEqual([1452]);
    expect(m.current).toBe(1452);
  });

  it(`binary-searches below a failed ceiling, ${MAX_PROBES} losses per failed size, and stops under a 20-byte step`, () => {
    const m = new PathMtu(1200, 1452);
    expect(search(m, 1400)).toEqual([1452, 1452, 1452, 1325, 1388, 1419, 1419, 1419]);
    expect(m.current).toBe(1388);
    expect(m.stats()).toMatchObject({ datagramSize: 1388, mtuProbesSent: 8, mtuProbesAcked: 2, mtuProbesLost: 6 });
  });

  it('stays at the base on a path that carries nothing larger', () => {
    const m = new PathMtu(1200, 1452);
    search(m, 1200);
    expect(m.current).toBe(1200);
  });

  it('probes only when data would fill larger packets, and never when the ceiling is the base', () => {
    expect(new PathMtu(1200, 1452).probeDue(0, false)).toBeUndefined();
    expect(new PathMtu(1200, 1200).probeDue(0, true)).toBeUndefined();
  });

  it('a probe is judged lost only once the loss delay has passed', () => {
    const m = new PathMtu(1200, 1452);
    m.onProbeSent(0, 7, 1452);
    m.checkProbeLost(299, 300);
    expect(m.stats().mtuProbesLost).toBe(0);
    m.checkProbeLost(300, 300);
    expect(m.stats().mtuProbesLost).toBe(1);
  });
});

describe('PathMtu black holes', () => {
  function raised(): PathMtu {
    const m = new PathMtu(1200, 1452);
    search(m, 1500);
    return m;
  }

  it(`falls back to the base after ${BLACK_HOLE_LOSSES} large losses once a base-size packet is acknowledged, and searches again later`, () => {
    const m = raised();
    for (let i = 0; i < BLACK_HOLE_LOSSES; i++) m.onPacketLost(10_000, 1452);
    expect(m.current).toBe(1452);
    m.onPacketAcked(10_100, 1200);
    expect(m.current).toBe(1200);
    expect(m.stats().mtuBlackHoles).toBe(1);
    expect(m.probeDue(10_100 + RAISE_INTERVAL_MS - 1, true)).toBeUndefined();
    expect(m.probeDue(10_100 + RAISE_INTERVAL_MS, true)).toBe(1452);
  });

  it('a burst of large losses with large packets acknowledged after it (a full queue) is no black hole', () => {
    const m = raised();
    m.onPacketAcked(0, 1200);
    for (let i = 0; i < BLACK_HOLE_LOSSES - 1; i++) m.onPacketLost(0, 1452);
    m.onPacketAcked(0, 1452);
    for (let i = 0; i < BLACK_HOLE_LOSSES - 1; i++) m.onPacketLost(0, 1452);
    m.onPacketAcked(0, 1200);
    expect(m.current).toBe(1452);
  });

  it('large losses alone, with nothing small acknowledged, do not fall back', () => {
    const m = raised();
    for (let i = 0; i < 5 * BLACK_HOLE_LOSSES; i++) m.onPacketLost(0, 1452);
    expect(m.current).toBe(1452);
  });
});
