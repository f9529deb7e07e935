/**
 * Server-routable connection ids in the QUIC-LB layout
 * (draft-ietf-quic-load-balancers, plaintext/unencrypted mode), fitted to
 * rudp's 32-bit connection ids. A load balancer that knows the
 * configuration reads the server id from the destination CID (datagram bytes
 * 1–4, big-endian) and routes every packet of a connection to its server,
 * whatever address the packet comes from, so a connection survives NAT
 * rebinding; hashing the client address does not.
 *
 * ```
 *  bit 31    29 28      24 23                 ...                  0
 *  +----------+-----------+-------------------+---------------------+
 *  |  CR (3)  |  LEN (5)  | server id (8·S)   | nonce (8·(3 − S))   |
 *  +----------+-----------+-------------------+---------------------+
 *   first octet            S = serverIdBytes, 1 or 2
 * ```
 *
 * - CR, config rotation: 0–6 name a configuration (so two can coexist while
 *   one is replaced); 7 (0b111) marks a CID as unroutable.
 * - LEN: with `selfEncodeLength`, the CID length minus one (3, as the draft
 *   writes it); otherwise random bits.
 * - server id: opaque, S octets (so 255 or 65,535 servers; 0 is allowed).
 * - nonce: random. The draft asks for at least 4 octets; a 32-bit CID leaves
 *   2 (S = 1) or 1 (S = 2), so a server has at most 65,535 (or 255) ids to
 *   give out at once, and the endpoint must skip ids already in use, as it
 *   does for random ids. Nothing is encrypted: an observer sees the server id.
 *
 * Pure: no I/O, no clock; randomness is passed in.
 */

/** Octets in a rudp connection id. */
export const QUIC_LB_CID_BYTES = 4;
/** The config rotation value that marks a CID as not routable by the load balancer. */
export const UNROUTABLE_CONFIG_ROTATION = 0b111;

/** One QUIC-LB configuration, shared by the load balancer and every server. */
export interface QuicLbConfig {
  /** Config rotation codepoint, 0–6. */
  readonly configRotation: number;
  /** Octets of server id: 1 (nonce 2 octets) or 2 (nonce 1 octet). */
  readonly serverIdBytes: 1 | 2;
  /** Put the CID length minus one in the first octet's low 5 bits (else they are random). */
  readonly selfEncodeLength: boolean;
}

/** The parts of a decoded CID. */
export interface QuicLbCid {
  readonly configRotation: number;
  readonly serverId: number;
  readonly nonce: number;
  /** The first octet's low 5 bits (the length self-description, or random). */
  readonly lengthBits: number;
}

/** Why a CID cannot be routed by this configuration. */
export type QuicLbDecodeError =
  | { readonly kind: 'unroutable' }
  | { readonly kind: 'otherConfig'; readonly configRotation: number }
  | { readonly kind: 'badLength'; readonly lengthBits: number };

/** A value or why there is none (rudp has no fp-ts). */
export type QuicLbResult<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly error: QuicLbDecodeError };

/** Nonce octets left by `config` in a 32-bit CID. */
export const nonceBytes = (config: QuicLbConfig): number => QUIC_LB_CID_BYTES - 1 - config.serverIdBytes;

/** Throws a `RangeError` (code `ERR_OUT_OF_RANGE`) unless `config` is usable. */
export const validateQuicLbConfig = (config: QuicLbConfig): void => {
  if (!Number.isInteger(config.configRotation) || config.configRotation < 0 || config.configRotation >= UNROUTABLE_CONFIG_ROTATION) {
    throw outOfRange(`configRotation must be an integer from 0 to 6, got ${config.configRotation}`);
  }
  if (config.serverIdBytes !== 1 && config.serverIdBytes !== 2) throw outOfRange(`serverIdBytes must be 1 or 2, got ${String(config.serverIdBytes)}`);
};

const outOfRange = (message: string): RangeError => Object.assign(new RangeError(message), { code: 'ERR_OUT_OF_RANGE' });

const checkField = (name: string, value: number, octets: number): void => {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** (8 * octets)) throw outOfRange(`${name} must be an integer from 0 to ${2 ** (8 * octets) - 1}, got ${value}`);
};

/**
 * The 32-bit CID for `serverId` and `nonce` under `config`. `randomBits`
 * fills the first octet's low 5 bits when the length is not self-encoded.
 * Throws a `RangeError` if a field does not fit.
 */
export const encodeQuicLbCid = (config: QuicLbConfig, serverId: number, nonce: number, randomBits = 0): number => {
  validateQuicLbConfig(config);
  checkField('serverId', serverId, config.serverIdBytes);
  checkField('nonce', nonce, nonceBytes(config));
  const low = config.selfEncodeLength ? QUIC_LB_CID_BYTES - 1 : randomBits & 0x1f;
  const first = (config.configRotation << 5) | low;
  const nonceBits = 8 * nonceBytes(config);
  return ((first << 24) | (serverId << nonceBits) | nonce) >>> 0;
};

/** Splits a 32-bit CID into its parts under `config`, or says why it is not routable by it. */
export const decodeQuicLbCid = (config: QuicLbConfig, cid: number): QuicLbResult<QuicLbCid> => {
  const v = cid >>> 0;
  const first = v >>> 24;
  const configRotation = first >>> 5;
  const lengthBits = first & 0x1f;
  if (configRotation === UNROUTABLE_CONFIG_ROTATION) return { ok: false, error: { kind: 'unroutable' } };
  if (configRotation !== config.configRotation) return { ok: false, error: { kind: 'otherConfig', configRotation } };
  if (config.selfEncodeLength && lengthBits !== QUIC_LB_CID_BYTES - 1) return { ok: false, error: { kind: 'badLength', lengthBits } };
  const nonceBits = 8 * nonceBytes(config);
  const serverId = (v >>> nonceBits) & (2 ** (8 * config.serverIdBytes) - 1);
  const nonce = v & (2 ** nonceBits - 1);
  return { ok: true, value: { configRotation, serverId, nonce, lengthBits } };
};

/**
 * A connection id generator for one server: each call draws a random nonce
 * (and random low bits) from `random` (a uniform 32-bit source, like the
 * endpoint's) and never returns 0, which rudp reserves. The endpoint keeps
 * calling it while the id is taken.
 */
export const quicLbCidGenerator = (config: QuicLbConfig, serverId: number): ((random: () => number) => number) => {
  validateQuicLbConfig(config);
  checkField('serverId', serverId, config.serverIdBytes);
  const nonceMask = 2 ** (8 * nonceBytes(config)) - 1;
  return (random) => {
    for (;;) {
      const r = random() >>> 0;
      const cid = encodeQuicLbCid(config, serverId, r & nonceMask, r >>> 27);
      if (cid !== 0) return cid;
    }
  };
};

/**
 * What a CID-aware balancer does with a datagram: the server id in its
 * destination CID (bytes 1–4), or `undefined` when the datagram is too short
 * or its CID is not routable by `config` (a client's first INITIAL carries no
 * server-chosen CID yet: route it by address, as the fallback).
 */
export const serverIdOfDatagram = (config: QuicLbConfig, datagram: Uint8Array): number | undefined => {
  if (datagram.length < 1 + QUIC_LB_CID_BYTES) return undefined;
  const cid = ((datagram[1] ?? 0) * 2 ** 24 + ((datagram[2] ?? 0) << 16) + ((datagram[3] ?? 0) << 8) + (datagram[4] ?? 0)) >>> 0;
  const decoded = decodeQuicLbCid(config, cid);
  return decoded.ok ? decoded.value.serverId : undefined;
};
