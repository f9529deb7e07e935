/**
 * What an `Endpoint` is configured with: its own options beside the
 * connection's (`ConnectionConfig`, which may be given here too as the
 * default of every connection), and a client's per-connection overrides.
 */
import { type ConnectionConfig, checkNumber } from '../config.js';
import type { CryptoProvider, KeyPair } from '../../crypto/index.js';
import type { RandomSource } from '../sans-io.js';

/** Endpoint settings; connection settings may be given here too. */
export interface EndpointConfig extends Partial<ConnectionConfig> {
  /** Randomness for connection ids, the cookie key, skipped packet numbers and PATH_CHALLENGE data (unpredictable outside tests). */
  readonly random: RandomSource;
  /** Accept incoming connections (a server). Default false. */
  readonly acceptIncoming?: boolean;
  /** Most live connections; at the limit a newcomer first ends the oldest drain (a closed connection still draining), and with none draining it is refused (a `Busy` ACCEPT: its connect fails as refused). Default 100,000. */
  readonly maxConnections?: number;
  /**
   * Most live connections from one client host (an IPv4 address, or an IPv6
   * /64: see `hostKey`), so one machine cannot take the whole
   * `maxConnections`; a client beyond is refused the same way. Default 1,024.
   * A global IPv6 client also counts against its /56, which may hold 4 times
   * this, and its /48, 16 times (`hostLevels`, `IPV6_PREFIX_MULTIPLE`): one
   * customer's delegation is not 256 or 65,536 hosts. A client of a full /56
   * or /48 is refused as at a full host (`hostFull`).
   */
  readonly maxConnectionsPerHost?: number;
  /**
   * Most handshakes a second one client host may make the server start,
   * sustained (a token bucket per host; an IPv6 client's /56 and /48 have
   * their own at 4 and 16 times, as `maxConnectionsPerHost` counts them).
   * Charged only for an INITIAL with a valid cookie that would otherwise
   * open a connection, before any key exchange; past it the client is
   * refused with a `Busy` ACCEPT (`hostRate`). 0: no limit. Default 64.
   */
  readonly handshakesPerHostPerSecond?: number;
  /**
   * Handshakes one client host may start at once before
   * `handshakesPerHostPerSecond` holds it back (4 and 16 times for a /56 and
   * /48). Default `maxConnectionsPerHost`, and at least 256: a host may
   * reopen every place it may hold at once, and 128 users behind one NAT
   * may all reconnect at once and retry once.
   */
  readonly handshakeBurstPerHost?: number;
  /**
   * Most bytes all connections together may let their peers make this endpoint hold: the sum of the
   * credit each grants (its receive window while this has room, less when it has not: new windows start
   * smaller, raises wait until the application reads). Each connection still grants 4 KiB
   * (`RECEIVE_FLOOR`, counted here too), so none starves. Default 1 GiB (`DEFAULT_MAX_RECEIVE_BUFFER_BYTES`);
   * 2^50 is no budget in practice.
   */
  readonly maxReceiveBufferBytes?: number;
  /** Most stateless replies (RETRY, a refusing ACCEPT) waiting to be sent; beyond, they are dropped. Default 1,024. */
  readonly maxStatelessQueue?: number;
  /** How long a handshake cookie stays valid, ms. Default 30,000. */
  readonly cookieLifetimeMs?: number;
  /**
   * The primitives of the handshake and packet protection (the Node API
   * passes one built on Node's crypto module; the simulator a seeded one). Required unless
   * `plaintext`.
   */
  readonly crypto?: CryptoProvider;
  /** Server: its static key pair, proven to every client. Default: a fresh one (see `publicKey`). */
  readonly identity?: KeyPair;
  /**
   * No encryption, no authentication: every packet in clear with a checksum.
   * Only for peers that cannot encrypt and for side-by-side benchmarks; both
   * ends must agree. Default false.
   */
  readonly plaintext?: boolean;
  /**
   * Server: chooses each local connection id from the random source (e.g.
   * `quicLbCidGenerator`, so a connection-id-aware load balancer can route
   * by the server id inside it). Default: a random 32-bit id.
   */
  readonly connectionIds?: (random: RandomSource) => number;
  /**
   * How a received message is copied when it is not handed over as a view
   * of its datagram (a small message among others, which must not pin the
   * datagram). Default `bytes.slice()`. A driver that hands messages on as
   * a type of its own copies straight into it: the Node adapter into a
   * Buffer from Node's pool, one copy instead of two.
   */
  readonly copyMessage?: (bytes: Uint8Array) => Uint8Array;
}

/** Per-connection options of `Endpoint.connect` beyond `ConnectionConfig`. */
export interface ConnectOverrides extends Partial<ConnectionConfig> {
  /** The server's public key (32 bytes) to pin: any other refuses the connection. Without it the client learns the key (`Connection.peerKey`) and decides. */
  readonly serverKey?: Uint8Array;
}

/** Option names an `EndpointConfig` adds to the connection's. */
export const ENDPOINT_KEYS: readonly string[] = ['random', 'acceptIncoming', 'maxConnections', 'maxConnectionsPerHost', 'handshakesPerHostPerSecond', 'handshakeBurstPerHost', 'maxStatelessQueue', 'cookieLifetimeMs', 'crypto', 'identity', 'plaintext', 'connectionIds', 'copyMessage', 'maxReceiveBufferBytes'];

/** Throws as the `maxReceiveBufferBytes` option would for `value`: an integer from 0 (every connection at its floor) to 2^50. */
export function checkMaxReceiveBufferBytes(value: unknown): void {
  checkNumber('maxReceiveBufferBytes', value, { min: 0, max: 2 ** 50, integer: true });
}

/** Default of `handshakesPerHostPerSecond`. */
export const DEFAULT_HANDSHAKES_PER_HOST_PER_SECOND = 64;

/** The least default of `handshakeBurstPerHost` (else `maxConnectionsPerHost`). */
export const MIN_DEFAULT_HANDSHAKE_BURST = 256;

/** Throws as the `handshakesPerHostPerSecond` and `handshakeBurstPerHost` options would for out-of-range values. */
export function checkHandshakeRate(perSecond: unknown, burst: unknown): void {
  if (perSecond !== undefined) checkNumber('handshakesPerHostPerSecond', perSecond, { min: 0, max: 2 ** 31 });
  if (burst !== undefined) checkNumber('handshakeBurstPerHost', burst, { min: 1, max: 2 ** 31, integer: true });
}

/** `o` without its `undefined` fields: an option given as `undefined` keeps its default when merged. */
export function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
