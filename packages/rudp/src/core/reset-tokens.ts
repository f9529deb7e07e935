/**
 * A client endpoint's stateless reset tokens (endpoint/stateless-reset.ts),
 * kept where an idle connection pays least for them: each token as a
 * 16-character one-byte string on its connection (some 32 bytes of heap,
 * where a `Uint8Array` of 16 costs a view, a buffer and the bytes, some
 * 150), and the index of them by their first four bytes built only once an
 * endpoint holds two (a client endpoint of one connection, the common
 * case, keeps that one alone). Measured: the many scenario's heap per
 * connection side went from 3,980 B to 4,129 B with a `Uint8Array` each and a
 * map per endpoint, past its 4 KiB target.
 */
import type { Connection } from './connection.js';
import type { PeerAddress } from './sans-io.js';
import { MIN_RESET_BYTES, RESET_TOKEN_BYTES } from '../wire/stateless-reset.js';
import { readU32 } from '../wire/varint.js';

/** `token` (16 bytes) as the one-byte string a connection keeps. */
export function tokenText(token: Uint8Array): string {
  return String.fromCharCode(...token);
}

/** Whether the last 16 bytes of `data` are `token` (a `tokenText`); the time taken does not depend on where they differ. */
export function endsWithToken(data: Uint8Array, token: string): boolean {
  const at = data.length - RESET_TOKEN_BYTES;
  if (at < 0 || token.length !== RESET_TOKEN_BYTES) return false;
  let diff = 0;
  for (let i = 0; i < RESET_TOKEN_BYTES; i++) diff |= (data[at + i] as number) ^ token.charCodeAt(i);
  return diff === 0;
}

/** The first four bytes of `token` as a big-endian number (the index's key). */
function headOf(token: string): number {
  return ((token.charCodeAt(0) << 24) | (token.charCodeAt(1) << 16) | (token.charCodeAt(2) << 8) | token.charCodeAt(3)) >>> 0;
}

/** Whether `data` from `from` is `conn`'s server's reset. */
function isResetOf(conn: Connection, data: Uint8Array, from: PeerAddress): boolean {
  const token = conn.resetToken;
  // The client never moves: its server's reset comes from the address it dialled.
  return token !== undefined && conn.remote === from && endsWithToken(data, token);
}

/**
 * Client connections with a reset token. With two or more, by the token's first four bytes: a datagram's
 * last 16 bytes find their connection without a walk over every connection (a forged datagram would cost
 * a comparison per connection). A list per key: two tokens may share four bytes.
 */
export class ResetTokens {
  /** The one connection with a token, while the endpoint has no more (then `byHead` is made, and this stays unset). */
  private single: Connection | undefined = undefined;
  private byHead: Map<number, Connection[]> | undefined = undefined;

  /** Indexes `conn` under its token, if it has one. */
  add(conn: Connection): void {
    if (conn.resetToken === undefined) return;
    if (this.byHead === undefined) {
      const single = this.single;
      if (single === undefined || single === conn) {
        this.single = conn;
        return;
      }
      this.byHead = new Map();
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
    if (token === undefined || this.byHead === undefined) return;
    const head = headOf(token);
    const list = this.byHead.get(head);
    if (list === undefined) return;
    const at = list.indexOf(conn);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.byHead.delete(head);
  }

  /** The connection to `from` whose token `data` ends with, if any (compared in constant time). */
  match(data: Uint8Array, from: PeerAddress): Connection | undefined {
    if (data.length < MIN_RESET_BYTES) return undefined;
    const single = this.single;
    if (single !== undefined) return isResetOf(single, data, from) ? single : undefined;
    const list = this.byHead?.get(readU32(data, data.length - RESET_TOKEN_BYTES));
    if (list === undefined) return undefined;
    for (const conn of list) if (isResetOf(conn, data, from)) return conn;
    return undefined;
  }

  private insert(conn: Connection): void {
    const token = conn.resetToken as string;
    const map = this.byHead as Map<number, Connection[]>;
    const head = headOf(token);
    const list = map.get(head);
    if (list === undefined) map.set(head, [conn]);
    else if (!list.includes(conn)) list.push(conn);
  }
}
