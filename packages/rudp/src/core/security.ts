/**
 * How the core binds the Noise handshake (crypto/secure-handshake.ts) into
 * its own: what each side brings to a connection, the prologue both hash
 * (so a hello cannot be replayed into another connection, and the client's
 * window and first limit, which its INITIAL carries in clear, cannot be
 * rewritten on the path without the handshake failing), and the server's
 * parameters, carried encrypted in its hello so that nobody on the path can
 * change the connection id or window a client learns, nor read the
 * connection's stateless reset token (crypto/reset-token.ts) before a reset
 * spends it.
 */
import { type AeadLimits, CHACHA20_POLY1305_LIMITS, type ClientHandshake, type CryptoProvider, type KeyPair, RESET_TOKEN_BYTES, type SessionKeys, startClientHandshake } from '../crypto/index.js';
import type { ConnectionConfig } from './config.js';
import { PROTOCOL_VERSION, type TransportParams } from '../wire/packet.js';
import { Reader, writeU32, writeVarint } from '../wire/varint.js';

/** What a connection starts with. */
export type ConnectionSecurity =
  /** No encryption: the explicit plaintext mode, for peers that cannot encrypt. */
  | { readonly mode: 'plaintext' }
  /**
   * Client: starts the Noise state (its hello goes in every INITIAL, the state reads the answer) once the
   * connection knows the window and first limit that INITIAL announces, which the prologue binds.
   */
  | { readonly mode: 'client'; readonly begin: (own: TransportParams) => ClientHandshake }
  /** Server: the keys of the accepted handshake and the hello its ACCEPT carries. */
  | { readonly mode: 'server'; readonly keys: SessionKeys; readonly serverHello: Uint8Array };

/** What an endpoint brings to encryption (absent in plaintext mode). */
export interface EndpointSecurity {
  readonly identity: KeyPair;
}

const LABEL = new TextEncoder().encode('rudp handshake');

/**
 * The prologue of a connection's handshake: protocol, version, the client's connection id, and the window
 * and first limit its INITIAL announces in clear. Both sides hash it, so an INITIAL whose figures were
 * rewritten on the path fails the handshake (the server's read of a pinned hello, else the client's read
 * of the answer) instead of holding the server to a window the client never announced. Before protocol
 * version 7 the client repeated them sealed after the handshake; a listening-only client's stayed
 * rewritten until the server's data blocked, and a larger one stayed for good (attack round 22).
 */
export function handshakePrologue(clientCid: number, client: TransportParams): Uint8Array {
  const out = new Uint8Array(LABEL.length + 5 + 16);
  out.set(LABEL);
  out[LABEL.length] = PROTOCOL_VERSION;
  writeU32(out, LABEL.length + 1, clientCid);
  const end = writeVarint(out, writeVarint(out, LABEL.length + 5, client.receiveWindow), client.initialLimit);
  return out.subarray(0, end);
}

/** The usage limits of a connection's packet keys: the suite's, with key updates every `keyUpdateAfterPackets`. */
export function keyLimits(config: Pick<ConnectionConfig, 'keyUpdateAfterPackets'>): AeadLimits {
  const every = config.keyUpdateAfterPackets;
  return every === CHACHA20_POLY1305_LIMITS.updateAfterPackets ? CHACHA20_POLY1305_LIMITS : { ...CHACHA20_POLY1305_LIMITS, updateAfterPackets: every };
}

/**
 * A client connection's security: its Noise state, begun under the prologue of `clientCid` and the figures
 * its INITIAL announces; pinned to `serverKey` if given; its keys updated as `config` says.
 */
export function clientSecurity(crypto: CryptoProvider, clientCid: number, serverKey: Uint8Array | undefined, config: Pick<ConnectionConfig, 'keyUpdateAfterPackets'>): ConnectionSecurity {
  const protection = { limits: keyLimits(config) };
  return {
    mode: 'client',
    begin: (own) => startClientHandshake(crypto, { prologue: handshakePrologue(clientCid, own), protection, ...(serverKey !== undefined ? { serverKey } : {}) }),
  };
}

/** The parameters a server sends inside its hello. */
export interface ServerParams {
  readonly scid: number;
  readonly receiveWindow: number;
  /** The limit the server grants at first (at most `receiveWindow`). */
  readonly initialLimit: number;
  /** The stateless reset token of `scid` (16 bytes): a datagram from the server that ends with it ends the connection. */
  readonly resetToken: Uint8Array;
}

/** Encodes `p` for the server hello's payload. */
export function encodeServerParams(p: ServerParams): Uint8Array {
  const buf = new Uint8Array(4 + 8 + 8 + RESET_TOKEN_BYTES);
  writeU32(buf, 0, p.scid);
  const end = writeVarint(buf, writeVarint(buf, 4, p.receiveWindow), p.initialLimit);
  buf.set(p.resetToken, end);
  return buf.subarray(0, end + RESET_TOKEN_BYTES);
}

/** Decodes a server hello's payload; `undefined` if malformed. */
export function decodeServerParams(bytes: Uint8Array): ServerParams | undefined {
  const r = new Reader(bytes, 0, bytes.length);
  const scid = r.u32();
  const receiveWindow = r.varint();
  const initialLimit = r.varint();
  const resetToken = r.ok && r.remaining() === RESET_TOKEN_BYTES ? r.bytes(RESET_TOKEN_BYTES) : undefined;
  return r.ok && resetToken !== undefined && r.remaining() === 0 ? { scid, receiveWindow, initialLimit, resetToken: resetToken.slice() } : undefined;
}
