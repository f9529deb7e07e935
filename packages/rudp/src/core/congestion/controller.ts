/**
 * The congestion-control seam. A connection reports sends, acknowledgements
 * (with a delivery-rate sample) and losses; the controller answers with a
 * window (bytes allowed in flight) and a pacing rate. Controllers are
 * swappable per endpoint through `EndpointConfig.congestion`.
 */

/** What one ACK taught the sender. */
export interface AckSample {
  /** Bytes newly acknowledged. */
  readonly ackedBytes: number;
  /** Bytes still in flight after this ACK. */
  readonly bytesInFlight: number;
  /** Delivery rate in bytes/ms measured over the newest acknowledged packet's flight, if measurable. */
  readonly deliveryRate: number | undefined;
  /** True if that packet was sent while the application, not the network, limited the rate. */
  readonly appLimited: boolean;
  /** Bytes delivered when the newest acknowledged packet was sent (round-trip counting). */
  readonly priorDelivered: number;
  /** Bytes delivered in total after this ACK. */
  readonly delivered: number;
  /** Smallest RTT seen, ms. */
  readonly minRttMs: number;
  /** Smoothed RTT, ms. */
  readonly srttMs: number;
  /** The RTT sample this ACK gave (its largest newly acknowledged packet, less the peer's ack delay where that stays ≥ min RTT), ms. */
  readonly latestRttMs: number | undefined;
  /**
   * Sum of the RTT samples of every packet this ACK newly acknowledged (each packet's own send
   * time to now, less the peer's ack delay where that stays ≥ min RTT), ms; `ackedRttCount` of them.
   * Unlike `latestRttMs`, not biased towards packets that took a short path.
   */
  readonly ackedRttSumMs: number;
  /** How many packets `ackedRttSumMs` sums over. */
  readonly ackedRttCount: number;
}

/** A congestion controller. */
export interface CongestionController {
  /** A short name for stats and logs. */
  readonly name: string;
  /** Bytes allowed in flight now. */
  window(): number;
  /** Bytes per millisecond to pace at (`Infinity` for no pacing). */
  pacingRate(srttMs: number): number;
  /** A packet of `bytes` left at `now`. */
  onPacketSent(now: number, bytes: number): void;
  /**
   * An ACK arrived. `sample` is valid during the call only: loss detection
   * rewrites one object for every ACK, so keep its values, not the object.
   */
  onAck(now: number, sample: AckSample): void;
  /** Packets carrying `lostBytes` were declared lost. */
  onLoss(now: number, lostBytes: number, bytesInFlight: number): void;
  /**
   * Packets carrying `bytes`, declared lost earlier, were acknowledged after
   * all (reordering, not loss): undo what `onLoss` did for them.
   */
  onSpuriousLoss(now: number, bytes: number): void;
}

/** Builds a controller for a new connection; `mtu` is the datagram size limit. */
export type CongestionControllerFactory = (mtu: number) => CongestionController;

/**
 * What loss detection and the pacer hold in place of the controller once their connection ended: told
 * nothing, it answers an open window and no pacing. An application's controller may end its connection from
 * any of its calls (`destroy()`): from then on it is called no more, not told of an ACK whose flight the close
 * forgot. Shared: an ended connection keeps no storage for it.
 */
export const ENDED_CONTROLLER: CongestionController = Object.freeze({
  name: 'ended',
  window: () => Number.MAX_SAFE_INTEGER,
  pacingRate: () => Number.POSITIVE_INFINITY,
  onPacketSent: () => undefined,
  onAck: () => undefined,
  onLoss: () => undefined,
  onSpuriousLoss: () => undefined,
});
