/**
 * A packet in flight as loss detection records it, and what happens to its
 * contents once its fate is known (the coordinator's business: loss
 * detection only tells acknowledged, lost or spuriously lost).
 */
import type { ChunkRef } from '../send/outgoing-message.js';

/** An ack-eliciting packet in flight. */
export interface SentPacket {
  readonly pn: number;
  readonly timeSent: number;
  readonly size: number;
  readonly chunks: readonly ChunkRef[];
  readonly retransmission: boolean;
  /** Largest pn our ACK frame in this packet covered (-1 if none). */
  readonly ackLargest: number;
  /** It carried MAX_DATA: its loss owes the limit again, and its ACK tells that a raise arrived. */
  readonly carriedMaxData: boolean;
  /** It carried BLOCKED: its loss owes it again while the sender still waits. */
  readonly carriedBlocked: boolean;
  /** Delivery-rate sampling state when it left (the congestion controller's bandwidth samples). */
  readonly delivered: number;
  readonly deliveredTime: number;
  readonly firstSentTime: number;
  readonly appLimited: boolean;
  /** Nothing was ready to be sent when it left (small messages, not a sender filling the path). */
  readonly leftQueueEmpty: boolean;
  /** A PING was all that asked for its acknowledgment (a keep-alive, a probe with nothing to resend): it does not restart the idle timer. */
  readonly pingOnly: boolean;
}

/** A packet as the packet builder describes it; loss detection adds the rate-sampling fields. */
export type OutgoingPacket = Omit<SentPacket, 'delivered' | 'deliveredTime' | 'firstSentTime'>;

/** What happens to a packet's contents once its fate is known. */
export interface PacketFate {
  /** The peer acknowledged `p`. */
  acked(p: SentPacket): void;
  /**
   * `p` was declared lost at `now`; `silent`: by the rule for packets no ACK has passed yet (a run
   * of losses, whose repairs were likely lost with it); `run`: one ACK declared more than
   * `LOST_RUN` packets lost (more than the repairs after them can rebuild; loss-detection.ts).
   */
  lost(now: number, p: SentPacket, silent?: boolean, run?: boolean): void;
  /** `p`, declared lost before, was acknowledged after all. */
  spurious(p: SentPacket): void;
}
