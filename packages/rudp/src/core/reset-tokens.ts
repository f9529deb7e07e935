/**
 * A client endpoint's stateless reset tokens (endpoint/stateless-reset.ts),
 * kept where an idle connection pays least for them: each token as a
 * 16-character one-byte string on its connection (some 32 bytes of heap,
 * where a `Uint8Array` of 16 costs a view, a buffer and the bytes, some
 * 150), and the index of them built only once an endpoint holds two (a
 * client endpoint of one connection, the common case, keeps that one
 * alone). Measured: the many scenario's heap per connection side went from
 * 3,980 B to 4,129 B with a `Uint8Array` each and a map per endpoint, past
 * its 4 KiB target.
 *
 * The index is keyed by a keyed hash of the whole token (HalfSipHash-2-4
 * under a random 64-bit key of the endpoint's, drawn when the index is
 * made), not by the token's own first bytes: a lookup that finds a list
 * takes longer than one that does not, and keyed by the token's bytes that
 * told whoever timed it when four of them were right (RFC 9000 §10.3.1:
 * a token's comparison must leak nothing). Under a key nobody knows, it
 * tells nothing of the token. The hash runs for every datagram no
 * connection takes, from any address, so it must cost no more than the
 * rest of such a datagram's path: an HMAC-SHA256 through the crypto
 * provider took some 8 µs, a hundred times that path (measured: a client
 * of three connections dropped a 40-byte junk datagram in 0.1 µs keyed by
 * the token's bytes, 8 µs by the HMAC, 0.15 µs by HalfSipHash).
 */
import type { Connection } from './connection.js';
import type { PeerAddress } from './sans-io.js';
import type { CryptoProvider } from '../crypto/crypto-provider.js';
import { MIN_RESET_BYTES, RESET_TOKEN_BYTES } from '../wire/stateless-reset.js';
import { readU32 } from '../wire/varint.js';
import { halfSipHash24 } from './half-siphash.js';

/** Bytes of the index's key: HalfSipHash's 64 bits. */
const INDEX_KEY_BYTES = 8;

/** `token` (16 bytes) as the one-byte string a connection keeps. */
export function tokenText(token: Uint8Array): string {
  return String.fromCharCode(...token);
}

/** A `tokenText` as its 16 bytes. */
function tokenBytes(token: string): Uint8Array {
  return Uint8Array.from(token, (c) => c.charCodeAt(0));
}

/** Whether the last 16 bytes of `data` are `token` (a `tokenText`); the time taken does not depend on where they differ. */
export function endsWithToken(data: Uint8Array, token: string): boolean {
  const at = data.length - RESET_TOKEN_BYTES;
  if (at < 0 || token.length !== RESET_TOKEN_BYTES) return false;
  let diff = 0;
  for (let i = 0; i < RESET_TOKEN_BYTES; i++) diff |= (data[at + i] as number) ^ token.charCodeAt(i);
  return diff === 0;
}

/** Whether `data` from `from` is `conn`'s server's reset. */
function isResetOf(conn: Connection, data: Uint8Array, from: PeerAddress): boolean {
  const token = conn.resetToken;
  // The client never moves: its server's reset comes from the address it dialled.
  return token !== undefined && conn.remote === from && endsWithToken(data, token);
}

/**
 * Client connections with a reset token. With two or more, by a keyed hash of the token (see the file's
 * comment): a datagram's last 16 bytes find their connection without a walk over every connection (a
 * forged datagram would cost a comparison per connection). A list per key: two tokens may share a hash.
 */
export class ResetTokens {
  /** The one connection with a token, while the endpoint has no more (then `byHash` is made, and this stays unset). */
  private single: Connection | undefined = undefined;
  private byHash: Map<number, Connection[]> | undefined = undefined;
  /** The index's hash key (two 32-bit words), drawn with the index: a typed array, as two number fields would each be boxed on every endpoint once one held a key past the small-integer range. */
  private key: Uint32Array | undefined = undefined;
  /** @internal Tokens compared with a datagram's last 16 bytes so far (what a lookup's time depends on). */
  compared = 0;

  /** `crypto` draws the index's hash key (an endpoint without one never holds a token). */
  constructor(private readonly crypto: CryptoProvider | undefined) {}

  /** Indexes `conn` under its token, if it has one. */
  add(conn: Connection): void {
    if (conn.resetToken === undefined || this.crypto === undefined) return;
    if (this.byHash === undefined) {
      const single = this.single;
      if (single === undefined || single === conn) {
        this.single = conn;
        return;
      }
      const key = this.crypto.randomBytes(INDEX_KEY_BYTES);
      this.key = Uint32Array.of(readU32(key, 0), readU32(key, 4));
      this.byHash = new Map();
      this.single = undefined;
      this.insert(single);
    }
    this.insert(conn);
  }

  /** Forgets `conn` (nothing if it was not indexed). */
  delete(conn: Connection): void {
    if (this.single === conn) {
      this.single = undefined;
      return;
    }
    const token = conn.resetToken;
    if (token === undefined || this.byHash === undefined) return;
    const hash = this.hashOf(tokenBytes(token));
    const list = this.byHash.get(hash);
    if (list === undefined) return;
    const at = list.indexOf(conn);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.byHash.delete(hash);
  }

  /** The connection to `from` whose token `data` ends with, if any (compared in constant time). */
  match(data: Uint8Array, from: PeerAddress): Connection | undefined {
    if (data.length < MIN_RESET_BYTES) return undefined;
    const single = this.single;
    if (single !== undefined) return this.isResetOf(single, data, from) ? single : undefined;
    if (this.byHash === undefined) return undefined;
    const list = this.byHash.get(this.hashOf(data.subarray(data.length - RESET_TOKEN_BYTES)));
    if (list === undefined) return undefined;
    for (const conn of list) if (this.isResetOf(conn, data, from)) return conn;
    return undefined;
  }

  private isResetOf(conn: Connection, data: Uint8Array, from: PeerAddress): boolean {
    this.compared++;
    return isResetOf(conn, data, from);
  }

  /** The index's key of a token's 16 bytes: their HalfSipHash under the index's key. */
  private hashOf(token: Uint8Array): number {
    const key = this.key as Uint32Array;
    return halfSipHash24(key[0] as number, key[1] as number, token);
  }

  private insert(conn: Connection): void {
    const map = this.byHash as Map<number, Connection[]>;
    const hash = this.hashOf(tokenBytes(conn.resetToken as string));
    const list = map.get(hash);
    if (list === undefined) map.set(hash, [conn]);
    else if (!list.includes(conn)) list.push(conn);
  }
}
