/**
 * What a connection needs from its endpoint (`Endpoint` is the one host):
 * events out, the endpoint's lists of connections to poll and to read, the
 * endpoint's injected randomness, and word of a client's move to a new port
 * (the endpoint keys state by address).
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
  /** Server: the client was validated at its new port: `connection.remote` is it now, `previous` the address it left. */
  migrated(connection: Connection, previous: PeerAddress): void;
  /** Server: a validation of a client's new port started, or was given up (timed out, replaced, or the client was heard at its address again). */
  pathValidation(outcome: 'started' | 'abandoned'): void;
}
