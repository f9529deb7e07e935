/**
 * What `Endpoint.stats()` reports: datagrams and bytes each way, handshakes,
 * clients followed to a new address, and every datagram dropped, counted by why.
 */

/** Why datagrams were dropped, with counts. */
export interface DropCounts {
  short: number;
  checksum: number;
  version: number;
  type: number;
  malformed: number;
  unknownConnection: number;
  addressMismatch: number;
  /** INITIALs whose cookie is forged, expired, bound to another address, or already spent on a connection. */
  badToken: number;
  unexpected: number;
  /** Protected packets that did not authenticate (forged, altered) and handshakes that failed. */
  auth: number;
  /** Protected packets already received (replays, network duplicates) or too old to tell, and an INITIAL repeated after the handshake was confirmed. */
  replay: number;
  /** Packets in clear where encryption is required (or a plaintext hello to an encrypting server, which is refused). */
  unprotected: number;
  /** INITIALs refused at `maxConnections` (or with no free connection id). */
  full: number;
  /** INITIALs refused at `maxConnectionsPerHost` (of the host, or of its /56 or /48). */
  hostFull: number;
  /** INITIALs refused at `handshakesPerHostPerSecond` (of the host, or of its /56 or /48): no handshake was started. */
  hostRate: number;
  statelessQueueFull: number;
  /**
   * Datagrams the endpoint handled itself (an INITIAL to answer, a stateless reset to check or send) while
   * the application's `crypto` provider threw: no connection is made or ended for them (see `PluginFault`).
   */
  pluginFault: number;
}

/** The endpoint's receive budget (`maxReceiveBufferBytes`) and what its connections have granted of it. */
export interface ReceiveBufferStats {
  /** The budget, bytes. */
  readonly budget: number;
  /** Credit the connections have granted their peers, bytes, each counted at least its 4 KiB floor, and their unread datagrams: what the peers may make the endpoint hold. */
  readonly granted: number;
  /** Connections granting less than their window because the budget is short (they get credit as it returns). */
  readonly waiting: number;
}

/** Endpoint-wide counters. */
export interface EndpointStats {
  readonly datagramsReceived: number;
  readonly bytesReceived: number;
  readonly datagramsSent: number;
  readonly bytesSent: number;
  readonly retriesSent: number;
  readonly connectionsAccepted: number;
  /**
   * Validations of a client's new address (NAT rebinding, or another IP address) started: an authenticated
   * packet, the newest yet, came from another address than the connection's.
   */
  readonly pathValidations: number;
  /** Validations given up: no PATH_RESPONSE from the new address in time, a newer candidate, or the client heard at its address again. */
  readonly pathValidationsAbandoned: number;
  /**
   * Authenticated packets, the newest yet, from another host already at its connection limit
   * (`maxConnectionsPerHost`, or its IPv6 /56 or /48): handled, but no validation started (or completed).
   */
  readonly pathValidationsRefused: number;
  /** Connections moved to their client's new address once it proved itself (a `migrated` event each). */
  readonly migrations: number;
  /** Of `migrations`, those to another host (an IP address change), each a new path (RFC 9000 §9.4). */
  readonly hostMigrations: number;
  /** Server: stateless resets sent, for protected packets of connections it does not know (counted `unknownConnection` too). */
  readonly statelessResetsSent: number;
  /** Client: stateless resets received for a connection of its (each ended it, unless it was already ending). */
  readonly statelessResetsReceived: number;
  /** Server: resets not sent, past `STATELESS_RESETS_PER_SECOND` (a spoofed flood; its clients time out instead). */
  readonly statelessResetsLimited: number;
  /** Server: resets not sent, past their host's `RESETS_PER_HOST_PER_MINUTE` (a client collecting its neighbours' tokens), or to a new host past `MAX_RESET_BUDGET_HOSTS` in a minute. */
  readonly statelessResetsHostLimited: number;
  readonly connections: number;
  /** The receive budget and its use. */
  readonly receiveBuffer: ReceiveBufferStats;
  readonly dropped: Readonly<DropCounts>;
  /** Sum of `dropped`. */
  readonly droppedTotal: number;
}

/** A new endpoint's drop counts, all 0. */
export function newDropCounts(): DropCounts {
  return {
    short: 0,
    checksum: 0,
    version: 0,
    type: 0,
    malformed: 0,
    unknownConnection: 0,
    addressMismatch: 0,
    badToken: 0,
    unexpected: 0,
    auth: 0,
    replay: 0,
    unprotected: 0,
    full: 0,
    hostFull: 0,
    hostRate: 0,
    statelessQueueFull: 0,
    pluginFault: 0,
  };
}
