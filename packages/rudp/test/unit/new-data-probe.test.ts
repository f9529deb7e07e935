/**
 * The new-data probe's rule, which the connection's decision and its pacing
 * deadline both read: new data that fits one packet may go as a probe once
 * the probe timer has fired, half a smoothed round trip after the last one.
 */
import { describe, expect, it } from 'vitest';
import { newDataProbeAt } from '../../src/core/recovery/new-data-probe.js';

const waiting = (any: boolean, fits: boolean) => ({ hasNewData: () => any, newDataFitsOnePacket: () => fits });

describe('newDataProbeAt', () => {
  it('wants none before the probe timer fired, or without new data that fits one packet', () => {
    expect(newDataProbeAt(Number.NEGATIVE_INFINITY, 0, 100, waiting(true, true))).toBe(Number.POSITIVE_INFINITY);
    expect(newDataProbeAt(Number.NEGATIVE_INFINITY, 1, 100, waiting(false, true))).toBe(Number.POSITIVE_INFINITY);
    expect(newDataProbeAt(Number.NEGATIVE_INFINITY, 1, 100, waiting(true, false))).toBe(Number.POSITIVE_INFINITY);
  });

  it('lets the first go at once and spaces the next half a smoothed round trip after the last', () => {
    expect(newDataProbeAt(Number.NEGATIVE_INFINITY, 1, 100, waiting(true, true))).toBe(Number.NEGATIVE_INFINITY);
    expect(newDataProbeAt(1_000, 2, 100, waiting(true, true))).toBe(1_050);
  });

  it('asks about the queue only once the probe timer has fired (the common case costs nothing)', () => {
    let asked = 0;
    const q = { hasNewData: () => (asked++, true), newDataFitsOnePacket: () => (asked++, true) };
    newDataProbeAt(0, 0, 100, q);
    expect(asked).toBe(0);
  });
});
