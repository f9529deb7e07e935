import { IntegrityChecker, sumIntegrity, type IntegrityCounts } from '../integrity/integrity-checker.js';
import { makePayload } from '../integrity/payload.js';
import type { SystemFactory, SystemId } from '../peers/systems.js';
import type { ChatScenario } from '../scenarios/chat.js';
import type { LinkVariant } from '../scenarios/link-variants.js';
import { SimPair, type Side } from '../sim/sim-pair.js';
import { summarize, type Summary } from '../stats/summary.js';

/** Figures of one chat run. */
export interface ChatResult {
  readonly system: SystemId;
  readonly variant: LinkVariant;
  readonly seed: number;
  /**
   * Send call → delivery to the peer app, both directions pooled, ms. When
   * the run did not complete, undelivered messages count with their age at
   * the stop, so every figure is a lower bound.
   */
  readonly latency: Summary;
  /** Wire bytes (both directions, IP+UDP headers included) per payload byte, over the messaging phase. */
  readonly wirePerPayload: number;
  /** Both directions' delivery checks summed. */
  readonly integrity: IntegrityCounts;
  /** Whether every message arrived before the drain limit. */
  readonly completed: boolean;
  /** Network time from connect to both sides holding a connection, ms. */
  readonly establishMs: number;
}

/** Gives up if the connection is not up after this much network time. */
const ESTABLISH_LIMIT_MS = 60_000;

/**
 * Runs the chat scenario for one system over one link variant: the client
 * connects and sends a hello (message 0, not timed); once both sides hold a
 * connection, each side sends one numbered message every interval.
 */
export function runChat(factory: SystemFactory, system: SystemId, variant: LinkVariant, seed: number, scenario: ChatScenario): ChatResult {
  const n = Math.floor(scenario.durationMs / scenario.intervalMs);
  const toServer = new IntegrityChecker();
  const toClient = new IntegrityChecker();
  const sentAtToServer = new Float64Array(n + 1);
  const sentAtToClient = new Float64Array(n);
  const latencies: number[] = [];
  let start = Number.NaN;
  let wireAtStart = 0;
  let wireAtDone = Number.NaN;
  let doneAt = Number.NaN;

  const onMessage = (side: Side, data: Uint8Array, now: number): void => {
    const checker = side === 'server' ? toServer : toClient;
    const verdict = checker.deliver(data);
    if (verdict.kind === 'ok' || verdict.kind === 'out-of-order') {
      if (side === 'server' && verdict.seq > 0) latencies.push(now - (sentAtToServer[verdict.seq] as number));
      if (side === 'client') latencies.push(now - (sentAtToClient[verdict.seq] as number));
    }
    if (Number.isNaN(doneAt) && toServer.counts().delivered === n + 1 && toClient.counts().delivered === n) {
      doneAt = now;
      wireAtDone = pair.wireBytes();
    }
  };

  const onEstablished = (now: number): void => {
    start = now;
    wireAtStart = pair.wireBytes();
    for (let i = 0; i < n; i++) {
      pair.sim.schedule(now + i * scenario.intervalMs, (t) => {
        const up = toServer.noteSent();
        sentAtToServer[up] = t;
        pair.send('client', makePayload(up, scenario.messageBytes));
        const down = toClient.noteSent();
        sentAtToClient[down] = t;
        pair.send('server', makePayload(down, scenario.messageBytes));
      });
    }
  };

  const pair = new SimPair({ factory, system, link: variant.link, seed, onMessage, onEstablished });
  pair.connect();
  pair.send('client', makePayload(toServer.noteSent(), scenario.messageBytes));

  while (Number.isNaN(doneAt)) {
    const now = pair.sim.now;
    if (Number.isNaN(start) ? now >= ESTABLISH_LIMIT_MS : now >= start + scenario.durationMs + scenario.drainLimitMs) break;
    pair.sim.runFor(1_000);
  }
  const completed = !Number.isNaN(doneAt);
  if (!completed) {
    const stop = pair.sim.now;
    for (let seq = 1; seq < toServer.counts().sent; seq++) {
      if (!toServer.isDelivered(seq)) latencies.push(stop - (sentAtToServer[seq] as number));
    }
    for (let seq = 0; seq < toClient.counts().sent; seq++) {
      if (!toClient.isDelivered(seq)) latencies.push(stop - (sentAtToClient[seq] as number));
    }
  }
  const wireEnd = completed ? wireAtDone : pair.wireBytes();
  const payloadBytes = 2 * n * scenario.messageBytes;
  return {
    system,
    variant,
    seed,
    latency: summarize(latencies),
    wirePerPayload: (wireEnd - wireAtStart) / payloadBytes,
    integrity: sumIntegrity([toServer.counts(), toClient.counts()]),
    completed,
    establishMs: start,
  };
}
