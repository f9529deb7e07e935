/**
 * Stateless resets, both sides (wire/stateless-reset.ts has the packet,
 * crypto/reset-token.ts the token). A server that gets a protected packet
 * for a connection id it does not know (it was restarted, or forgot the
 * connection) answers with a reset ending in that id's token, which it can
 * compute from its identity key alone. The client whose server gave it that
 * token in the encrypted handshake ends the connection at once
 * (`closed`, kind `'reset'`), where it waited for its idle timeout or its
 * application's request timeout before.
 *
 * A reset is unauthenticated, but only the server, or someone who saw a
 * reset it sent, knows the token: an on-path attacker that can end a
 * connection anyway (by dropping its packets) learns one only once the
 * server has sent it, for a connection that server no longer has. The
 * token is bound to the client's host too (`resetHost`), so a reset asked
 * for from elsewhere carries another token, and goes elsewhere. Only a
 * client connection that completed an encrypted handshake holds a token; a
 * server connection never acts on one. Every reset is smaller than what
 * asked for it, answers nothing under `MIN_RESET_TRIGGER` bytes, and waits
 * in the stateless queue (`maxStatelessQueue`) with RETRYs and refusals.
 */
import type { Connection } from '../connection.js';
import type { Endpoint } from '../endpoint.js';
import { type PeerAddress, parseAddress } from '../sans-io.js';
import { finish } from '../connection/close.js';
import { endsWithToken, resetToken } from '../../crypto/index.js';
import { MIN_RESET_BYTES, MIN_RESET_TRIGGER, RESET_TOKEN_BYTES, encodeStatelessReset } from '../../wire/stateless-reset.js';
import { readU32 } from '../../wire/varint.js';

/**
 * Client connections with a reset token, by the token's first four bytes: a datagram's last 16 bytes
 * find their connection without a walk over every connection (a forged datagram per connection would
 * cost a comparison per connection each). A list per key: two tokens may share four bytes.
 */
export class ResetTokens {
  private readonly byHead = new Map<number, Connection[]>();

  /** Indexes `conn` under its token (it has one). */
  add(conn: Connection, token: Uint8Array): void {
    const head = readU32(token, 0);
    const list = this.byHead.get(head);
    if (list === undefined) this.byHead.set(head, [conn]);
    else if (!list.includes(conn)) list.push(conn);
  }

  /** Forgets `conn` (nothing if it was not indexed). */
  delete(conn: Connection): void {
    const token = conn.resetToken;
    if (token === undefined) return;
    const head = readU32(token, 0);
    const list = this.byHead.get(head);
    if (list === undefined) return;
    const at = list.indexOf(conn);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.byHead.delete(head);
  }

  /** The connection to `from` whose token `data` ends with, if any (compared in constant time). */
  match(data: Uint8Array, from: PeerAddress): Connection | undefined {
    if (this.byHead.size === 0 || data.length < MIN_RESET_BYTES) return undefined;
    const list = this.byHead.get(readU32(data, data.length - RESET_TOKEN_BYTES));
    if (list === undefined) return undefined;
    for (const conn of list) {
      const token = conn.resetToken;
      // The client never moves: its server's reset comes from the address it dialled.
      if (token !== undefined && conn.remote === from && endsWithToken(data, token)) return conn;
    }
    return undefined;
  }
}

/**
 * Client endpoint `e`: a protected datagram from `from` that no connection took (its id unknown, or it
 * did not authenticate) is checked for a reset. True if it was one: its connection ends now, without a
 * CLOSE (the server has nothing to close), unless it was already ending.
 */
export function takeStatelessReset(e: Endpoint, data: Uint8Array, from: PeerAddress): boolean {
  const conn = e.resetTokens.match(data, from);
  if (conn === undefined) return false;
  e.counters.statelessResetsReceived++;
  if (conn.state === 'established' || conn.state === 'closing') {
    const message = `the server at ${conn.remote} no longer knows this connection (stateless reset): it was restarted, or lost the connection`;
    finish(conn, 'reset', 0, message, false);
    e.touch(conn);
  }
  return true;
}

/**
 * Server endpoint `e`: a protected datagram of `size` bytes from `from` named connection id `cid`, which
 * it does not know. It answers with a reset if it can compute the token (it encrypts) and the datagram
 * is large enough, within the stateless queue.
 */
export function answerUnknownConnection(e: Endpoint, cid: number, size: number, from: PeerAddress): void {
  const secret = e.resetSecret;
  const crypto = e.crypto;
  if (secret === undefined || crypto === undefined || cid === 0) return;
  // Never in answer to a reset (the smallest is one byte short of this), so two endpoints cannot loop.
  if (size < MIN_RESET_TRIGGER) return;
  if (e.stateless.length >= e.maxStatelessQueue) return void e.drops.statelessQueueFull++;
  e.stateless.push({ to: from, data: encodeStatelessReset(resetToken(crypto, secret, cid, resetHost(from)), size, () => e.drawRandom()) });
  e.counters.statelessResetsSent++;
}

/** The host a reset token is bound to: `address` without its port (the whole address if it is no host and port). */
export function resetHost(address: PeerAddress): string {
  return parseAddress(address)?.host ?? address;
}
