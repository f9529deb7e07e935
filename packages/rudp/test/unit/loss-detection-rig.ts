/**
 * The rig of the loss-detection unit tests: a `LossDetection` with the
 * connection defaults, a recording controller and `PacketFate`, and
 * shorthands for a sent packet and an ACK frame.
 */
import { DEFAULT_CONNECTION_CONFIG } from '../../src/core/config.js';
import { LossDetection, type LossDetectionConfig } from '../../src/core/recovery/loss-detection.js';
import type { OutgoingPacket } from '../../src/core/recovery/sent-packet.js';
import { RttEstimator } from '../../src/core/recovery/rtt.js';
import type { AckFrame } from '../../src/wire/ack-frame.js';
import { RecordingController, RecordingFate } from './fixtures.js';

/** The connection defaults (what `Connection` hands loss detection): threshold 3, 9/8 RTT, 25 ms, 2 s. */
export const CONFIG: LossDetectionConfig = DEFAULT_CONNECTION_CONFIG;

/** A `LossDetection` and the recording stand-ins it reports to. */
export interface Rig {
  readonly ld: LossDetection;
  readonly rtt: RttEstimator;
  readonly cc: RecordingController;
  readonly fate: RecordingFate;
}

/** A fresh rig with the connection defaults, overridden by `config`. */
export function rig(config: Partial<LossDetectionConfig> = {}): Rig {
  const rtt = new RttEstimator();
  const cc = new RecordingController();
  const fate = new RecordingFate();
  return { ld: new LossDetection({ ...CONFIG, ...config }, rtt, cc, fate), rtt, cc, fate };
}

/** Packet `pn` as the packet builder describes it (empty, no flags unless in `extra`). */
export function packet(pn: number, timeSent: number, size = 1_000, extra: Partial<OutgoingPacket> = {}): OutgoingPacket {
  return { pn, timeSent, size, chunks: [], retransmission: false, ackLargest: -1, carriedMaxData: false, carriedBlocked: false, appLimited: false, leftQueueEmpty: false, pingOnly: false, ...extra };
}

/** Records packet `pn` as sent at `t`. */
export function send(r: Rig, pn: number, t: number, size = 1_000, extra: Partial<OutgoingPacket> = {}): void {
  r.ld.onPacketSent(t, packet(pn, t, size, extra));
}

/** An ACK frame of inclusive `[lo, hi]` ranges (highest first). */
export function ack(ranges: readonly (readonly [number, number])[], delayMicros = 0): AckFrame {
  return { type: 'ack', ranges: ranges.map(([lo, hi]) => ({ lo, hi })), delayMicros };
}
