/**
 * Reordering is not loss, and jitter is not a small pipe (issue 13). Each
 * test here failed before its mechanism existed (checked by reverting it):
 * the adaptive reordering window in recovery/loss-detection.ts, the undo of
 * a spurious loss, BBR's jitter-robust path RTT (congestion/bbr.ts), and
 * its mean RTT taken over every acknowledged packet (recovery/loss-detection.ts).
 */
import { describe, expect, it } from 'vitest';
import type { LinkConfig } from '../src/testing/impairment.js';
import { CLIENT, makePair, messagesOf, type Pair } from './helpers/pair.js';

/** 50 Mbit/s, 5 ± 5 ms each way: the delay of a datagram varies by its whole mean. */
const JITTERY: LinkConfig = { delayMs: 5, jitterMs: 5, bandwidthBps: 50_000_000, queueBytes: 256 * 1024 };
/** The same, with 10% of datagrams held up to 25 ms longer (overtaken by those behind them). */
const REORDERING: LinkConfig = { ...JITTERY, reorder: 0.1, reorderDelayMs: 25 };
const MESSAGE = 64 * 1024;
const TOTAL = 8 * 1024 * 1024;
/** Ideal time for TOTAL at 50 Mbit/s, ms. */
const IDEAL_MS = (TOTAL * 8) / 50_000;

/**
 * A short path, no bottleneck: 5 ± 5 ms one way drawn per datagram (jitter reorders), and 10% of
 * datagrams held 25 ms longer (issue 13's relay figure, where rudp took 5.7× KCP's time).
 */
const SHORT_JITTERY: LinkConfig = { delayMs: 5, jitterMs: 5, jitterMode: 'independent', reorder: 0.1, reorderHoldMs: 25 };
/** The same path without jitter or reordering: a fixed delay of its mean one way (5 + 0.1 × 25 ms). */
const SHORT_STEADY: LinkConfig = { delayMs: 7.5 };

/** Sends `total` bytes (TOTAL by default) in 64 KiB messages; returns virtual ms from first send to last delivery. */
function bulk(p: Pair, total = TOTAL): number {
  p.sim.runFor(500);
  p.serverEvents.length = 0;
  const start = p.sim.now;
  const count = total / MESSAGE;
  for (let i = 0; i < count; i++) p.conn.send(new Uint8Array(MESSAGE).fill(i));
  p.sim.wake(CLIENT);
  let got = 0;
  let doneAt = Number.NaN;
  p.onServerEvent = (e, now) => {
    if (e.type === 'message' && ++got === count) doneAt = now;
  };
  while (Number.isNaN(doneAt) && p.sim.now < start + 60_000) p.sim.runFor(100);
  expect(messagesOf(p.serverEvents).map((m) => m[0])).toEqual(Array.from({ length: count }, (_, i) => i & 0xff));
  return doneAt - start;
}

describe('reordering and jitter (simulated)', () => {
  it.each([1, 2, 3])('seed %i: jitter as large as the delay does not collapse the window (8 MiB at ≥ 0.8 of 50 Mbit/s)', (seed) => {
    // The smallest RTT sample here is under 1 ms against a ~10 ms typical round trip: a window
    // sized on it held 4 packets, and this took up to 24 s.
    // At the base size: with path MTU discovery's larger datagrams STARTUP overflows the queue
    // on seed 2 (7 real drops, resent), which is not what this test is about.
    const p = makePair({ seed, link: JITTERY, client: { maxDatagramSize: 1200 } });
    const ms = bulk(p);
    expect(IDEAL_MS / ms).toBeGreaterThanOrEqual(0.8);
    expect(p.conn.stats().packetsRetransmitted).toBe(0);
  });

  it.each([1, 3])('seed %i: small messages filling a jittery path are not resent (no loss declared on a packet no ACK has passed yet)', (seed) => {
    // 4,200 messages of 1 KB: packets leave with more queued behind them, the queue's delay grows
    // faster than srtt learns it, and the rule for packets no ACK has passed yet (meant for chat
    // traffic) would take them for lost: 178 and 438 spurious resends on these seeds.
    const p = makePair({ seed, link: JITTERY, client: { maxDatagramSize: 1200 } });
    p.sim.runFor(500);
    const count = 4_200;
    let got = 0;
    p.onServerEvent = (e) => {
      if (e.type === 'message') got++;
    };
    for (let i = 0; i < count; i++) p.conn.send(new Uint8Array(1000).fill(i));
    p.sim.wake(CLIENT);
    p.sim.runFor(20_000);
    expect(got).toBe(count);
    expect(p.conn.stats().packetsRetransmitted).toBe(0);
  });

  it.each([1, 2, 3])('seed %i: 10%% of datagrams overtaken: at most 1%% of packets resent for nothing, goodput ≥ 0.8 of the same path without reordering', (seed) => {
    // Before the adaptive window: 620–885 packets of ~7,200 declared lost and resent, 14–29 s.
    const plain = bulk(makePair({ seed, link: JITTERY }));
    const p = makePair({ seed, link: REORDERING });
    // The packet threshold's widest while the transfer ran: it narrows again after 32 round trips
    // without a spurious loss, which on seed 2 came just before the end once probes went earlier.
    let widest = 0;
    const watch = (now: number): void => {
      widest = Math.max(widest, p.conn.stats().packetThreshold);
      if (now < 60_000) p.sim.schedule(now + 10, watch);
    };
    p.sim.schedule(0, watch);
    const ms = bulk(p);
    const st = p.conn.stats();
    expect(st.spuriousRetransmissions).toBeGreaterThan(0);
    expect(st.spuriousRetransmissions / st.packetsSent).toBeLessThanOrEqual(0.01);
    expect(plain / ms).toBeGreaterThanOrEqual(0.8);
    // The window widened: the time rule covers the held datagrams, and the packet rule steps aside.
    expect(st.reorderWindowMs).toBeGreaterThan(25);
    expect(widest).toBeGreaterThan(3);
  });

  it.each([1, 2, 3])('seed %i: a short path whose delay is drawn per datagram: 4 MiB within 8× the time over the same path without jitter', (seed) => {
    // The RFC 9002 sample is the largest packet an ACK acknowledges, under such jitter mostly one that
    // overtook the rest, and BBR's window floor was the smallest per-round mean of those (~1.9 ms
    // against a 5–10 ms typical RTT): the window capped the rate, the bandwidth estimate decayed with
    // it, the window sat at its 4-packet floor, and this took 39–97× the steady path's 0.10 s
    // (4.1–10.0 s). Now 3.2–6.1× (0.33–0.63 s); the rest is spurious retransmissions and rounds cut
    // short by packets that overtook the others.
    const steady = bulk(makePair({ seed, link: SHORT_STEADY }), 4 * 1024 * 1024);
    const ms = bulk(makePair({ seed, link: SHORT_JITTERY }), 4 * 1024 * 1024);
    expect(ms).toBeLessThanOrEqual(8 * steady);
  });

  it('a spurious loss is undone: its chunks count as delivered, so their queued resends are dropped', () => {
    // Over a queue deep enough that nothing is dropped, so every resend is a spurious loss's (with the
    // 256 KiB queue the jitter-aware BBR window overflows it on some seeds: 24-507 resends, real drops),
    // summed over six seeds: one seed's margin is a few packets and moves whenever an unrelated change
    // shifts the draws. Without the undo every spurious loss is resent, so resends ≥ spurious.
    let resent = 0;
    let spurious = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const p = makePair({ seed, link: { ...REORDERING, queueBytes: 16 * 1024 * 1024 }, client: { maxDatagramSize: 1200 } });
      bulk(p);
      const st = p.conn.stats();
      resent += st.packetsRetransmitted;
      spurious += st.spuriousRetransmissions;
    }
    expect(spurious).toBeGreaterThan(0);
    expect(resent).toBeLessThan(spurious);
  });

  it('once the path stops reordering the window narrows back to the RFC 9002 thresholds', () => {
    const p = makePair({ seed: 1, link: REORDERING });
    bulk(p);
    expect(p.conn.stats().reorderWindowMs).toBeGreaterThan(0);
    p.sim.setLink(CLIENT, '10.0.0.2:4000', JITTERY);
    p.sim.setLink('10.0.0.2:4000', CLIENT, JITTERY);
    // Each round is ~50 round trips, and the window halves every 32 without a spurious loss: from
    // the 58-68 ms the first round leaves (it varies with the seed's draws), 4 rounds reach 0.
    for (let round = 0; round < 4; round++) bulk(p);
    const st = p.conn.stats();
    expect(st.packetThreshold).toBe(3);
    expect(st.reorderWindowMs).toBe(0);
  });
});
