/**
 * What `Connection.stats()` reports: counters of packets, bytes and
 * messages, loss recovery's state, and path MTU discovery's.
 */
import type { PathMtuStats } from './send/path-mtu.js';

/** Counters reported by `Connection.stats()` (with path MTU discovery's: the datagram size in use and probe counts). */
export interface ConnectionStats extends PathMtuStats {
  readonly packetsSent: number;
  readonly packetsReceived: number;
  readonly packetsRetransmitted: number;
  readonly packetsLost: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly duplicatePackets: number;
  readonly messagesSent: number;
  readonly messagesReceived: number;
  /** Unreliable messages (datagrams) sent; each leaves in one packet, once, unless discarded (`datagramsDiscarded`). */
  readonly datagramsSent: number;
  /** Datagrams that never left: more waited than `datagramSendBuffer` takes, and the oldest gave way. */
  readonly datagramsDiscarded: number;
  /** Datagrams that arrived but were dropped: the application left the window's worth unread. */
  readonly datagramsDropped: number;
  /** REPAIR frames sent (one per packet at most). */
  readonly repairsSent: number;
  /** Messages rebuilt from the peer's repairs instead of waiting for a resend. */
  readonly messagesRecovered: number;
  /** Packets declared lost that the peer had received after all (reordering); their resends were for nothing. */
  readonly spuriousRetransmissions: number;
  /** Packet threshold of loss detection now (widens with reordering seen). */
  readonly packetThreshold: number;
  /** Time threshold reordering seen asks for, ms (0: the RTT rule alone). */
  readonly reorderWindowMs: number;
  readonly srttMs: number;
  readonly rttVarMs: number;
  readonly minRttMs: number;
  readonly cwndBytes: number;
  readonly bytesInFlight: number;
  readonly congestionController: string;
}
