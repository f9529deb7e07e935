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
 * in the stateless queue (`maxStatelessQueue`) with RETRYs and refusals,
 * and a server sends at most `STATELESS_RESETS_PER_SECOND` (`ResetRate`),
 * and to one client host at most `RESETS_PER_HOST_PER_MINUTE`
 * (reset-budget.ts): a client behind its neighbours' NAT address cannot
 * collect the tokens of the ids the server will give them.
 */
import type { Endpoint } from '../endpoint.js';
import { type PeerAddress, parseAddress } from '../sans-io.js';
import { finish } from '../connection/close.js';
import { hostKey } from '../host-key.js';
import { resetToken } from '../../crypto/index.js';
import { MIN_RESET_TRIGGER, encodeStatelessReset } from '../../wire/stateless-reset.js';

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
 * it does not know, at `now`. It answers with a reset if it can compute the token (it encrypts) and the
 * datagram is large enough, within the stateless queue, the endpoint's reset rate and the host's budget.
 */
export function answerUnknownConnection(e: Endpoint, now: number, cid: number, size: number, from: PeerAddress): void {
  const secret = e.resetSecret;
  const crypto = e.crypto;
  const rate = e.resetRate;
  const budget = e.resetBudget;
  if (secret === undefined || crypto === undefined || rate === undefined || budget === undefined || cid === 0) return;
  // Never in answer to a reset (the smallest is one byte short of this), so two endpoints cannot loop.
  if (size < MIN_RESET_TRIGGER) return;
  if (e.stateless.length >= e.maxStatelessQueue) return void e.drops.statelessQueueFull++;
  if (!rate.take(now)) return void e.counters.statelessResetsLimited++;
  // The host's budget only then, and a refusal spends the rate's token too: a flood past the endpoint's rate
  // costs no address parsing (some 2 µs for IPv6, several times the rest of a junk datagram's path). A
  // refusal that spent none let one host past its budget, asking on at a flood's pace, cost that per datagram.
  if (!budget.take(now, hostKey(from))) return void e.counters.statelessResetsHostLimited++;
  e.stateless.push({ to: from, data: encodeStatelessReset(resetToken(crypto, secret, cid, resetHost(from)), size, () => e.drawRandom()) });
  e.counters.statelessResetsSent++;
}

/** The host a reset token is bound to: `address` without its port (the whole address if it is no host and port). */
export function resetHost(address: PeerAddress): string {
  return parseAddress(address)?.host ?? address;
}

/**
 * Stateless resets a server sends per second at most, and as many at once: what a restarted server's
 * clients need (each needs one; one refused tries again with its next packet), where an HMAC and a
 * datagram for every junk packet of 24 bytes let a spoofed flood cost the server some 25 times the CPU
 * a RETRY's 1,200-byte INITIAL does, per byte the attacker sends. Past it, counted
 * `statelessResetsLimited`, and the client times out as it did before resets.
 */
export const STATELESS_RESETS_PER_SECOND = 1_000;

/** A token bucket of `STATELESS_RESETS_PER_SECOND` for a server's resets (times in ms, the endpoint's `now`). */
export class ResetRate {
  private tokens = STATELESS_RESETS_PER_SECOND;
  private at: number | undefined = undefined;

  /** Whether a reset may be sent at `now`; takes a token if so. */
  take(now: number): boolean {
    // A `now` behind the last one (a driver's wall clock set back) refills nothing, rather than draining the
    // bucket, and the bucket refills from it on: kept at the latest `now`, it refilled nothing until the clock
    // was back there, and once drained the server sent no reset for as long as the clock had been set back.
    const elapsed = this.at === undefined ? 0 : Math.max(0, now - this.at);
    this.at = now;
    this.tokens = Math.min(STATELESS_RESETS_PER_SECOND, this.tokens + (elapsed * STATELESS_RESETS_PER_SECOND) / 1000);
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
