/**
 * PathMtu alone (core/send/path-mtu.ts): the order of probe sizes, when a
 * size counts as failed, the end of the search, and the fall back on a
 * black hole (the detector's rule itself: black-hole-detector.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { BLACK_HOLE_BURSTS } from '../../src/core/send/black-hole-detector.js';
import { MAX_PROBES, PathMtu, RAISE_INTERVAL_MS, writeMtuProbe } from '../../src/core/send/path-mtu.js';
import { framesIn, writerWithRoom } from './fixtures.js';

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

describe('PathMtu reset (a new path)', () => {
  it('goes back to the base and searches the new path afresh, from its ceiling, even right after a finished search', () => {
    const m = new PathMtu(1200, 1452);
    expect(search(m, 1500)).toEqual([1452]);
    // The search is over: the next one waits RAISE_INTERVAL_MS.
    expect(m.probeDue(300, true)).toBeUndefined();
    m.reset();
    expect(m.current).toBe(1200);
    expect(search(m, 1300)).toEqual([1452, 1452, 1452, 1325, 1325, 1325, 1262, 1293]);
    expect(m.current).toBe(1293);
  });
});

describe('PathMtu black holes', () => {
  function raised(): PathMtu {
    const m = new PathMtu(1200, 1452);
    search(m, 1500);
    return m;
  }

  /** Declares packets `from`…`to` (one burst) lost at `now`, each `size` bytes. */
  function loseRun(m: PathMtu, now: number, from: number, to: number, size = 1452): void {
    for (let pn = from; pn <= to; pn++) m.onPacketLost(now, pn, size);
  }

  it(`falls back to the base on the ${BLACK_HOLE_BURSTS + 1}th burst of large losses with a base-size packet acknowledged, and searches again later`, () => {
    const m = raised();
    m.onPacketAcked(10_000, 10, 1452);
    // Messages' full packets lost, each message's small last packet acknowledged.
    for (let b = 0; b < BLACK_HOLE_BURSTS; b++) {
      loseRun(m, 10_000, 20 + 10 * b, 28 + 10 * b);
      m.onPacketAcked(10_000, 29 + 10 * b, 700);
      expect(m.current).toBe(1452);
    }
    loseRun(m, 10_100, 50, 58);
    expect(m.current).toBe(1200);
    expect(m.stats().mtuBlackHoles).toBe(1);
    expect(m.probeDue(10_100 + RAISE_INTERVAL_MS - 1, true)).toBeUndefined();
    expect(m.probeDue(10_100 + RAISE_INTERVAL_MS, true)).toBe(1452);
  });

  it('keeps no black-hole state while the size is the base (most connections never grow it)', () => {
    const m = new PathMtu(1200, 1452);
    for (let pn = 0; pn < 40; pn += 2) m.onPacketLost(0, pn, 1452);
    m.onPacketAcked(0, 41, 700);
    expect(m.stats()).toMatchObject({ datagramSize: 1200, mtuBlackHoles: 0 });
  });

  it('large losses alone, with nothing small acknowledged, do not fall back', () => {
    const m = raised();
    for (let b = 0; b < 5 * BLACK_HOLE_BURSTS; b++) m.onPacketLost(0, 2 * b + 10, 1452);
    expect(m.current).toBe(1452);
  });
});

describe('writeMtuProbe', () => {
  it('a probe is a PING padded to fill the packet exactly', () => {
    const w = writerWithRoom(300);
    writeMtuProbe(w);
    expect(w.room()).toBe(0);
    expect(framesIn(w).map((f) => f.type)).toEqual(['ping']);
  });
});
