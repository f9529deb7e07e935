/**
 * Profiles one simulated bulk run (issue 13's p = 0 row): prints, every
 * `stepMs`, the load offered to the bottleneck (100% = its rate), the
 * sender's cwnd, bytes in flight, datagram size and counters; then the
 * totals, where the bottleneck sat idle after the first send (replayed
 * from the datagrams the sender emitted), and the datagram sizes used.
 *
 * Usage (from bench/): node --import tsx src/tools/bulk-timeline.ts [seed=1] [system=rudp] [stepMs=10] [lossPct=0]
 */
import type { Connection } from 'rudpx/core';
import { IntegrityChecker } from '../integrity/integrity-checker.js';
import { makePayload } from '../integrity/payload.js';
import { SystemFactory, type SystemId } from '../peers/systems.js';
import { BULK } from '../scenarios/bulk.js';
import { BASE_RTT_MS, plainLoss } from '../scenarios/link-variants.js';
import { CLIENT_ADDRESS, IP_UDP_HEADER_BYTES, SERVER_ADDRESS, SimPair } from '../sim/sim-pair.js';

const seed = Number(process.argv[2] ?? '1');
const system = (process.argv[3] ?? 'rudp') as SystemId;
const stepMs = Number(process.argv[4] ?? '10');
const loss = Number(process.argv[5] ?? '0') / 100;
const scenario = BULK;
const variant = plainLoss(loss);
const factory = await SystemFactory.load();
const chunks = Math.ceil(scenario.totalBytes / scenario.chunkBytes);
const checker = new IntegrityChecker();
let start = Number.NaN;
let doneAt = Number.NaN;
const pair = new SimPair({
  factory,
  system,
  link: { ...variant.link, bandwidthBps: scenario.bandwidthBps, queueBytes: scenario.queueBytes },
  seed,
  onMessage: (side, data, now) => {
    if (side !== 'server') return;
    checker.deliver(data);
    if (Number.isNaN(doneAt) && checker.counts().delivered === chunks + 1) doneAt = now;
  },
  onEstablished: (now) => {
    start = now;
    for (let i = 0; i < chunks; i++) pair.send('client', makePayload(checker.noteSent(), Math.min(scenario.chunkBytes, scenario.totalBytes - i * scenario.chunkBytes)));
    sample(now);
  },
});
// Every datagram the client sends, replayed through a model of the bottleneck: where it sat idle.
const sizes = new Map<number, number>();
let busyUntil = 0;
let idleMs = 0;
/** Bytes (with IP/UDP headers) sent before any acknowledgment could return: the first flight. */
let firstFlightBytes = 0;
const idleSpans: string[] = [];
const origPoll = pair.client.pollTransmit.bind(pair.client);
pair.client.pollTransmit = (now: number) => {
  const t = origPoll(now);
  if (t && !Number.isNaN(start)) {
    sizes.set(t.data.length, (sizes.get(t.data.length) ?? 0) + 1);
    if (now < start + BASE_RTT_MS) firstFlightBytes += t.data.length + IP_UDP_HEADER_BYTES;
    const gap = now - Math.max(busyUntil, start);
    if (gap > 0.01) {
      idleMs += gap;
      if (gap > 0.5) idleSpans.push(`${(Math.max(busyUntil, start) - start).toFixed(1)}+${gap.toFixed(1)}`);
    }
    const backlog = Math.max(0, busyUntil - now);
    if ((backlog * scenario.bandwidthBps) / 8000 + t.data.length + IP_UDP_HEADER_BYTES <= scenario.queueBytes) busyUntil = Math.max(now, busyUntil) + ((t.data.length + IP_UDP_HEADER_BYTES) * 8000) / scenario.bandwidthBps;
  }
  return t;
};
pair.connect();
pair.send('client', makePayload(checker.noteSent(), 64));

let lastBytes = 0;
let lastDatagrams = 0;
function sample(now: number): void {
  const handle = pair.connection('client') as unknown as { connection?: Connection } | undefined;
  const s = handle?.connection?.stats();
  const l = pair.sim.linkStats(CLIENT_ADDRESS, SERVER_ADDRESS);
  const bytes = l.sentBytes + l.sentDatagrams * IP_UDP_HEADER_BYTES;
  const busy = ((bytes - lastBytes) * 8) / (scenario.bandwidthBps / 1000) / stepMs;
  const dg = l.sentDatagrams - lastDatagrams;
  lastBytes = bytes;
  lastDatagrams = l.sentDatagrams;
  if (s && Number.isNaN(doneAt))
    console.log(
      `${(now - start).toFixed(0).padStart(6)} ms  offered ${(busy * 100).toFixed(0).padStart(4)}%  dg ${String(dg).padStart(3)}  cwnd ${String(s.cwndBytes).padStart(7)}  inflight ${String(s.bytesInFlight).padStart(7)}  size ${s.datagramSize}  sent ${s.packetsSent}  resent ${s.packetsRetransmitted}  lost ${s.packetsLost}  qdrop ${l.droppedQueue}  srtt ${s.srttMs.toFixed(1)} minrtt ${s.minRttMs.toFixed(1)}`,
    );
  if (Number.isNaN(doneAt)) pair.sim.schedule(now + stepMs, sample);
}
while (Number.isNaN(doneAt) && pair.sim.now < 60_000) pair.sim.runFor(1_000);
const handle = pair.connection('client') as unknown as { connection?: Connection } | undefined;
const elapsed = doneAt - start;
const l = pair.sim.linkStats(CLIENT_ADDRESS, SERVER_ADDRESS);
const r = pair.sim.linkStats(SERVER_ADDRESS, CLIENT_ADDRESS);
console.log(`done in ${elapsed.toFixed(1)} ms: goodput ÷ B ${((scenario.totalBytes * 8) / (elapsed / 1000) / scenario.bandwidthBps).toFixed(4)}`);
console.log(`forward: ${l.sentDatagrams} datagrams, ${l.sentBytes} B (+hdr ${l.sentBytes + l.sentDatagrams * IP_UDP_HEADER_BYTES}), queue drops ${l.droppedQueue}, mtu drops ${l.droppedMtu}; payload share ${(scenario.totalBytes / (l.sentBytes + l.sentDatagrams * IP_UDP_HEADER_BYTES)).toFixed(4)}`);
console.log(`reverse: ${r.sentDatagrams} datagrams, ${r.sentBytes} B`);
// What no sender can beat on this link: every byte that crossed the bottleneck at B, then one one-way delay.
const linkMs = ((l.deliveredBytes + l.deliveredDatagrams * IP_UDP_HEADER_BYTES) * 8000) / scenario.bandwidthBps;
const boundMs = linkMs + BASE_RTT_MS / 2;
console.log(
  `bound: the ${l.deliveredDatagrams} datagrams that crossed the bottleneck take ${linkMs.toFixed(1)} ms at B, + ${BASE_RTT_MS / 2} ms one way = ${boundMs.toFixed(1)} ms: goodput ÷ B ≤ ${((scenario.totalBytes * 8) / (boundMs / 1000) / scenario.bandwidthBps).toFixed(4)} with these datagrams`,
);
// Nor can it fill the first round trip with more than it sent before the first ACK: the link idles
// for the rest of that round trip, whatever the framing, unless the first flight is a whole BDP.
const firstFlightMs = (firstFlightBytes * 8000) / scenario.bandwidthBps;
const firstRoundIdleMs = Math.max(0, BASE_RTT_MS - firstFlightMs);
const roundBoundMs = boundMs + firstRoundIdleMs;
console.log(
  `first round: ${firstFlightBytes} B sent before an ACK could return fill ${firstFlightMs.toFixed(1)} ms of the ${BASE_RTT_MS} ms round trip; with that idle too, goodput ÷ B ≤ ${((scenario.totalBytes * 8) / (roundBoundMs / 1000) / scenario.bandwidthBps).toFixed(4)}; 0.95 would need the datagrams' link time ≤ ${(((scenario.totalBytes * 8) / 0.95 / scenario.bandwidthBps) * 1000 - BASE_RTT_MS / 2 - firstRoundIdleMs).toFixed(1)} ms`,
);
console.log(`bottleneck idle after the first send: ${idleMs.toFixed(1)} ms; last departure ${(busyUntil - start).toFixed(1)} ms; idle spans (start+length): ${idleSpans.join(' ')}`);
console.log(`datagram sizes: ${[...sizes.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => `${k}×${v}`).join(' ')}`);
console.log(JSON.stringify(handle?.connection?.stats(), (_k, v: unknown) => v));
