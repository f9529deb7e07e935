/**
 * What a connection needs from its endpoint (`Endpoint` is the one host):
 * events out, the endpoint's lists of connections to poll and to read, the
 * endpoint's injected randomness, and word of a client's move to a new
 * address (the endpoint keys state by address, and counts connections per
 * host).
 */
import type { Connection } from '../connection.js';
import type { EndpointEvent } from '../events.js';
import type { ReceivePool } from '../receive/receive-pool.js';
import type { PeerAddress } from '../sans-io.js';

/** What a connection needs from its endpoint. */
export interface ConnectionHost {
  /** Hands an event (connected, message, closed…) to the endpoint's queue for the application. */
  emit(event: EndpointEvent): void;
  /** The connection has a whole message for the application. */
  readable(connection: Connection): void;
  /** The application changed the connection (sent, read, closed): poll it. */
  wake(connection: Connection): void;
  /** How a message kept apart from its datagram is copied (see `EndpointConfig.copyMessage`); default `slice()`. */
  readonly copyMessage?: ((bytes: Uint8Array) => Uint8Array) | undefined;
  /** The endpoint's budget of receive credit, shared by its connections (none: each is bounded by its window alone). */
  readonly receivePool?: ReceivePool | undefined;
  /** A uniform 32-bit unsigned integer from the endpoint's injected randomness (which packet numbers are skipped). */
  drawRandom(): number;
  /** Server: the client was validated at its new address: `connection.remote` is it now, `previous` the address it left. */
  migrated(connection: Connection, previous: PeerAddress): void;
  /** Server: whether the host of `to` has room under the per-host limits for `connection` moving there from its own. */
  hostRoom(connection: Connection, to: PeerAddress): boolean;
  /**
   * Server: a validation of a client's new address started, was given up (timed out, replaced, or the client
   * was heard at its address again), or was refused (its host is at its connection limit).
   */
  pathValidation(outcome: 'started' | 'abandoned' | 'refused'): void;
}
