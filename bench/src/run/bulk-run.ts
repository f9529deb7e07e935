import { IntegrityChecker, type IntegrityCounts } from '../integrity/integrity-checker.js';
import { makePayload } from '../integrity/payload.js';
import type { TransportCounters } from '../peers/message-endpoint.js';
import type { EndpointTuning, SystemFactory, SystemId } from '../peers/systems.js';
import type { BulkScenario } from '../scenarios/bulk.js';
import { BASE_RTT_MS, type LinkVariant } from '../scenarios/link-variants.js';
import { SimPair } from '../sim/sim-pair.js';
import { mathisThroughputBps } from '../stats/mathis.js';

/** Figures of one bulk run. */
export interface BulkResult {
  readonly system: SystemId;
  readonly variant: LinkVariant;
  readonly seed: number;
  /** Payload bits delivered per second from the first send to the last delivery (to the stop if incomplete). */
  readonly goodputBps: number;
  /** `goodputBps` / B·(1−p). */
  readonly fractionOfLimit: number;
  /** First send → last delivery, ms (`NaN` when incomplete). */
  readonly completionMs: number;
  /** Wire bytes, both directions, IP+UDP headers included, per payload byte. */
  readonly wirePerPayload: number;
  readonly integrity: IntegrityCounts;
  readonly completed: boolean;
  /** The sender's packet counters at the end, when its transport exposes them. */
  readonly sender: TransportCounters | undefined;
}

/**
 * Share of the sender's packets that were resent needlessly: the transport's
 * own count when it keeps one, else (on a link that loses nothing, where
 * every resend is needless) all resends. `NaN` when neither applies.
 */
export function spuriousShare(r: BulkResult): number {
  const c = r.sender;
  if (!c || c.packetsSent === 0) return Number.NaN;
  if (c.spuriousRetransmissions !== undefined) return c.spuriousRetransmissions / c.packetsSent;
  return r.variant.loss === 0 ? c.packetsRetransmitted / c.packetsSent : Number.NaN;
}

/** The loss-free limit B·(1−p), bits per second. */
export function bulkLimitBps(scenario: BulkScenario, loss: number): number {
  return scenario.bandwidthBps * (1 - loss);
}

/** MSS the TCP model assumes: the same 1200-byte datagram as rudp and KCP, less 40 bytes of TCP/IP header. */
export const MATHIS_MSS_BYTES = 1160;

/** The Mathis TCP model's throughput for this scenario at loss `p`, bits per second. */
export function mathisForBulk(scenario: BulkScenario, loss: number): number {
  return mathisThroughputBps(MATHIS_MSS_BYTES, BASE_RTT_MS, loss, scenario.bandwidthBps);
}

/**
 * Runs the bulk scenario for one system over one link variant (the link gets
 * the scenario's bottleneck rate and queue in both directions): after a
 * small hello, the whole transfer is handed to the transport at once.
 */
export function runBulk(
  factory: SystemFactory,
  system: SystemId,
  variant: LinkVariant,
  seed: number,
  scenario: BulkScenario,
  tuning: EndpointTuning = {},
): BulkResult {
  const chunks = Math.ceil(scenario.totalBytes / scenario.chunkBytes);
  const checker = new IntegrityChecker();
  let start = Number.NaN;
  let wireAtStart = 0;
  let doneAt = Number.NaN;
  let wireAtDone = 0;
  let deliveredBytes = 0;

  const link = { ...variant.link, bandwidthBps: scenario.bandwidthBps, queueBytes: scenario.queueBytes };
  const pair = new SimPair({
    factory,
    system,
    tuning,
    link,
    seed,
    onMessage: (side, data, now) => {
      if (side !== 'server') return;
      const verdict = checker.deliver(data);
      if (verdict.kind !== 'corrupt' && verdict.kind !== 'duplicate' && verdict.seq > 0) deliveredBytes += data.byteLength;
      if (Number.isNaN(doneAt) && checker.counts().delivered === chunks + 1) {
        doneAt = now;
        wireAtDone = pair.wireBytes();
      }
    },
    onEstablished: (now) => {
      start = now;
      wireAtStart = pair.wireBytes();
      for (let i = 0; i < chunks; i++) {
        const size = Math.min(scenario.chunkBytes, scenario.totalBytes - i * scenario.chunkBytes);
        pair.send('client', makePayload(checker.noteSent(), size));
      }
    },
  });
  pair.connect();
  pair.send('client', makePayload(checker.noteSent(), 64));

  while (Number.isNaN(doneAt)) {
    const now = pair.sim.now;
    if (Number.isNaN(start) ? now >= scenario.timeLimitMs : now >= start + scenario.timeLimitMs) break;
    pair.sim.runFor(1_000);
  }
  const completed = !Number.isNaN(doneAt);
  const elapsedMs = (completed ? doneAt : pair.sim.now) - (Number.isNaN(start) ? 0 : start);
  const goodputBps = (deliveredBytes * 8) / (elapsedMs / 1000);
  return {
    system,
    variant,
    seed,
    goodputBps,
    fractionOfLimit: goodputBps / bulkLimitBps(scenario, variant.loss),
    completionMs: completed ? elapsedMs : Number.NaN,
    wirePerPayload: ((completed ? wireAtDone : pair.wireBytes()) - wireAtStart) / scenario.totalBytes,
    integrity: checker.counts(),
    completed,
    sender: pair.connection('client')?.counters?.(),
  };
}
