/**
 * Path validation of a client's new address (NAT rebinding, an IP address change), after RFC 9000
 * §8.2 and §9.3: the server sends PATH_CHALLENGE frames, each alone in a
 * sealed packet and each with 8 fresh bytes of the connection's injected
 * randomness, to the candidate address, and the candidate is valid once an
 * authenticated packet FROM it carries a PATH_RESPONSE echoing one of them
 * (§8.2.2, §8.2.3: a response from anywhere else validates nothing). Only
 * whoever receives at the candidate learns the bytes, and only the client
 * holds the keys to seal the echo: an ACK is the client's word about what it
 * received, the echo is proof (an ACK validated until this version, and a
 * client that could inject into another user's port of its address
 * acknowledged what went there unseen). Challenges live in this object: a
 * new validation starts with none, so an echo of an earlier one is stale.
 *
 * A validation that `moved` is the RFC's migration (§9.3): every datagram
 * goes to the candidate from its first packet on, as long as what was sent
 * there stays within `AMPLIFICATION_LIMIT` times what came from it (it may be
 * a victim whose address was spoofed, §9.3.1), and each challenge to it is
 * followed by a PING to the last validated address (§9.3.3: if the client is
 * still there, its answer, newer than the copy that named the candidate,
 * takes the connection back). One that did not move keeps sending to the
 * validated address and sends only its challenges to the candidate
 * (connection/migration.ts says when which runs).
 *
 * One candidate at a time, at most `MAX_PATH_PROBES` challenges to it, and
 * given up after `VALIDATION_PTOS` probe timeouts (§8.2.4).
 *
 * A candidate on another host (an IP address change: Wi-Fi to cellular, a
 * NAT that changed its public address) is a new network path (`newHost`):
 * each challenge to it is padded to the connection's base datagram size
 * (1,200 bytes by default, RFC 9000 §8.2.1) when the amplification limit
 * allows it, and only a 34-byte one when it does not (the address is then
 * validated, the path's capacity for full datagrams shown by the data
 * packets that follow, as a port change's is); it is given up after
 * `VALIDATION_PTOS` times the larger of the probe timeout and the initial
 * one (§8.2.4: the new path's RTT is not known); and the round trip of the
 * challenge answered is kept (`answeredAt`), the first estimate of the new
 * path's RTT once the connection moves there (connection/migration.ts).
 * A change of port keeps the path, its RTT and its MTU (§9.4).
 */
import { PATH_DATA_BYTES, PATH_FRAME_BYTES } from '../wire/frame.js';
import { HEADER_SIZE, TAG_SIZE } from '../wire/packet.js';
import { type PeerAddress, parseAddress } from './sans-io.js';

/** Most challenges sent to one candidate address (and, when the connection moved, PINGs to the address it left). */
export const MAX_PATH_PROBES = 3;
/** Bytes sent to an unvalidated address are at most this many times the bytes received from it (RFC 9000 §8). */
export const AMPLIFICATION_LIMIT = 3;
/** A validation is given up this many probe timeouts after it started (RFC 9000 §8.2.4 recommends 3). */
export const VALIDATION_PTOS = 3;
/** The largest probe: a full header, a PATH_CHALLENGE and the tag (34 bytes). */
export const PATH_PROBE_BYTES = HEADER_SIZE + PATH_FRAME_BYTES + TAG_SIZE;

/**
 * Whether `a` and `b` are the same host (IP address, with its zone) on
 * possibly different ports; false if either is not a `host:port`.
 */
export function sameHost(a: PeerAddress, b: PeerAddress): boolean {
  const x = parseAddress(a);
  const y = parseAddress(b);
  return x !== undefined && y !== undefined && x.host === y.host;
}

/**
 * Whether `a` is a loopback address: 127.0.0.0/8 (also mapped into IPv6,
 * `::ffff:127.x.y.z`) or `::1`, as Node writes them; false if it is not a
 * `host:port`.
 */
export function isLoopback(a: PeerAddress): boolean {
  const host = parseAddress(a)?.host.toLowerCase();
  if (host === undefined) return false;
  const v4 = host.startsWith('::ffff:') ? host.slice(7) : host;
  return v4.startsWith('127.') || host === '::1' || host === '0:0:0:0:0:0:0:1';
}

/** The validation of one candidate address; see the file's comment. */
export class PathValidation {
  /** The data of each challenge sent to the candidate, in order. */
  private readonly challenges: Uint8Array[] = [];
  /** When each challenge in `challenges` was sent. */
  private readonly sentAt: number[] = [];
  /** A PING to the validated address is due (one follows each challenge to the candidate while `moved`). */
  private oldPathDue = false;
  /** Bytes of authenticated datagrams received from the candidate. */
  private received: number;
  /** Bytes sent to the candidate. */
  private sent = 0;
  /** When the next challenge may go (each one a probe timeout after the last). */
  private nextProbeAt: number;
  /** When the validation is given up. */
  readonly abandonAt: number;
  /** The first packet number sent after the validation started (set by its creator): while `moved`, the first on the candidate's path. */
  startPn = 0;

  /**
   * `firstBytes`: the size of the authenticated datagram that named
   * `candidate`; `ptoMs`: the connection's probe timeout (a challenge is
   * sent again after it); `moved`: whether every datagram goes to the
   * candidate until the validation ends; `newHost`: the candidate is another
   * host than the validated address (see the file's comment);
   * `timeoutPtoMs`: the probe timeout `VALIDATION_PTOS` of which give the
   * validation up (for a new host the larger of `ptoMs` and the initial one).
   */
  constructor(
    readonly candidate: PeerAddress,
    now: number,
    private readonly ptoMs: number,
    firstBytes: number,
    readonly moved: boolean,
    readonly newHost = false,
    readonly timeoutPtoMs = ptoMs,
  ) {
    this.received = firstBytes;
    this.nextProbeAt = now;
    this.abandonAt = now + VALIDATION_PTOS * timeoutPtoMs;
  }

  /** Another authenticated datagram of `bytes` came from the candidate: more may be sent to it. */
  onReceived(bytes: number): void {
    this.received += bytes;
  }

  /** A datagram of `bytes` went to the candidate (a challenge or, while `moved`, any). */
  onSent(bytes: number): void {
    this.sent += bytes;
  }

  /** Whether `bytes` more may go to the candidate under the amplification limit. */
  mayAmplify(bytes: number): boolean {
    return this.sent + bytes <= AMPLIFICATION_LIMIT * this.received;
  }

  /** Whether a challenge to the candidate may go now: one is due, the count allows it, and so does the amplification limit. */
  probeDue(now: number): boolean {
    return now >= this.nextProbeAt && now < this.abandonAt && this.mayProbe();
  }

  /**
   * The size of the next challenge's datagram: `padded` (the base datagram
   * size) for a new host if the amplification limit allows it, else the
   * challenge alone (`PATH_PROBE_BYTES`; see the file's comment).
   */
  probeSize(padded: number): number {
    return this.newHost && padded > PATH_PROBE_BYTES && this.mayAmplify(padded) ? padded : PATH_PROBE_BYTES;
  }

  /** A challenge carrying `data` (`PATH_DATA_BYTES` bytes, kept: not to be reused by the caller) was sent to the candidate at `now`. */
  onProbeSent(now: number, data: Uint8Array): void {
    this.challenges.push(data);
    this.sentAt.push(now);
    this.nextProbeAt = now + this.ptoMs;
    if (this.moved) this.oldPathDue = true;
  }

  /** Whether a PING to the validated address is due (only while `moved`). */
  oldPathProbeDue(): boolean {
    return this.oldPathDue;
  }

  /** The PING to the validated address was sent. */
  onOldPathProbeSent(): void {
    this.oldPathDue = false;
  }

  /**
   * The next time something is due: a challenge, or giving up. A challenge
   * the amplification limit holds back is not: it waits for a datagram from
   * the candidate, which wakes the connection anyway (else the timer would
   * fire at once, over and over).
   */
  deadline(): number {
    if (this.oldPathDue) return this.nextProbeAt - this.ptoMs;
    return this.mayProbe() ? Math.min(this.nextProbeAt, this.abandonAt) : this.abandonAt;
  }

  /** Whether `echo`, a PATH_RESPONSE's data, is that of a challenge this validation sent (the caller checks it came from the candidate). */
  answeredBy(echo: Uint8Array): boolean {
    return this.answeredAt(echo) !== undefined;
  }

  /** When the challenge `echo` (a PATH_RESPONSE's data) answers was sent, or `undefined` if it answers none this validation sent. */
  answeredAt(echo: Uint8Array): number | undefined {
    if (echo.length !== PATH_DATA_BYTES) return undefined;
    let at: number | undefined;
    for (let k = 0; k < this.challenges.length; k++) {
      const data = this.challenges[k] as Uint8Array;
      // Every byte compared: how long the comparison takes says nothing of how much of a guess was right.
      let diff = 0;
      for (let i = 0; i < PATH_DATA_BYTES; i++) diff |= (data[i] as number) ^ (echo[i] as number);
      if (diff === 0) at = this.sentAt[k];
    }
    return at;
  }

  private mayProbe(): boolean {
    return this.challenges.length < MAX_PATH_PROBES && this.mayAmplify(PATH_PROBE_BYTES);
  }
}
