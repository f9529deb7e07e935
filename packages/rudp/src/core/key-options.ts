/**
 * The checks of the options that carry keys and crypto (`crypto`,
 * `identity`, `serverKey`, `connectionIds`), shared by the core endpoint and
 * the Node API: the Node API runs them before it binds a socket, so a bad
 * value fails at the call and leaves nothing open.
 */
import { DH_LEN, type CryptoProvider, type KeyPair } from '../crypto/crypto-provider.js';

/** An X25519 key: `DH_LEN` raw bytes. */
const isKey = (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.length === DH_LEN;

/** Throws a `TypeError` unless `crypto` is a `CryptoProvider` or `undefined`. */
export function checkCryptoProvider(crypto: unknown): asserts crypto is CryptoProvider | undefined {
  if (crypto === undefined) return;
  const c = crypto as Partial<Record<keyof CryptoProvider, unknown>> | null;
  if (
    typeof c !== 'object' || c === null || typeof c.seal !== 'function' || typeof c.aeadKey !== 'function' || typeof c.generateKeyPair !== 'function' ||
    (c.packetAead !== undefined && typeof c.packetAead !== 'function')
  ) {
    throw new TypeError(`rudp: option 'crypto' must be a CryptoProvider (an object with seal(), aeadKey(), generateKeyPair(), …; packetAead, if given, a function)`);
  }
}

/** Throws a `TypeError` unless `identity` is a key pair of two 32-byte Uint8Arrays; it makes no sense with `plaintext`. */
export function checkIdentity(identity: unknown, plaintext: boolean): asserts identity is KeyPair | undefined {
  if (identity === undefined) return;
  if (plaintext) throw new TypeError(`rudp: option 'identity' makes no sense with 'plaintext: true'`);
  const pair = identity as Partial<Record<keyof KeyPair, unknown>> | null;
  if (typeof pair !== 'object' || pair === null || !isKey(pair.publicKey) || !isKey(pair.privateKey)) {
    throw new TypeError(`rudp: option 'identity' must be a key pair of two 32-byte Uint8Arrays`);
  }
}

/** Throws a `TypeError` unless `serverKey` is a 32-byte Uint8Array; it needs encryption. */
export function checkServerKey(serverKey: unknown, plaintext: boolean): asserts serverKey is Uint8Array | undefined {
  if (serverKey === undefined) return;
  if (!isKey(serverKey)) throw new TypeError(`rudp: option 'serverKey' must be a 32-byte Uint8Array`);
  if (plaintext) throw new TypeError(`rudp: option 'serverKey' needs encryption (this endpoint is plaintext)`);
}

/** Throws a `TypeError` unless `connectionIds` is a function. */
export function checkConnectionIds(connectionIds: unknown): asserts connectionIds is ((random: () => number) => number) | undefined {
  if (connectionIds !== undefined && typeof connectionIds !== 'function') throw new TypeError(`rudp: option 'connectionIds' must be a function (random) => number`);
}
