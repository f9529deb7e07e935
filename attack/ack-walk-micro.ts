/**
 * Attack round 16, item 2: what one ACK frame costs loss detection when
 * `n` packets are unacknowledged below its largest number and it
 * acknowledges nothing new (a frame repeated in one packet, or packet after
 * packet): `LossDetection.onAck` alone, in-process, on the sources. The
 * packet threshold is set to 300, the most spurious losses widen it to
 * (`MAX_PACKET_THRESHOLD`), so that many stay unacknowledged without being
 * declared lost.
 *
 *   npx tsx attack/ack-walk-micro.ts
 */
import { LossDetection } from '../packages/rudp/src/core/recovery/loss-detection.js';
import { RttEstimator } from '../packages/rudp/src/core/recovery/rtt.js';
import { RecordingController } from '../packages/rudp/test/unit/fixtures.js';

for (const inFlight of [3, 100, 300, 1000]) {
  const config = { packetThreshold: 300, timeThreshold: 1e9, maxAckDelayMs: 25, ackEveryPackets: 2, maxPtoMs: 60_000, idleTimeoutMs: 30_000 };
  const ld = new LossDetection(config, new RttEstimator(), new RecordingController(), { acked: () => {}, lost: () => {}, spurious: () => {} });
  let pn = 1;
  const send = (): void => void ld.onPacketSent(0, { pn: pn++, timeSent: 0, size: 1200, chunks: [], retransmission: false, ackLargest: -1, carriedMaxData: false, carriedBlocked: false, appLimited: false, leftQueueEmpty: false, pingOnly: false });
  for (let i = 0; i < inFlight + 1; i++) send();
  const top = pn - 1;
  ld.onAck(1, { type: 'ack', ranges: [{ lo: top, hi: top }], delayMicros: 0 }, top);
  const frame = { type: 'ack' as const, ranges: [{ lo: top, hi: top }], delayMicros: 0 };
  const n = 200_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) ld.onAck(2, frame, top);
  const us = ((performance.now() - t0) * 1000) / n;
  console.log(`unacked below the frame's largest: ${inFlight} (in flight ${(ld as unknown as { sent: { size: number } }).sent.size}); ${us.toFixed(3)} µs an ACK frame; ×150 frames = ${(us * 150).toFixed(0)} µs a datagram`);
}
