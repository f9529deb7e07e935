/**
 * What an endpoint tells its application, polled with `Endpoint.pollEvent`.
 */
import type { Connection } from './connection.js';
import type { PeerAddress } from './sans-io.js';

/** Why a connection ended. */
export type CloseKind =
  /** The application closed it (gracefully or not). */
  | 'local'
  /** The peer closed it. */
  | 'peer'
  /** Nothing arrived for the idle timeout. */
  | 'timeout'
  /** The handshake got no answer in time. */
  | 'unreachable'
  /**
   * The handshake failed: the server proved another key than the pinned one, or refused the client at a connection limit or because one of them has `plaintext: true` and the other not,
   * or (code `PROTOCOL_VIOLATION`) its authenticated ACCEPT announced an invalid receive window.
   */
  | 'refused'
  /**
   * Client: the server no longer knows the connection (a stateless reset: it was restarted, or lost the
   * connection), so it ended at once; an encrypted connection only, once its handshake completed.
   */
  | 'reset'
  /** The endpoint shut down. */
  | 'shutdown';

/** The reason a connection ended, with a message fit for a log line. */
export interface CloseReason {
  readonly kind: CloseKind;
  /** Application close code (0 for a graceful close). */
  readonly code: number;
  readonly message: string;
  /**
   * A handshake that timed out (`unreachable`) with something heard: what (a RETRY but no ACCEPT for its
   * cookie, ACCEPTs that failed to authenticate, a plaintext ACCEPT dropped for its window). Also at the end
   * of `message`; here so that an application can show it without parsing the message. Absent otherwise.
   */
  readonly note?: string;
  /**
   * Kind `local` only: a plug-in the application supplied (its `congestion` controller or `crypto`
   * provider) threw while the connection worked, and the connection ended for it: a `PluginFault` naming
   * which and where, whose own `cause` is what was thrown. `message` is the fault's, which the peer is told
   * (without what was thrown). Absent otherwise.
   */
  readonly cause?: Error;
}

/** An event for the application. */
export type EndpointEvent =
  /** Client side: the handshake finished. */
  | { readonly type: 'connected'; readonly connection: Connection }
  /** Server side: a peer proved its address and a connection was made for it. */
  | { readonly type: 'incoming'; readonly connection: Connection }
  /** A whole message, in order within its channel (unless sent unordered or unreliable). */
  | { readonly type: 'message'; readonly connection: Connection; readonly data: Uint8Array; readonly channel: number }
  /**
   * The peer acknowledged every byte of the `count` messages from
   * `messageId` on (ids `messageId` … `messageId + count − 1`): one event per
   * run of consecutive ids an ACK completes, not one per message.
   */
  | { readonly type: 'acked'; readonly connection: Connection; readonly messageId: number; readonly count: number }
  /**
   * Server side: the client's packets now come from another address (another
   * port of its host: a NAT rebinding; or another host: an IP address
   * change), which proved itself; `connection.remote` is the new address,
   * `previous` the one it left.
   */
  | { readonly type: 'migrated'; readonly connection: Connection; readonly previous: PeerAddress }
  /**
   * The connection ended; unacknowledged messages will never be acknowledged. `unsentFrom` is the id of the
   * first reliable message none of whose bytes was ever sent: it and every later one never left (messages
   * start to leave in id order, and the close dropped them), so none can have reached the peer, and each may
   * be sent again on another connection without being delivered twice. A message below it that is not
   * acknowledged was sent, whole or in part (some of its fragments), and may or may not have arrived. When
   * every message had begun to leave, it is the id the next `send` would have had.
   */
  | { readonly type: 'closed'; readonly connection: Connection; readonly reason: CloseReason; readonly unsentFrom: number };
