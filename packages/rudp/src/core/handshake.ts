/**
 * The connection handshake, both roles. The server keeps no state until the
 * client proves its address (endpoint.ts with cookie.ts):
 *
 *   client                                  server
 *   INITIAL (padded to 1200 B)    ──►        stateless: RETRY with a cookie
 *                                 ◄──  RETRY
 *   INITIAL + cookie              ──►        cookie valid: connection created
 *                                 ◄──  ACCEPT (server cid, receive window)
 *   DATA …                        ──►        (first packet times the ACCEPT)
 *
 * INITIALs are resent on a gentle backoff; once a RETRY measured the path,
 * on two of its round trips instead of the blind 250 ms. The handshake also
 * gives both sides their first estimates: the client an RTT sample from the
 * ACCEPT and a loss rate from how many INITIALs it took, the server an RTT
 * from its ACCEPT to the client's first packet.
 */
import { INITIAL_RTT_MS } from './recovery/rtt.js';
import { AcceptKind, encodeAccept, encodeInitial } from '../wire/packet.js';

/** First retransmission interval of the client's INITIAL, ms. */
const INITIAL_RESEND_MS = 250;
/** Shortest interval between INITIAL retransmissions once a RETRY measured the path, ms. */
const INITIAL_RESEND_MIN_MS = 10;
/** Growth of the INITIAL resend interval per resend (QUIC doubles; a lossy path pays for every step). */
const INITIAL_BACKOFF = 1.5;
/** Longest interval between INITIAL retransmissions, ms. */
const INITIAL_RESEND_CAP_MS = 500;

/** What the handshake needs to know about its connection. */
export interface HandshakeParams {
  readonly localCid: number;
  readonly receiveWindow: number;
  readonly mtu: number;
  readonly handshakeTimeoutMs: number;
}

/** The cookie before a RETRY brought one, and a plaintext hello (shared: an idle connection should not pay for empty arrays). */
const NO_TOKEN = new Uint8Array(0);

/** The client's side: INITIAL resends, RETRY, ACCEPT. Dropped once the connection is established. */
export class ClientHandshake {
  private initialDue = 0;
  private initialInterval = INITIAL_RESEND_MS;
  private token: Uint8Array = NO_TOKEN;
  private lastInitialSent = 0;
  private sentInitials = 0;
  /** INITIALs sent with the cookie. */
  private cookieInitials = 0;
  /** The RETRY answered an INITIAL that was not a resend, so the cookie phase runs on a measured RTT. */
  private cookieTimed = false;
  /** Something answered the last INITIAL sent. */
  private answered = false;
  /** The last INITIAL was a timer resend: an answer to it is no clean RTT sample (Karn). */
  private initialAmbiguous = false;

  constructor(
    private readonly params: HandshakeParams,
    /** When the connection was created (the handshake timeout runs from it). */
    private readonly createdAt: number,
    /** The client's handshake message, sent in every INITIAL (empty: plaintext). */
    private readonly hello: Uint8Array = NO_TOKEN,
  ) {}

  /** When the next INITIAL is due. */
  initialDeadline(): number {
    return this.initialDue;
  }

  /** When an unfinished handshake gives up. */
  timeoutDeadline(): number {
    return this.createdAt + this.params.handshakeTimeoutMs;
  }

  /** The next INITIAL, written into `scratch`, if one is due. */
  pollInitial(now: number, scratch: Uint8Array): Uint8Array | undefined {
    if (now < this.initialDue) return undefined;
    this.initialAmbiguous = this.sentInitials > 0 && !this.answered;
    this.answered = false;
    this.sentInitials++;
    if (this.token.length > 0) this.cookieInitials++;
    this.lastInitialSent = now;
    const datagram = encodeInitial(scratch, 0, {
      scid: this.params.localCid,
      token: this.token,
      params: { receiveWindow: this.params.receiveWindow },
      hello: this.hello,
    });
    // A cookie answer comes at once; an unanswered INITIAL backs off.
    this.initialDue = now + this.initialInterval;
    // Gentle and capped low: a lost INITIAL or RETRY must not eat the handshake budget on a lossy path
    // (at most about twelve 1200-byte INITIALs in the default 5 s).
    this.initialInterval = Math.min(this.initialInterval * INITIAL_BACKOFF, INITIAL_RESEND_CAP_MS);
    return datagram;
  }

  /** The server sent a RETRY with a cookie. Returns false if it is ignored. */
  onRetry(now: number, token: Uint8Array): boolean {
    // A second RETRY answers an INITIAL resent before the first came back (a path slower than the
    // blind timer): the cookie in hand is as good, and sending again would only repeat the INITIAL.
    if (this.token.length > 0) return false;
    this.token = token.slice();
    this.cookieTimed = !this.initialAmbiguous;
    this.initialDue = now;
    // The RETRY measured the path: resend the INITIAL after two of its round trips, not after the
    // blind 250 ms (backed off) that a lossy path would pay again for a lost INITIAL or ACCEPT.
    // Only an answer to an INITIAL that was not a timer resend gives an unambiguous sample (Karn).
    if (!this.initialAmbiguous) this.initialInterval = Math.min(Math.max(2 * (now - this.lastInitialSent), INITIAL_RESEND_MIN_MS), INITIAL_RESEND_MS);
    else this.initialInterval = INITIAL_RESEND_MS;
    this.answered = true;
    return true;
  }

  /** The ACCEPT arrived at `now`: its RTT sample, if unambiguous (Karn). */
  acceptRttSample(now: number): number | undefined {
    return this.initialAmbiguous ? undefined : now - this.lastInitialSent;
  }

  /**
   * Once the ACCEPT's RTT sample is in: the loss rate the handshake
   * suggests, if it is a measure. A resend counts as a loss only if no answer
   * could have been on its way: on a path faster than the blind timer every
   * resend does (two answers for all n INITIALs); on a slower one only
   * resends timed on the RETRY's round trip do (one ACCEPT for the n
   * INITIALs with the cookie).
   */
  lossRateSeed(hasRttSample: boolean, srttMs: number): number | undefined {
    if (hasRttSample && srttMs < INITIAL_RESEND_MS) return 1 - Math.sqrt(Math.min(1, 2 / this.sentInitials));
    if (this.cookieTimed) return 1 - Math.sqrt(1 / Math.max(1, this.cookieInitials));
    return undefined;
  }
}

/** The server's side: the ACCEPT (resent when the client repeats its INITIAL) and the RTT it times. */
export class ServerHandshake {
  private acceptDue = true;
  /** When the ACCEPT left (NaN once resent: the next packet's timing is then ambiguous). */
  private acceptSentAt = Number.NaN;

  constructor(
    private readonly params: HandshakeParams,
    /** What the ACCEPT carries of the handshake: the server hello, or nothing in plaintext mode. */
    private readonly serverHello: Uint8Array | undefined,
  ) {}

  /** Whether an ACCEPT must be sent. */
  get acceptPending(): boolean {
    return this.acceptDue;
  }

  /** The client repeated its INITIAL, so our ACCEPT was lost. */
  onInitialAgain(): void {
    this.acceptDue = true;
  }

  /** The ACCEPT, written into `scratch`. `firstPacket`: nothing was sent before it. */
  pollAccept(now: number, scratch: Uint8Array, remoteCid: number, firstPacket: boolean): Uint8Array {
    this.acceptDue = false;
    // Karn: only a single ACCEPT gives a clean round trip to the client's first packet.
    this.acceptSentAt = firstPacket ? now : Number.NaN;
    return encodeAccept(scratch, remoteCid, {
      scid: this.params.localCid,
      params: { receiveWindow: this.params.receiveWindow },
      kind: this.serverHello === undefined ? AcceptKind.Plaintext : AcceptKind.ServerHello,
      handshake: this.serverHello ?? NO_TOKEN,
    });
  }

  /**
   * A packet from the client arrived. A client with a request queued sends
   * it the moment the ACCEPT arrives, so its first packet times a round
   * trip; without this the server knows no RTT until the client acknowledges
   * its first reply, and a lost first reply waited for a probe timeout on
   * the 250 ms initial RTT (~775 ms). A later first packet (a client with
   * nothing to say yet) is no measure: `undefined`.
   */
  rttFromAccept(now: number): number | undefined {
    if (Number.isNaN(this.acceptSentAt)) return undefined;
    const sample = now - this.acceptSentAt;
    this.acceptSentAt = Number.NaN;
    return sample < INITIAL_RTT_MS ? sample : undefined;
  }
}
