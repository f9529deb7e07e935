/**
 * BlackHoleDetector alone (core/send/black-hole-detector.ts): what makes a
 * loss burst, what makes one suspicious, and what disproves it. The cases
 * that fell back wrongly under the earlier rules are here: packets a
 * reordering path delivers late (six large losses in a row as declared),
 * one queue overflow split by ACK-only packet numbers, and random loss of
 * mid-size packets (only full-size packets counted as proof).
 */
import { describe, expect, it } from 'vitest';
import { BLACK_HOLE_BURSTS, BlackHoleDetector } from '../../src/core/send/black-hole-detector.js';

const BASE = 1200;
const CURRENT = 1452;
const detector = (): BlackHoleDetector => new BlackHoleDetector(BASE, 20);

/** Declares packets `from`…`to` lost, each `size` bytes, skipping the numbers in `skip`. */
function loseRun(d: BlackHoleDetector, from: number, to: number, size = CURRENT, skip: (pn: number) => boolean = () => false): void {
  for (let pn = from; pn <= to; pn++) if (!skip(pn)) d.onLost(pn, size);
}

describe('BlackHoleDetector', () => {
  it(`detects more than ${BLACK_HOLE_BURSTS} bursts of large losses, each followed by an acknowledged small packet`, () => {
    const d = detector();
    d.onAcked(10, CURRENT, CURRENT);
    for (let b = 0; b <= BLACK_HOLE_BURSTS; b++) {
      expect(d.detected()).toBe(false);
      loseRun(d, 20 + 10 * b, 28 + 10 * b);
      d.onAcked(29 + 10 * b, 700, CURRENT);
    }
    expect(d.detected()).toBe(true);
  });

  it('needs a base-size packet acknowledged: large losses alone say nothing of what gets through', () => {
    const d = detector();
    for (let b = 0; b < 3 * BLACK_HOLE_BURSTS; b++) {
      loseRun(d, 20 + 10 * b, 28 + 10 * b);
      d.onAcked(29 + 10 * b, 1300, CURRENT); // the gaps acknowledge mid-size packets of an older message
    }
    expect(d.detected()).toBe(false);
  });

  it('one queue overflow is one burst, even with numbers skipped by ACK-only packets and probes', () => {
    const d = detector();
    d.onAcked(10, CURRENT, CURRENT);
    // Every 8th number went to a packet loss detection does not track: no acknowledged packet splits the run.
    loseRun(d, 11, 200, CURRENT, (pn) => pn % 8 === 0);
    d.onAcked(201, 700, CURRENT);
    loseRun(d, 300, 300);
    expect(d.detected()).toBe(false);
  });

  it('packets a reordering path delivers late never count: later full-size packets were acknowledged before they were declared lost', () => {
    const d = detector();
    d.onAcked(100, CURRENT, CURRENT);
    d.onAcked(101, 700, CURRENT);
    for (let pn = 40; pn < 100; pn += 6) {
      d.onLost(pn, CURRENT);
      d.onAcked(pn + 1, 700, CURRENT);
    }
    expect(d.detected()).toBe(false);
  });

  it('random loss of mid-size packets is no black hole: a later acknowledged packet of the same size disproves each burst', () => {
    const d = detector();
    // 1,300-byte and 600-byte packets alternate; five isolated 1,300-byte packets are lost,
    // declared before (pn 20) and after (the rest) a later 1,300-byte packet is acknowledged.
    d.onLost(20, 1300);
    for (let pn = 21; pn < 120; pn++) {
      if (pn % 20 === 0) d.onLost(pn, 1300);
      else d.onAcked(pn, pn % 2 === 0 ? 1300 : 600, CURRENT);
    }
    expect(d.detected()).toBe(false);
  });

  it('a burst that lost a base-size packet too is congestion, not the path MTU', () => {
    const d = detector();
    d.onAcked(10, 700, CURRENT);
    for (let b = 0; b < 3 * BLACK_HOLE_BURSTS; b++) {
      loseRun(d, 20 + 10 * b, 27 + 10 * b);
      d.onLost(28 + 10 * b, 700);
      d.onAcked(29 + 10 * b, 700, CURRENT);
    }
    expect(d.detected()).toBe(false);
  });

  it('a full-size packet acknowledged after them disproves every burst so far; a probe acknowledged does too', () => {
    const d = detector();
    for (let b = 0; b < BLACK_HOLE_BURSTS; b++) {
      loseRun(d, 20 + 10 * b, 25 + 10 * b);
      d.onAcked(26 + 10 * b, 700, CURRENT);
    }
    d.onAcked(60, 1440, CURRENT); // within 20 bytes of the current size: full-size
    d.onAcked(61, 700, CURRENT);
    for (let b = 0; b < BLACK_HOLE_BURSTS; b++) {
      loseRun(d, 70 + 10 * b, 75 + 10 * b);
      d.onAcked(76 + 10 * b, 700, CURRENT);
    }
    expect(d.detected()).toBe(false);
    d.onProbeAcked();
    loseRun(d, 200, 205);
    d.onAcked(206, 700, CURRENT);
    expect(d.detected()).toBe(false);
  });
});
