/**
 * Tuning knobs of a connection, with the defaults that the benchmark
 * justifies (see bench/results/latest.md).
 */
import { Bbr } from './congestion/bbr.js';
import type { CongestionControllerFactory } from './congestion/controller.js';
import { MAX_DATAGRAM } from '../wire/packet.js';

/** Per-connection settings. */
export interface ConnectionConfig {
  /** Largest datagram sent, bytes (≤ 1200). */
  readonly mtu: number;
  /** Bytes of whole messages the peer may have outstanding beyond what the app has read; also the largest message. */
  readonly receiveWindow: number;
  /** Longest we hold back an ACK hoping to piggyback it on data, ms. */
  readonly maxAckDelayMs: number;
  /** ACK at once after this many ack-eliciting packets. */
  readonly ackEveryPackets: number;
  /** Close when nothing arrives from the peer for this long, ms. */
  readonly idleTimeoutMs: number;
  /** Send a PING when we sent nothing ack-eliciting for this long, ms (0: never). */
  readonly keepAliveMs: number;
  /** `connect` gives up after this long without an answer, ms. */
  readonly handshakeTimeoutMs: number;
  /** Cap of the exponentially backed-off probe timeout, ms. */
  readonly maxPtoMs: number;
  /** A packet is lost once one this many numbers newer is acknowledged. */
  readonly packetThreshold: number;
  /** …or once it is older than this multiple of the RTT when a newer one is acknowledged. */
  readonly timeThreshold: number;
  /** Extra copies sent of each retransmitted chunk (small-message latency under loss). */
  readonly redundantCopies: number;
  /** Delay between a retransmission and its redundant copy, ms (spreads them over a loss burst). */
  readonly redundantSpacingMs: number;
  /** Congestion controller factory. */
  readonly congestion: CongestionControllerFactory;
  /** Proactive redundancy for small messages on lossy paths: repairs and tail copies. */
  readonly redundancy: RedundancyConfig;
}

/**
 * When and how much redundancy small messages get. Packets of new data carry
 * a REPAIR over the small messages still unacknowledged (see
 * core/repair-code.ts); the last small messages before the sender falls
 * silent get tail copies instead, as nothing follows them to carry repairs.
 */
export interface RedundancyConfig {
  /** Most tail copies of one message (0 turns all redundancy, repairs included, off). */
  readonly maxCopies: number;
  /** Tail copies go to messages up to this size, repairs to those up to min(this, 255 bytes). */
  readonly maxMessageBytes: number;
  /** Measured loss rate from which repairs and one tail copy are sent. */
  readonly lossThreshold: number;
  /** Measured loss rate from which every packet of new data carries a repair (below it, a proportional share) and `maxCopies` tail copies are sent. */
  readonly highLossThreshold: number;
}

/** The defaults. */
export const DEFAULT_CONNECTION_CONFIG: ConnectionConfig = {
  mtu: MAX_DATAGRAM,
  receiveWindow: 32 * 1024 * 1024,
  maxAckDelayMs: 25,
  ackEveryPackets: 2,
  idleTimeoutMs: 15_000,
  keepAliveMs: 5_000,
  handshakeTimeoutMs: 5_000,
  maxPtoMs: 2_000,
  packetThreshold: 3,
  timeThreshold: 9 / 8,
  redundantCopies: 1,
  redundantSpacingMs: 3,
  congestion: (mtu) => new Bbr(mtu),
  redundancy: { maxCopies: 2, maxMessageBytes: 256, lossThreshold: 0.02, highLossThreshold: 0.05 },
};
