/**
 * Path validation of a client's new port (NAT rebinding), after RFC 9000
 * §8.2 and §9.3, without a frame of its own: the server sends PINGs, sealed
 * like every packet, to the candidate address, and the candidate is valid
 * once an authenticated packet FROM it acknowledges a packet that went only
 * there. Only the client holds the keys, so only a client that receives at
 * the candidate (or an attacker who relays its packets both ways, i.e. one
 * already on its path) can complete it.
 *
 * A validation that `moved` is the RFC's migration (§9.3): every datagram
 * goes to the candidate from its first packet on, as long as what was sent
 * there stays within `AMPLIFICATION_LIMIT` times what came from it (it may be
 * a victim whose address was spoofed, §9.3.1), and each PING to it is
 * followed by one to the last validated address (§9.3.3: if the client is
 * still there, its answer, newer than the copy that named the candidate,
 * takes the connection back). Any packet sent from the first one there
 * (`firstPn`) on counts as sent to the candidate, but those PINGs to the old
 * address. One that did not move keeps sending to the validated address and
 * counts only its PINGs as sent to the candidate (connection/migration.ts
 * says when which runs).
 *
 * One candidate at a time, at most `MAX_PATH_PROBES` PINGs to it, and given
 * up after `VALIDATION_PTOS` probe timeouts (§8.2.4).
 *
 * Only a change of port is taken (`sameHost`): the host is what per-host
 * limits count (host-key.ts), so they stay right, and the path is the same
 * network path, so RTT and congestion state are kept (§9.4 allows it).
 */
import type { PnRange } from '../wire/frame.js';
import { HEADER_SIZE, TAG_SIZE } from '../wire/packet.js';
import { type PeerAddress, parseAddress } from './sans-io.js';

/** Most PINGs sent to one candidate address (and, when the connection moved, to the address it left). */
export const MAX_PATH_PROBES = 3;
/** Bytes sent to an unvalidated address are at most this many times the bytes received from it (RFC 9000 §8). */
export const AMPLIFICATION_LIMIT = 3;
/** A validation is given up this many probe timeouts after it started (RFC 9000 §8.2.4 recommends 3). */
export const VALIDATION_PTOS = 3;
/** The largest probe: a full header, a PING and the tag. */
export const PATH_PROBE_BYTES = HEADER_SIZE + 1 + TAG_SIZE;

/**
 * Whether `a` and `b` are the same host (IP address, with its zone) on
 * possibly different ports; false if either is not a `host:port`.
 */
export function sameHost(a: PeerAddress, b: PeerAddress): boolean {
  const x = parseAddress(a);
  const y = parseAddress(b);
  return x !== undefined && y !== undefined && x.host === y.host;
}

/** The validation of one candidate address; see the file's comment. */
export class PathValidation {
  /** Packet numbers of the PINGs sent to the candidate. */
  private readonly probes: number[] = [];
  /** Packet numbers of the PINGs sent to the validated address while `moved`. */
  private readonly oldPathProbes: number[] = [];
  /** A PING to the validated address is due (one follows each PING to the candidate while `moved`). */
  private oldPathDue = false;
  /** Bytes of authenticated datagrams received from the candidate. */
  private received: number;
  /** Bytes sent to the candidate. */
  private sent = 0;
  /** When the next PING may go (each one a probe timeout after the last). */
  private nextProbeAt: number;
  /** When the validation is given up. */
  readonly abandonAt: number;

  /**
   * `firstBytes`: the size of the authenticated datagram that named
   * `candidate`; `ptoMs`: the connection's probe timeout; `firstPn`: the
   * connection's next packet number; `moved`: whether every datagram goes to
   * the candidate until the validation ends.
   */
  constructor(
    readonly candidate: PeerAddress,
    now: number,
    private readonly ptoMs: number,
    firstBytes: number,
    private readonly firstPn: number,
    readonly moved: boolean,
  ) {
    this.received = firstBytes;
    this.nextProbeAt = now;
    this.abandonAt = now + VALIDATION_PTOS * ptoMs;
  }

  /** Another authenticated datagram of `bytes` came from the candidate: more may be sent to it. */
  onReceived(bytes: number): void {
    this.received += bytes;
  }

  /** A datagram of `bytes` went to the candidate (a PING or, while `moved`, any). */
  onSent(bytes: number): void {
    this.sent += bytes;
  }

  /** Whether `bytes` more may go to the candidate under the amplification limit. */
  mayAmplify(bytes: number): boolean {
    return this.sent + bytes <= AMPLIFICATION_LIMIT * this.received;
  }

  /** Whether a PING to the candidate may go now: one is due, the count allows it, and so does the amplification limit. */
  probeDue(now: number): boolean {
    return now >= this.nextProbeAt && now < this.abandonAt && this.mayProbe();
  }

  /** PING `pn` was sent to the candidate at `now`. */
  onProbeSent(now: number, pn: number): void {
    this.probes.push(pn);
    this.nextProbeAt = now + this.ptoMs;
    if (this.moved) this.oldPathDue = true;
  }

  /** Whether a PING to the validated address is due (only while `moved`). */
  oldPathProbeDue(): boolean {
    return this.oldPathDue;
  }

  /** PING `pn` was sent to the validated address. */
  onOldPathProbeSent(pn: number): void {
    this.oldPathProbes.push(pn);
    this.oldPathDue = false;
  }

  /**
   * The next time something is due: a PING, or giving up. A PING the
   * amplification limit holds back is not: it waits for a datagram from the
   * candidate, which wakes the connection anyway (else the timer would fire
   * at once, over and over).
   */
  deadline(): number {
    if (this.oldPathDue) return this.nextProbeAt - this.ptoMs;
    return this.mayProbe() ? Math.min(this.nextProbeAt, this.abandonAt) : this.abandonAt;
  }

  /** Whether an ACK with `ranges` (sorted from the highest down) covers a packet that went only to the candidate. */
  acknowledgedBy(ranges: readonly PnRange[]): boolean {
    if (this.moved) {
      for (const r of ranges) {
        if (r.hi < this.firstPn) break;
        const lo = Math.max(r.lo, this.firstPn);
        let old = 0;
        for (const pn of this.oldPathProbes) if (pn >= lo && pn <= r.hi) old++;
        if (r.hi - lo + 1 > old) return true;
      }
      return false;
    }
    for (const pn of this.probes) {
      for (const r of ranges) {
        if (pn > r.hi) break;
        if (pn >= r.lo) return true;
      }
    }
    return false;
  }

  private mayProbe(): boolean {
    return this.probes.length < MAX_PATH_PROBES && this.mayAmplify(PATH_PROBE_BYTES);
  }
}
