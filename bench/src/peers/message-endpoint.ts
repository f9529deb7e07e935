import type { PeerAddress, SansIoEndpoint } from '../lib/rudp-imports.js';

/** What the benchmark needs from one connection, whatever the transport. */
export interface MessageConnection {
  /** Queues one whole message for reliable, ordered delivery. */
  send(data: Uint8Array): void;
  /** The peer this connection talks to. */
  readonly remote: PeerAddress;
  /** Packet counters, when the transport exposes them (rudp does; node-kcp does not). */
  counters?(): TransportCounters;
}

/** Sender-side packet counters of one connection. */
export interface TransportCounters {
  readonly packetsSent: number;
  /** Packets sent again because they were declared lost. */
  readonly packetsRetransmitted: number;
  /** Retransmissions later found needless (the original arrived), when the transport counts them. */
  readonly spuriousRetransmissions: number | undefined;
}

/** An application event polled from a `MessageEndpoint`. */
export type MessageEvent =
  | { readonly type: 'connected' | 'incoming'; readonly connection: MessageConnection }
  | { readonly type: 'closed'; readonly connection: MessageConnection; readonly reason: string }
  | { readonly type: 'message'; readonly connection: MessageConnection; readonly data: Uint8Array };

/**
 * A sans-IO endpoint with a message API: the shape rudp's `Endpoint` has,
 * and the one the KCP adapter copies, so every scenario drives both alike.
 */
export interface MessageEndpoint extends SansIoEndpoint {
  /** Opens a connection to `to`; the handle is usable at once (sends queue until the handshake ends). */
  connect(now: number, to: PeerAddress): MessageConnection;
  /** The next application event, or `undefined`. */
  pollEvent(): MessageEvent | undefined;
}
