/**
 * Stateless reset tokens (RFC 9000 §10.3.2 style): a server derives the
 * token of each connection id it gives out from a secret that outlives the
 * process, so after a crash and restart it can still prove to a client that
 * it no longer knows that connection. The secret comes from the server's
 * static identity key through HKDF under a label of its own: the key itself
 * is never used as an HMAC key, and nothing derived for the handshake can be
 * confused with it. A server whose key is ephemeral gets a fresh secret at
 * each start, so its old clients' tokens never match again: they time out,
 * as before.
 */
import { utf8 } from './bytes.js';
import { HASH_LEN, type CryptoProvider, type KeyPair } from './crypto-provider.js';
import { hkdfExpandLabel, hkdfExtract } from './hkdf.js';
import { RESET_TOKEN_BYTES } from '../wire/stateless-reset.js';

export { RESET_TOKEN_BYTES };

/** The salt of the extraction: no other derivation in rudp uses it. */
const RESET_SALT = utf8('rudp stateless reset salt');

/** The secret a server derives every connection's token from, made once from its identity key. */
export function resetSecret(crypto: CryptoProvider, identity: KeyPair): Uint8Array {
  return hkdfExpandLabel(crypto, hkdfExtract(crypto, RESET_SALT, identity.privateKey), 'stateless reset', new Uint8Array(0), HASH_LEN);
}

/**
 * The token of connection id `cid` for a client at host `host` (its IP address, as the server's socket
 * names it) under `secret`: the first 16 bytes of HMAC(secret, cid as four bytes big-endian, host in
 * UTF-8). The host binds it: a server answers a reset for any id it does not know, to whoever asked, and
 * ids are 32 bits (QUIC-LB ids carry 8 or 16 bits of nonce), so tokens of ids alone could be collected
 * from anywhere, for ids the server would give out later. Bound to the host, a reset goes to the host
 * the token is for: nobody else learns it. The port is left out, so a NAT rebinding keeps the token; a
 * client behind the same NAT address as another is held to its host's budget of resets instead
 * (core/endpoint/reset-budget.ts).
 */
export function resetToken(crypto: CryptoProvider, secret: Uint8Array, cid: number, host: string): Uint8Array {
  const id = Uint8Array.of(cid >>> 24, (cid >>> 16) & 0xff, (cid >>> 8) & 0xff, cid & 0xff);
  return crypto.hmacSha256(secret, id, utf8(host)).slice(0, RESET_TOKEN_BYTES);
}
