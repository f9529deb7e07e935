/**
 * Measures how fast honest peers fill the message they were granted from the endpoint's overcommit
 * on bad paths (not a test: run with `npx tsx packages/rudp/test/measure/overcommit-pace.ts [seeds] [graceMs] [slow]`,
 * `slow` for the 128 and 64 kbit/s paths and an outage on a lossy one):
 * a 2.5 MiB budget, two default connections, the second's 1.5 MiB message takes the overcommit on a
 * slow or lossy path. Per path: the message's goodput from its first byte to its last; the highest
 * pace it kept on average after the grace (`grace` below: its bytes received never fell short of
 * pace × (time since its first byte − grace)); the highest pace it kept as the connection holds it to
 * one (connection/timeouts.ts: that average, with no more than `OVERCOMMIT_LEAD_GRACES` graces of lead
 * carried past any fragment that added to it); its longest time without progress; and the least time
 * the start timer left it to begin the message (sampled every 50 ms). The figures behind
 * `OVERCOMMIT_PACE_BYTES_PER_S`, `OVERCOMMIT_LEAD_GRACES` and `noteOvercommitAnswerAcked`.
 */
import type { Connection } from '../../src/core/connection.js';
import { OVERCOMMIT_LEAD_GRACES, OVERCOMMIT_PACE_BYTES_PER_S, OVERCOMMIT_START_MS } from '../../src/core/connection/timeouts.js';
import type { LinkConfig } from '../../src/testing/impairment.js';
import { SERVER, byteAt, herd, runUntil } from '../helpers/receive-budget-rig.js';

const seeds = Number(process.argv[2] ?? 5);
/** The pace's grace: the idle timeout (30 s) and four probe timeouts (some 2 s here). */
const grace = Number(process.argv[3] ?? 30_000);

interface Path {
  readonly name: string;
  readonly link: LinkConfig;
  /** Messages of 100,000 bytes sent before the large one (their resends share the path). */
  readonly before: number;
  /** An outage of the path this long, ms, this long after the large message's first byte. */
  readonly outage?: readonly [number, number];
}

const burst = { meanBurstLength: 3 };

/**
 * The highest pace, bytes a second, that `samples` (ms since the first byte, bytes received then) kept
 * as the connection holds it to one: a deadline a grace past the first byte, moved by a second for
 * each pace's worth received, never past the grace and `leadGraces` graces after the sample that
 * brought them; behind once a sample comes after the deadline (a sample's bytes are taken to arrive
 * at its end: 50 ms late at most).
 */
function bucketPace(samples: readonly (readonly [number, number])[], leadGraces = OVERCOMMIT_LEAD_GRACES): number {
  const kept = (pace: number): boolean => {
    let deadline = grace;
    let prev = 0;
    for (const [t, got] of samples) {
      if (t > deadline) return false;
      if (got > prev) deadline = Math.min(deadline + ((got - prev) * 1000) / pace, t + (1 + leadGraces) * grace);
      prev = got;
    }
    return true;
  };
  if (!kept(1)) return 0;
  let [low, high] = [1, 1024 * 1024];
  if (kept(high)) return Number.POSITIVE_INFINITY;
  while (high - low > 16) {
    const mid = (low + high) / 2;
    if (kept(mid)) low = mid;
    else high = mid;
  }
  return low;
}
const slow = process.argv[4] === 'slow';
const paths: readonly Path[] = slow ? [
  { name: '128 kbit/s, 100 ms, 30% burst loss, 9 earlier messages', link: { delayMs: 100, bandwidthBps: 128_000, queueBytes: 64 * 1024, loss: 0.3, burst }, before: 9 },
  { name: '64 kbit/s, 100 ms, 30% burst loss', link: { delayMs: 100, bandwidthBps: 64_000, queueBytes: 64 * 1024, loss: 0.3, burst }, before: 0 },
  { name: '256 kbit/s, 100 ms, 30% burst loss, 25 s outage 1 s in', link: { delayMs: 100, bandwidthBps: 256_000, queueBytes: 64 * 1024, loss: 0.3, burst }, before: 0, outage: [1_000, 25_000] },
] : [
  { name: '256 kbit/s, 100 ms, 30% burst loss', link: { delayMs: 100, bandwidthBps: 256_000, queueBytes: 64 * 1024, loss: 0.3, burst }, before: 0 },
  { name: '256 kbit/s, 100 ms, 30% burst loss, 9 earlier messages', link: { delayMs: 100, bandwidthBps: 256_000, queueBytes: 64 * 1024, loss: 0.3, burst }, before: 9 },
  { name: '256 kbit/s, 300 ms, 30% burst loss', link: { delayMs: 300, bandwidthBps: 256_000, queueBytes: 64 * 1024, loss: 0.3, burst }, before: 0 },
  { name: '256 kbit/s, 100 ms, 30% loss, 1 MiB queue', link: { delayMs: 100, bandwidthBps: 256_000, queueBytes: 1024 * 1024, loss: 0.3 }, before: 3 },
  { name: '1 Mbit/s, 100 ms, 10% loss, 1 MiB queue, 9 earlier', link: { delayMs: 100, bandwidthBps: 1_000_000, queueBytes: 1024 * 1024, loss: 0.1 }, before: 9 },
  { name: '1 Mbit/s, 20 ms, 25 s outage 5 s in', link: { delayMs: 20, bandwidthBps: 1_000_000, queueBytes: 256 * 1024 }, before: 0, outage: [5_000, 25_000] },
];

/** `pace`, bytes a second, in KiB/s (`-`: any pace, the message was whole within the grace). */
const kib = (pace: number): string => (Number.isFinite(pace) ? `${(pace / 1024).toFixed(1)} KiB/s` : '-');

for (const path of paths) {
  const rows: string[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const h = herd(seed, { maxReceiveBufferBytes: 2.5 * 1024 * 1024 });
    const first = h.addPeer();
    const second = h.addPeer();
    h.sim.setLinks(SERVER, second.address, path.link);
    runUntil(h, () => first.conn.state === 'established' && second.conn.state === 'established', 10_000);
    const big = Uint8Array.from({ length: 1.5 * 1024 * 1024 }, (_, k) => byteAt(9, k));
    for (let i = 0; i < path.before; i++) second.conn.send(new Uint8Array(100_000));
    second.conn.send(big);
    h.sim.wake(second.address);
    const conn = (): Connection => h.accepted.find((c) => c.localCid === second.conn.remoteCid) as Connection;
    // The large message's id: the one fragment of its length the server takes first.
    let id = -1;
    let began = -1;
    runUntil(h, () => conn() !== undefined, 10_000);
    const c = conn();
    const accept = c.reassembly.accept.bind(c.reassembly);
    c.reassembly.accept = (f) => {
      const r = accept(f);
      if (id < 0 && f.messageLength === big.length && r === 'new') {
        id = f.messageId;
        began = h.sim.now;
      }
      return r;
    };
    let minPace = Number.POSITIVE_INFINITY;
    const samples: [number, number][] = [];
    let lastGot = 0;
    let lastProgress = 0;
    let stall = 0;
    // The least time the connection's own pace (connection/timeouts.ts) left the message before it was behind
    // (below 0: behind, and closed then had another message waited), and the grace then.
    let margin = Number.POSITIVE_INFINITY;
    let marginGrace = 0;
    let outageDone = path.outage === undefined;
    let done = -1;
    // The least time the start timer (connection/timeouts.ts) left the peer to begin its message while it held the overcommit unbegun.
    let startMargin = Number.POSITIVE_INFINITY;
    const end = h.sim.now + 1_200_000;
    while (h.sim.now < end && c.state === 'established') {
      h.sim.runFor(50);
      const answer = c.overcommitTimer;
      if (answer !== undefined && c.flow.holdsOvercommit && answer.answer === c.flow.overcommits) {
        const pto4 = 4 * c.rtt.pto(c.config.maxAckDelayMs);
        const deadline = Math.min(answer.ackedAt + OVERCOMMIT_START_MS, answer.since + Math.max(c.config.idleTimeoutMs, OVERCOMMIT_START_MS)) + pto4;
        startMargin = Math.min(startMargin, deadline - h.sim.now);
      }
      if (began < 0) continue;
      if (!outageDone && path.outage !== undefined && h.sim.now - began >= path.outage[0]) {
        h.sim.setLinks(SERVER, second.address, { ...path.link, loss: 1 });
        h.sim.runFor(path.outage[1]);
        h.sim.setLinks(SERVER, second.address, path.link);
        outageDone = true;
      }
      const got = c.reassembly.receivedOf(id);
      const t = h.sim.now - began;
      if (got === undefined) {
        done = t;
        stall = Math.max(stall, t - lastProgress);
        break;
      }
      samples.push([t, got]);
      const pace = c.overcommitTimer?.pace;
      if (pace?.message === id) {
        const connGrace = Math.max(c.config.idleTimeoutMs, OVERCOMMIT_START_MS) + 4 * c.rtt.pto(c.config.maxAckDelayMs);
        const left = pace.since + connGrace + ((got - pace.base) * 1000) / OVERCOMMIT_PACE_BYTES_PER_S - h.sim.now;
        if (left < margin) [margin, marginGrace] = [left, connGrace];
      }
      if (got > lastGot) {
        stall = Math.max(stall, t - lastProgress);
        [lastGot, lastProgress] = [got, t];
      }
      if (t > grace) minPace = Math.min(minPace, got / ((t - grace) / 1000));
    }
    rows.push(`seed ${seed}: ${done < 0 ? `NOT DONE (${c.state})` : `${(done / 1000).toFixed(1)} s, ${((big.length / done) * 1000 / 1024).toFixed(1)} KiB/s`}, highest pace kept ${Number.isFinite(minPace) ? (minPace / 1024).toFixed(1) + ' KiB/s' : '-'} on average, ${kib(bucketPace(samples))} with the lead bounded (${kib(bucketPace(samples, 0))} with none), longest stall ${(stall / 1000).toFixed(1)} s, least margin to the connection's pace ${(margin / 1000).toFixed(1)} s (grace ${(marginGrace / 1000).toFixed(1)} s), to its start timer ${(startMargin / 1000).toFixed(1)} s, closed: ${c.closeReason?.message ?? 'no'}`);
  }
  console.log(`${path.name}\n  ${rows.join('\n  ')}`);
}
