import type { Summary } from '../stats/summary.js';

/** The systems of the real-UDP loopback throughput runs. */
export const UDP_PEERS = ['raw dgram', 'rudp', 'rudp stream()', 'rudp node:dgram', 'rudp libsodium', 'rudp node:crypto', 'rudp plain', 'udx-native', 'TCP'] as const;
/** One of `UDP_PEERS`. */
export type UdpPeer = (typeof UDP_PEERS)[number];

/** One peer's figures for one message size: medians over the rounds. */
export interface UdpPeerRate {
  readonly peer: UdpPeer;
  readonly messagesPerSec: number;
  /** Datagrams the sender put on the wire per second (`NaN` where not countable: TCP). */
  readonly datagramsPerSec: number;
  readonly megabytesPerSec: number;
  /** Process CPU (user + system; sender and receiver are both in this process) per GB of payload delivered, s. */
  readonly cpuSecondsPerGB: number;
  /** Median over the rounds of this peer's bytes/s ÷ udx-native's in the same round. */
  readonly ratioToUdx: number;
  /** Each round's bytes/s ÷ rudp plaintext's in the same round (run back to back with it for rudp itself). */
  readonly ratiosToPlain: readonly number[];
}

/** One message size, every peer. */
export interface UdpThroughput {
  readonly messageBytes: number;
  readonly peers: readonly UdpPeerRate[];
}

/** Systems driven through the relay: rudp through its Node API, KCP through the bench's socket driver, udx-native streams. */
export type RelaySystem = 'rudp' | 'kcp-flush' | 'kcp-fast' | 'udx-native';

/** Chat through the impairing relay on loopback, one seed. */
export interface UdpChatResult {
  readonly system: RelaySystem;
  readonly variantId: string;
  readonly seed: number;
  readonly latency: Summary;
  readonly wirePerPayload: number;
  readonly clean: boolean;
  readonly completed: boolean;
}

/** A one-way transfer through the impairing relay, one seed. */
export interface UdpBulkResult {
  readonly system: RelaySystem;
  readonly variantId: string;
  /** Whether the relay reordered (per-datagram jitter and held datagrams). */
  readonly reorder: boolean;
  readonly loss: number;
  readonly seed: number;
  readonly totalBytes: number;
  /** First send → last delivery, ms (`NaN` if incomplete). */
  readonly completionMs: number;
  readonly goodputBps: number;
  /** The sender's resent packets ÷ packets sent during the transfer (`NaN` when not countable: KCP). */
  readonly resentShare: number;
  /** Resends the sender itself found needless (the original arrived) ÷ packets sent (`NaN` when not counted: KCP, udx-native). */
  readonly spuriousShare: number;
  /** Datagrams lost during the transfer, by where. */
  readonly drops: UdpDrops;
  /** CPU seconds both ends used during the transfer (the relay runs in a process of its own). */
  readonly cpuSeconds: number;
  /** CPU seconds the relay process used during the transfer. */
  readonly relayCpuSeconds: number;
  /** How late the relay forwarded datagrams against the link model's times (mean over the run, largest), ms. */
  readonly relayLateness: { readonly meanMs: number; readonly maxMs: number };
  readonly clean: boolean;
  readonly completed: boolean;
}

/** Datagrams lost in one relay run, both directions, by where they were lost. */
export interface UdpDrops {
  /** The modelled link's random (or burst) loss. */
  readonly link: number;
  /** The modelled bottleneck's drop-tail queue. */
  readonly queue: number;
  /** The kernel, at the relay's sockets (full receive buffer): not the modelled link's; should be 0. */
  readonly relayKernel: number;
  /** The kernel, at the two ends' sockets: should be 0. */
  readonly endsKernel: number;
}

/** What the real-UDP part measured. */
export interface UdpReport {
  readonly throughput: readonly UdpThroughput[];
  readonly chat: readonly UdpChatResult[];
  readonly bulk: readonly UdpBulkResult[];
  /** The discarded bulk runs before the measured ones, in the order they ran (each system's first relay run first): the cold cost. */
  readonly bulkWarmUp: readonly UdpBulkResult[];
  /** Why a peer was left out (e.g. udx-native not installed). */
  readonly notes: readonly string[];
}
