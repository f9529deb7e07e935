/**
 * RTT estimation (RFC 9002 §5): the first sample, the smoothing weights, the
 * ACK delay subtracted only while the sample stays above min RTT, the
 * handshake seed, and the probe timeout before backoff.
 */
import { describe, expect, it } from 'vitest';
import { INITIAL_RTT_MS, RttEstimator } from '../../src/core/recovery/rtt.js';

describe('RttEstimator', () => {
  it('before any sample: 250 ms, variation half of it', () => {
    const r = new RttEstimator();
    expect(INITIAL_RTT_MS).toBe(250);
    expect([r.srtt, r.rttvar, r.latest, r.minRtt, r.hasSample]).toEqual([250, 125, 250, Number.POSITIVE_INFINITY, false]);
    expect(r.pto(25)).toBe(250 + 500 + 25);
  });

  it('the first sample replaces the initial estimate', () => {
    const r = new RttEstimator();
    r.update(40, 10);
    expect([r.srtt, r.rttvar, r.latest, r.minRtt, r.hasSample]).toEqual([40, 20, 40, 40, true]);
  });

  it('later samples are smoothed with weights 7/8 and 3/4, the ACK delay subtracted while above min RTT', () => {
    const r = new RttEstimator();
    r.update(40, 0);
    r.update(80, 20);
    // Adjusted 60: srtt 0.875 · 40 + 0.125 · 60 = 42.5; rttvar 0.75 · 20 + 0.25 · |40 − 60| = 20.
    expect([r.srtt, r.rttvar, r.latest, r.minRtt]).toEqual([42.5, 20, 80, 40]);
    // A delay that would take it below min RTT is ignored: adjusted stays 50.
    r.update(50, 20);
    expect(r.srtt).toBe(0.875 * 42.5 + 0.125 * 50);
    expect(r.rttvar).toBe(0.75 * 20 + 0.25 * Math.abs(42.5 - 50));
    // Exactly at min RTT the delay is subtracted.
    const q = new RttEstimator();
    q.update(40, 0);
    q.update(60, 20);
    expect(q.srtt).toBe(40);
    expect(q.minRtt).toBe(40);
  });

  it('a handshake seed stands in until the first sample, which replaces it', () => {
    const r = new RttEstimator();
    r.seed(30);
    expect([r.srtt, r.rttvar, r.latest, r.hasSample]).toEqual([30, 15, 30, false]);
    r.update(50, 0);
    expect([r.srtt, r.rttvar]).toEqual([50, 25]);
    r.seed(5);
    expect(r.srtt).toBe(50);
  });

  it('the PTO: srtt + max(4 · rttvar, granularity) + max ACK delay', () => {
    const r = new RttEstimator();
    r.update(40, 0);
    expect(r.pto(25)).toBe(40 + 80 + 25);
    const steady = new RttEstimator();
    steady.update(0.1, 0);
    expect(steady.pto(0)).toBe(0.1 + 1);
    expect(steady.pto(0, 5)).toBe(0.1 + 5);
  });

  it('reset goes back to the initial values, no sample, no minimum (a new path)', () => {
    const r = new RttEstimator();
    r.update(40, 0);
    r.update(60, 0);
    r.reset();
    expect({ srtt: r.srtt, rttvar: r.rttvar, minRtt: r.minRtt, latest: r.latest, hasSample: r.hasSample }).toEqual({
      srtt: INITIAL_RTT_MS,
      rttvar: INITIAL_RTT_MS / 2,
      minRtt: Number.POSITIVE_INFINITY,
      latest: INITIAL_RTT_MS,
      hasSample: false,
    });
    // A seed then stands until the first sample replaces it.
    r.seed(120);
    r.update(130, 0);
    expect(r.srtt).toBe(130);
  });
});
