/**
 * The connection handshake, both roles. The server keeps no state until the
 * client proves its address (endpoint/admission.ts with cookie.ts):
 *
 *   client                                  server
 *   INITIAL (padded to 1200 B) ×2 ──►        stateless: RETRY with a cookie
 *                                 ◄──  RETRY ×2 (per INITIAL)
 *   INITIAL + cookie ×2           ──►        cookie valid: connection created
 *                                 ◄──  ACCEPT (server cid, receive window) ×2
 *   DATA (or an empty answer)     ──►        (first packet times the ACCEPT)
 *
 * Every handshake packet leaves with a copy (`HANDSHAKE_COPIES`), so a leg
 * is lost only when both are. INITIALs are resent on a gentle backoff; once
 * a RETRY measured the path, on two of its round trips instead of the blind
 * 250 ms. The handshake also gives both sides their first estimates: the
 * client RTT samples from the RETRY and the ACCEPT and a loss rate from how
 * many INITIALs it took and how many RETRY copies came, the server an RTT
 * from its first ACCEPT to the client's first packet. That packet leaves as
 * soon as the ACCEPT is in (RFC 9002 §5 takes samples only from what is
 * answered at once, or with its delay reported): the client's request, or,
 * if it has nothing to say by its next timer turn, a packet of PADDING
 * alone (`FIRST_PACKET_NUMBER`), which asks for nothing back. Timed from a
 * client that waited before its first message, the server's estimate was
 * that wait (100 ms on a 2 ms path), and its first reply's probe timeouts
 * backed off from there.
 */
import { INITIAL_RTT_MS } from './recovery/rtt.js';
import { AcceptKind, encodeAccept, encodeInitial } from '../wire/packet.js';

/**
 * The number of a connection's first DATA packet. A client whose number is
 * still this once its ACCEPT came has not answered it yet (handshake.ts's
 * first paragraph; connection/timeouts.ts makes the answer due).
 */
export const FIRST_PACKET_NUMBER = 1;

/**
 * Where a client's answer to its ACCEPT stands while its packet number is
 * still `FIRST_PACKET_NUMBER` (connection/timeouts.ts, connection/transmit.ts).
 */
export enum AcceptAnswer {
  /**
   * No poll since the ACCEPT: the application has not had its turn. On the
   * Node adapter the ACCEPT's timer turn comes before the poll that tells
   * the application (a promise's continuation runs after that poll), so a
   * timer turn alone must not make the answer due.
   */
  Unpolled,
  /** Polled once and nothing went: the next timer turn makes the answer due. */
  Armed,
  /** The answer leaves at the next poll, PADDING alone if nothing else is to send. */
  Due,
}

/** First retransmission interval of the client's INITIAL, ms. */
const INITIAL_RESEND_MS = 250;
/** Shortest interval between INITIAL retransmissions once a RETRY measured the path, ms. */
const INITIAL_RESEND_MIN_MS = 10;
/** Growth of the INITIAL resend interval per resend (QUIC doubles; a lossy path pays for every step). */
const INITIAL_BACKOFF = 1.5;
/** Longest interval between INITIAL retransmissions, ms. */
const INITIAL_RESEND_CAP_MS = 500;

/**
 * Extra copies of every INITIAL, RETRY and ACCEPT. A handshake is a chain of
 * single datagrams, each a round trip or a blind timer to replace when lost;
 * with one copy a leg is lost only when both are (p² instead of p), for
 * bytes paid once per connection.
 */
export const HANDSHAKE_COPIES = 1;

/** What the handshake needs to know about its connection. */
export interface HandshakeParams {
  readonly localCid: number;
  readonly receiveWindow: number;
  /** The limit granted at first (flow-control.ts). */
  readonly initialLimit: number;
  readonly mtu: number;
  readonly handshakeTimeoutMs: number;
  /** Extra copies of each INITIAL (client) and of the first ACCEPT (server): `HANDSHAKE_COPIES`. */
  readonly copies: number;
  /** Delay between a handshake packet and its copy, ms (apart, so one short burst does not take both). */
  readonly copySpacingMs: number;
}

/** The cookie before a RETRY brought one, and a plaintext hello (shared: an idle connection should not pay for empty arrays). */
const NO_TOKEN = new Uint8Array(0);

/** The client's side: INITIAL resends, RETRY, ACCEPT. Dropped once the connection is established. */
export class ClientHandshake {
  private initialDue = 0;
  private initialInterval = INITIAL_RESEND_MS;
  private token: Uint8Array = NO_TOKEN;

  /** Whether a RETRY's cookie came: only an INITIAL carrying it can be answered by an ACCEPT (or a refusal). */
  get hasToken(): boolean {
    return this.token.length > 0;
  }
  /** INITIALs sent with the RETRY's cookie, copies not counted (none: no RETRY came). */
  get cookieInitialsSent(): number {
    return this.cookieInitials;
  }
  private lastInitialSent = 0;
  /** INITIALs sent, copies not counted. */
  private sentInitials = 0;
  /** INITIALs sent with the cookie, copies not counted. */
  private cookieInitials = 0;
  /** When the copy of the last INITIAL is due (`Infinity`: none owed). */
  private copyDue = Number.POSITIVE_INFINITY;
  private copiesLeft = 0;
  /** The RETRY answered an INITIAL that was not a resend, so the cookie phase runs on a measured RTT. */
  private cookieTimed = false;
  /** The RETRY's round trip, if unambiguous (Karn). */
  private retryRtt: number | undefined;
  /** RETRY datagrams received, copies and late ones included. */
  private retriesSeen = 0;
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

  /** When the next INITIAL (or copy) is due. */
  initialDeadline(): number {
    return Math.min(this.initialDue, this.copyDue);
  }

  /** When an unfinished handshake gives up. */
  timeoutDeadline(): number {
    return this.createdAt + this.params.handshakeTimeoutMs;
  }

  /** The next INITIAL, written into `scratch`, if one is due. */
  pollInitial(now: number, scratch: Uint8Array): Uint8Array | undefined {
    if (now >= this.copyDue && now < this.initialDue) {
      // Same INITIAL again: not a resend, so timing and loss counts stay with the original.
      this.copiesLeft--;
      this.copyDue = this.copiesLeft > 0 ? now + this.params.copySpacingMs : Number.POSITIVE_INFINITY;
      return this.encode(scratch);
    }
    if (now < this.initialDue) return undefined;
    this.copiesLeft = this.params.copies;
    this.copyDue = this.copiesLeft > 0 ? now + this.params.copySpacingMs : Number.POSITIVE_INFINITY;
    this.initialAmbiguous = this.sentInitials > 0 && !this.answered;
    this.answered = false;
    this.sentInitials++;
    if (this.token.length > 0) this.cookieInitials++;
    this.lastInitialSent = now;
    const datagram = this.encode(scratch);
    // A cookie answer comes at once; an unanswered INITIAL backs off.
    this.initialDue = now + this.initialInterval;
    // Gentle and capped low: a lost INITIAL or RETRY must not eat the handshake budget on a lossy path
    // (at most about twelve 1200-byte INITIALs in the default 5 s).
    this.initialInterval = Math.min(this.initialInterval * INITIAL_BACKOFF, INITIAL_RESEND_CAP_MS);
    return datagram;
  }

  private encode(scratch: Uint8Array): Uint8Array {
    return encodeInitial(scratch, 0, {
      scid: this.params.localCid,
      token: this.token,
      params: { receiveWindow: this.params.receiveWindow, initialLimit: this.params.initialLimit },
      hello: this.hello,
    });
  }

  /** The server sent a RETRY with a cookie. Returns false if it is ignored. */
  onRetry(now: number, token: Uint8Array): boolean {
    this.retriesSeen++;
    // A second RETRY answers an INITIAL resent before the first came back (a path slower than the
    // blind timer): the cookie in hand is as good, and sending again would only repeat the INITIAL.
    if (this.token.length > 0) return false;
    this.token = token.slice();
    this.cookieTimed = !this.initialAmbiguous;
    this.initialDue = now;
    // The RETRY measured the path: resend the INITIAL after two of its round trips, not after the
    // blind 250 ms (backed off) that a lossy path would pay again for a lost INITIAL or ACCEPT.
    // Only an answer to an INITIAL that was not a timer resend gives an unambiguous sample (Karn).
    if (!this.initialAmbiguous) this.retryRtt = now - this.lastInitialSent;
    if (this.retryRtt !== undefined) this.initialInterval = Math.min(Math.max(2 * this.retryRtt, INITIAL_RESEND_MIN_MS), INITIAL_RESEND_MS);
    else this.initialInterval = INITIAL_RESEND_MS;
    this.answered = true;
    return true;
  }

  /**
   * The ACCEPT arrived at `now`: the clean round trips the handshake timed,
   * oldest first (the RETRY's, the ACCEPT's), each only if unambiguous
   * (Karn). Two samples start the RTT variance from a measure, not from
   * half the first sample, so a lost first request is probed sooner.
   */
  rttSamples(now: number): readonly number[] {
    const samples: number[] = [];
    if (this.retryRtt !== undefined) samples.push(this.retryRtt);
    if (!this.initialAmbiguous) samples.push(now - this.lastInitialSent);
    return samples;
  }

  /**
   * Once the ACCEPT's RTT sample is in: the loss rate the handshake
   * suggests, if it is a measure. A resend counts as a loss only if no answer
   * could have been on its way: on a path faster than the blind timer every
   * resend does (two answers for all n INITIALs); on a slower one only
   * resends timed on the RETRY's round trip do (one ACCEPT for the n
   * INITIALs with the cookie). Copies lose a leg only when all are lost, so
   * resends say little on a lossy path; but after one INITIAL and its copies
   * (the cookie phase timed) every RETRY copy was due before the ACCEPT, and
   * the share that came is a measure too: two RETRYs per INITIAL, each crossing
   * the path twice.
   */
  lossRateSeed(hasRttSample: boolean, srttMs: number): number | undefined {
    let rate: number | undefined;
    if (hasRttSample && srttMs < INITIAL_RESEND_MS) rate = 1 - Math.sqrt(Math.min(1, 2 / this.sentInitials));
    else if (this.cookieTimed) rate = 1 - Math.sqrt(1 / Math.max(1, this.cookieInitials));
    if (!this.cookieTimed) return rate;
    const retriesDue = (1 + this.params.copies) * (1 + HANDSHAKE_COPIES);
    return Math.max(rate ?? 0, 1 - Math.sqrt(Math.min(1, this.retriesSeen / retriesDue)));
  }
}

/** The server's side: the ACCEPT (with its copy; resent when the client repeats its INITIAL) and the RTT it times. */
export class ServerHandshake {
  private acceptDue = true;
  /** When the copy of the first ACCEPT is due (`Infinity`: none owed). */
  private copyDue = Number.POSITIVE_INFINITY;
  private copiesLeft: number;
  /** When the first ACCEPT left (NaN once the client's first packet was timed). */
  private acceptSentAt = Number.NaN;

  constructor(
    private readonly params: HandshakeParams,
    /** What the ACCEPT carries of the handshake: the server hello, or nothing in plaintext mode. */
    private readonly serverHello: Uint8Array | undefined,
  ) {
    this.copiesLeft = params.copies;
  }

  /** Whether an ACCEPT must be sent at `now`. */
  acceptPending(now: number): boolean {
    return this.acceptDue || now >= this.copyDue;
  }

  /** When the ACCEPT's copy is due (`Infinity`: none owed). */
  copyDeadline(): number {
    return this.copyDue;
  }

  /** The client repeated its INITIAL (or its copy arrived): our ACCEPT may be lost, send it again. */
  onInitialAgain(): void {
    this.acceptDue = true;
  }

  /** The ACCEPT, written into `scratch`. `firstPacket`: nothing was sent before it. */
  pollAccept(now: number, scratch: Uint8Array, remoteCid: number, firstPacket: boolean): Uint8Array {
    this.acceptDue = false;
    if (firstPacket) {
      // Timed from the first ACCEPT: the client's first packet answers it or a later one, so the
      // sample can only be long, never short (Karn's ambiguity is the other way round).
      this.acceptSentAt = now;
      this.copyDue = this.copiesLeft > 0 ? now + this.params.copySpacingMs : Number.POSITIVE_INFINITY;
    } else if (now >= this.copyDue) {
      this.copiesLeft--;
      this.copyDue = this.copiesLeft > 0 ? now + this.params.copySpacingMs : Number.POSITIVE_INFINITY;
    }
    return encodeAccept(scratch, remoteCid, {
      scid: this.params.localCid,
      params: { receiveWindow: this.params.receiveWindow, initialLimit: this.params.initialLimit },
      kind: this.serverHello === undefined ? AcceptKind.Plaintext : AcceptKind.ServerHello,
      handshake: this.serverHello ?? NO_TOKEN,
    });
  }

  /**
   * A packet from the client arrived. The client sends one the moment the
   * ACCEPT arrives (its request, or an empty answer when it has none), so
   * its first packet times a round trip; without this the server knows no
   * RTT until the client acknowledges its first reply, and a lost first
   * reply waited for a probe timeout on the 250 ms initial RTT (~775 ms).
   * When that packet was lost, the first to come is late, and the sample
   * long (a bound, used below the initial RTT); at the initial RTT or more
   * it is no measure: `undefined`. The client has an ACCEPT, so a copy still
   * owed is not sent.
   */
  onClientPacket(now: number): number | undefined {
    this.copyDue = Number.POSITIVE_INFINITY;
    if (Number.isNaN(this.acceptSentAt)) return undefined;
    const sample = now - this.acceptSentAt;
    this.acceptSentAt = Number.NaN;
    return sample < INITIAL_RTT_MS ? sample : undefined;
  }
}
