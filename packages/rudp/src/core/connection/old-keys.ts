/**
 * Key updates on the core's clock (RFC 9001 §6.5): the previous key phase's
 * receive keys, kept for the peer's late packets, are discarded three probe
 * timeouts after the first packet of the new phase opened; the next update
 * waits for that (crypto/packet-protection.ts), so a late packet of a phase
 * two back can never carry the bit of the current one. And an update starts
 * only once the peer acknowledged a packet of the current phase (§6.1),
 * which loss detection's largest acknowledged number tells.
 *
 * The discard is checked as each packet arrives, before it is opened, not
 * on a timer of its own: the keys decide nothing but what a packet opens
 * with, so a packet that comes after the deadline finds them gone, as it
 * would with a timer, and no connection carries one more deadline.
 */
import type { Connection } from '../connection.js';

/** Probe timeouts the previous receive keys outlive a key update (RFC 9001 §6.5: "three times the current PTO"). */
export const OLD_KEY_PTOS = 3;

/** Before packet protection opens a packet at `now`: the previous receive keys go once their time is up. */
export function discardOldKeysIfDue(c: Connection, now: number): void {
  const until = c.oldKeysUntil;
  if (until === undefined || now < until) return;
  c.oldKeysUntil = undefined;
  c.protection?.discardPreviousKeys();
}

/** A packet opened at `now`: if it was the peer's first of a new key phase, the previous keys have three probe timeouts left. */
export function noteKeyRotation(c: Connection, now: number): void {
  if (c.protection?.takeRotation() === true) c.oldKeysUntil = now + OLD_KEY_PTOS * c.rtt.pto(c.config.maxAckDelayMs);
}

/** The peer acknowledged new packets: a packet of our current key phase among them lets the next update start. */
export function noteAcknowledged(c: Connection): void {
  c.protection?.acknowledged(c.recovery.largestAcked);
}
