/**
 * What `Connection.stats()` reports: counters of packets, bytes and
 * messages, loss recovery's state, and path MTU discovery's. The connection
 * keeps only the counters it alone sees (`ConnectionCounters`); the rest is
 * read from the modules that own it when asked (cold: nothing here runs per
 * packet).
 */
import type { RttEstimator } from './recovery/rtt.js';
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
  /**
   * The congestion window, bytes; once the connection ended, the last its controller gave (it is asked no more):
   * 0 if it was never asked before the end (by a data poll or a stats(): a server connection destroyed in its
   * `connection` listener).
   */
  readonly cwndBytes: number;
  readonly bytesInFlight: number;
  readonly congestionController: string;
  /**
   * Key updates (RFC 9001 §6) this connection's keys went through, started by either side: one every
   * `keyUpdateAfterPackets` packets a side sends, or more if the peer updates sooner (0 in plaintext).
   */
  readonly keyUpdates: number;
}

/**
 * The counters a connection keeps itself, written as packets and messages come and go. Fields declared
 * bare and set in the constructor: an object literal's map (or `= 0` initializers) types them as small
 * integers, and once any connection had sent or received 2 GiB (`bytesSent`, `bytesReceived` past 2^31)
 * every connection's counters carried a 16-byte box for each (test/unit/connection-counters-boxing.test.ts).
 */
export class ConnectionCounters {
  packetsSent: number;
  packetsReceived: number;
  packetsRetransmitted: number;
  packetsLost: number;
  bytesSent: number;
  bytesReceived: number;
  duplicatePackets: number;
  messagesSent: number;
  messagesReceived: number;
  datagramsSent: number;
  repairsSent: number;
  spuriousRetransmissions: number;

  /** All 0. */
  constructor() {
    this.packetsSent = 0;
    this.packetsReceived = 0;
    this.packetsRetransmitted = 0;
    this.packetsLost = 0;
    this.bytesSent = 0;
    this.bytesReceived = 0;
    this.duplicatePackets = 0;
    this.messagesSent = 0;
    this.messagesReceived = 0;
    this.datagramsSent = 0;
    this.repairsSent = 0;
    this.spuriousRetransmissions = 0;
  }
}

/** A new connection's counters, all 0. */
export function newCounters(): ConnectionCounters {
  return new ConnectionCounters();
}

/** The modules whose state the stats report beside the counters. */
export interface StatsSources {
  readonly reassembly: { readonly datagramsDropped: number };
  readonly sendQueue: { readonly datagramsDiscarded: number };
  readonly repairReceiver: { readonly recovered: number };
  readonly recovery: { readonly packetThreshold: number; readonly reorderDelayMs: number; readonly bytesInFlight: number };
  readonly rtt: Pick<RttEstimator, 'srtt' | 'rttvar' | 'minRtt'>;
  /** The congestion window, bytes: the controller's answer now, or its last once the connection ended. */
  readonly window: number;
  /** The controller's `name`. */
  readonly controller: string;
  readonly pmtu: { stats(): PathMtuStats };
  /** The packet keys (`undefined`: plaintext, or before the handshake). */
  readonly protection: { counters(): { readonly keyUpdates: number } } | undefined;
}

/** The stats of a connection with `counters`, its modules read now. */
export function connectionStats(counters: Readonly<ConnectionCounters>, s: StatsSources): ConnectionStats {
  return {
    ...counters,
    datagramsDropped: s.reassembly.datagramsDropped,
    datagramsDiscarded: s.sendQueue.datagramsDiscarded,
    messagesRecovered: s.repairReceiver.recovered,
    packetThreshold: s.recovery.packetThreshold,
    reorderWindowMs: s.recovery.reorderDelayMs,
    srttMs: s.rtt.srtt,
    rttVarMs: s.rtt.rttvar,
    minRttMs: Number.isFinite(s.rtt.minRtt) ? s.rtt.minRtt : 0,
    cwndBytes: s.window,
    bytesInFlight: s.recovery.bytesInFlight,
    congestionController: s.controller,
    keyUpdates: s.protection?.counters().keyUpdates ?? 0,
    ...s.pmtu.stats(),
  };
}
