/**
 * What `Endpoint.stats()` reports: datagrams and bytes each way, handshakes,
 * and every datagram dropped, counted by why.
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
  statelessQueueFull: number;
}

/** Endpoint-wide counters. */
export interface EndpointStats {
  readonly datagramsReceived: number;
  readonly bytesReceived: number;
  readonly datagramsSent: number;
  readonly bytesSent: number;
  readonly retriesSent: number;
  readonly connectionsAccepted: number;
  readonly connections: number;
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
    statelessQueueFull: 0,
  };
}
