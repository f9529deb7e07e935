/**
 * A client's attempt to connect, from its first INITIAL to the ACCEPT that
 * establishes the connection or refuses it. handshake.ts times the INITIALs;
 * this file keeps the Noise state beside that timing and decides what an
 * ACCEPT means before the connection believes anything in it: a refusal,
 * another key than the pinned one, a downgrade to plaintext, a forged or
 * altered hello, or the server's connection id, window, keys, identity and
 * stateless reset token.
 * The connection drops the attempt once established (cold code: nothing
 * here runs per data packet).
 */
import { ClientHandshake, type HandshakeParams } from './handshake.js';
import type { PacketDrop } from './packet-sealing.js';
import type { RttEstimator } from './recovery/rtt.js';
import type { RepairPolicy } from './repair/repair-policy.js';
import type { PeerAddress } from './sans-io.js';
import { decodeServerParams } from './security.js';
import type { ClientHandshake as NoiseHandshake, SessionKeys } from '../crypto/index.js';
import { MAX_RECEIVE_WINDOW } from '../wire/frame.js';
import { type AcceptPayload, AcceptKind, BusyReason } from '../wire/packet.js';
import { MIN_RECEIVE_WINDOW } from './credit.js';

/**
 * Ends the message of a refusal that came before the handshake (a `Busy` ACCEPT, a VERSION packet): nothing
 * authenticates it, so its words may be anyone's who saw the INITIAL (attack round 33: a forged one read as the
 * server's). What it can say is one of a few fixed reasons, and it ends only the one attempt.
 */
export const UNAUTHENTICATED_REFUSAL = ' (unauthenticated, sent in clear before the handshake)';

/** A server key other than the pinned one, reported by a `refused` close. */
export interface KeyMismatch {
  readonly expected: Uint8Array;
  readonly offered: Uint8Array;
}

/** What an ACCEPT means to a client still connecting. */
export type AcceptOutcome =
  /** It checked out: the connection is established with what it carried (keys, server key and reset token: none in plaintext mode). */
  | {
      readonly kind: 'accepted';
      readonly remoteCid: number;
      readonly peerWindow: number;
      readonly peerLimit: number;
      readonly keys: SessionKeys | undefined;
      readonly serverKey: Uint8Array | undefined;
      readonly resetToken: Uint8Array | undefined;
    }
  /**
   * The server refused the connection: it ends, and its close says why (`mismatch`: the server proved
   * another key than the pinned one). Not counted as a drop: the answer was well formed and acted on.
   */
  | { readonly kind: 'refused'; readonly message: string; readonly mismatch: KeyMismatch | undefined }
  /**
   * The server's own ACCEPT (it authenticated) announced what no server may: the attempt ends at once,
   * a protocol violation, its close saying why, and a CLOSE sealed with the handshake's keys to the
   * server's connection (`remoteCid`) tells the server. Only a sealed ACCEPT gets here: a forged one is dropped.
   */
  | { readonly kind: 'invalid'; readonly message: string; readonly remoteCid: number; readonly keys: SessionKeys }
  /** Dropped and counted; the genuine ACCEPT still completes the handshake. */
  | { readonly kind: 'dropped'; readonly why: PacketDrop }
  /** Nothing changes, and nothing is counted. */
  | { readonly kind: 'ignored' };

// Shared: an attacker's ACCEPT per datagram should not cost an object each.
const IGNORED: AcceptOutcome = { kind: 'ignored' };
const MALFORMED: AcceptOutcome = { kind: 'dropped', why: 'malformed' };
const FORGED: AcceptOutcome = { kind: 'dropped', why: 'auth' };
const DOWNGRADE: AcceptOutcome = { kind: 'dropped', why: 'unprotected' };

/**
 * What a `Busy` refusal's reason byte says, for a client that encrypts or
 * not; `undefined` for a mode refusal that cannot be meant for it (it
 * already does what the server asks). An unknown byte reads as a full
 * server, as clients before the mode refusals read every byte but one.
 */
function refusalReason(reason: number | undefined, encrypts: boolean): string | undefined {
  switch (reason) {
    case BusyReason.HostFull:
      return 'it has too many connections from this address';
    case BusyReason.HostRate:
      return 'too many new connections from this address; try again in a few seconds';
    case BusyReason.EncryptionRequired:
      return encrypts ? undefined : "the server requires encryption (this client has 'plaintext: true')";
    case BusyReason.NoEncryption:
      return encrypts ? "the server does not encrypt (it has 'plaintext: true'; this client requires encryption)" : undefined;
    default:
      return 'it has too many connections';
  }
}

/** A client connection's handshake until it is established: the INITIAL's timing and the Noise state that reads the server's hello. */
export class ConnectAttempt {
  /** INITIAL resends, RETRY, and what they measured of the path. */
  readonly timing: ClientHandshake;
  /**
   * The window and first limit of the first plaintext ACCEPT dropped for them (`undefined`: none), for
   * the "no answer" close (`noAnswerNote`).
   */
  private droppedWindow: readonly [window: number, initialLimit: number] | undefined = undefined;
  /** ACCEPTs whose Noise answer failed to authenticate (`FORGED`), for the "no answer" close (`noAnswerNote`). */
  private failedAccepts = 0;

  constructor(
    params: HandshakeParams,
    now: number,
    /** Reads the server's hello (`undefined`: plaintext mode). */
    private readonly noise: NoiseHandshake | undefined,
  ) {
    this.timing = new ClientHandshake(params, now, noise?.hello);
  }

  /** What `accept` from the server at `remote` means. */
  check(accept: AcceptPayload, remote: PeerAddress): AcceptOutcome {
    const noise = this.noise;
    if (accept.kind === AcceptKind.Busy) {
      // A server refuses only an INITIAL that carried its cookie: a refusal before that is forged.
      if (!this.timing.hasToken) return MALFORMED;
      // Unauthenticated, as a RETRY is: forging it takes the client's connection id and address, as forging a RETRY does.
      // It only ever ends the attempt: an encrypting client told the server does not encrypt never falls back to plaintext.
      const why = refusalReason(accept.handshake[0], noise !== undefined);
      if (why === undefined) return MALFORMED;
      return { kind: 'refused', message: `the server at ${remote} refused the connection: ${why}${UNAUTHENTICATED_REFUSAL}`, mismatch: undefined };
    }
    if (noise === undefined) {
      if (accept.kind !== AcceptKind.Plaintext) return MALFORMED;
      // A window no message fits is no window: a broken or hostile server's, refused as malformed. Kept
      // for the timeout's reason: a broken server's attempt ended as a bare "no answer" from a server that
      // had answered. Only kept: in clear, anyone who saw the INITIAL can send one, so it ends nothing.
      if (!windowsValid(accept.params.receiveWindow, accept.params.initialLimit)) {
        this.droppedWindow ??= [accept.params.receiveWindow, accept.params.initialLimit];
        return MALFORMED;
      }
      return { kind: 'accepted', remoteCid: accept.scid, peerWindow: accept.params.receiveWindow, peerLimit: accept.params.initialLimit, keys: undefined, serverKey: undefined, resetToken: undefined };
    }
    if (accept.kind === AcceptKind.WrongKey) {
      // The server answers a hello only in a cookie INITIAL (admission.ts), so a WrongKey before the cookie is
      // forged, as an early Busy is: unchecked, it ended a pinned client's attempt with the changed-key
      // refusal from the first INITIAL on, a round trip before any server could have said so.
      if (!this.timing.hasToken) return MALFORMED;
      const r = noise.finish(accept.handshake, true);
      if (r.ok) return IGNORED;
      if (r.error !== 'server-key-mismatch') return MALFORMED;
      return { kind: 'refused', message: `the server at ${remote} proved another key than the pinned one`, mismatch: { expected: r.expected, offered: r.offered } };
    }
    // A plaintext ACCEPT to a client that asked for encryption is a downgrade: refuse it.
    if (accept.kind !== AcceptKind.ServerHello) return DOWNGRADE;
    const r = noise.finish(accept.handshake);
    const params = r.ok ? decodeServerParams(r.payload) : undefined;
    // Forged or altered on the path: dropped and counted, and the genuine ACCEPT (tried on a fresh
    // copy of the Noise state) still completes the handshake.
    if (!r.ok || params === undefined || params.scid !== accept.scid || params.receiveWindow !== accept.params.receiveWindow || params.initialLimit !== accept.params.initialLimit) {
      this.failedAccepts++;
      return FORGED;
    }
    // Authenticated, so the server's own: a window no message fits is a broken server's. Its genuine
    // ACCEPT will say no better (both copies carry the same), so the attempt ends now, saying why, rather
    // than at the handshake timeout as "no answer" (as it did when this was dropped as malformed).
    if (!windowsValid(params.receiveWindow, params.initialLimit)) {
      const message = `protocol violation: the server at ${remote} announced an invalid receive window: ${windowProblem(params.receiveWindow, params.initialLimit)}`;
      return { kind: 'invalid', message, remoteCid: params.scid, keys: r.keys };
    }
    return { kind: 'accepted', remoteCid: params.scid, peerWindow: params.receiveWindow, peerLimit: params.initialLimit, keys: r.keys, serverKey: r.serverKey, resetToken: params.resetToken };
  }

  /**
   * What the handshake timeout's "no answer" reason adds (`CloseReason.note`): that a plaintext ACCEPT was dropped for an
   * invalid window (the first such), else that ACCEPTs came that failed to authenticate, else that a RETRY
   * came but no ACCEPT for the INITIALs carrying its cookie, else nothing (`undefined`). Told as unauthenticated, since
   * none proves anything.
   */
  noAnswerNote(): string | undefined {
    const w = this.droppedWindow;
    if (w !== undefined) return `an unauthenticated ACCEPT was dropped for announcing an invalid receive window: ${windowProblem(w[0], w[1])}`;
    // Every answer failed: the server's hello did not open under what this client sent, so something on the
    // path altered the INITIALs (their window, since protocol version 7 bound into the handshake) or forged
    // the answers. A bare "no answer" sent the user to look for a server that is down.
    const failed = this.failedAccepts;
    if (failed > 0) return `${failed} ACCEPT${failed === 1 ? '' : 's'} came that failed to authenticate (the INITIAL or the answer altered or forged on the path)`;
    // Something did answer: a bare "no answer" sent the user to look for a server that is down, where the
    // path lost the cookie INITIALs or their answers, or an on-path attacker's RETRY came first (attack round 22),
    // or (protocol version 7) rewrote their window, which a pinned client's server then cannot open, so never answers.
    const sent = this.timing.cookieInitialsSent;
    if (sent === 0) return undefined;
    return `a RETRY came, but no ACCEPT for any of the ${sent} INITIAL${sent === 1 ? '' : 's'} that carried its cookie back (lost or altered on the path, or the RETRY was forged)`;
  }

  /**
   * Starts `rtt` and `repair` from what the handshake measured, once its
   * ACCEPT arrived at `now`; `dataLossSeen`: a data packet was lost already.
   */
  seedEstimates(now: number, rtt: RttEstimator, repair: RepairPolicy, dataLossSeen: boolean): void {
    for (const sample of this.timing.rttSamples(now)) rtt.update(sample, 0);
    // The handshake is the first loss measurement. Starting from it, a lossy path gets repairs and tail
    // copies from the first request on, not ~50 packets later.
    const seed = this.timing.lossRateSeed(rtt.hasSample, rtt.srtt);
    if (seed !== undefined) repair.seed(seed, dataLossSeen);
  }
}

/**
 * Whether a handshake's window and first limit can carry messages: a window no message fits, a first
 * limit past the window, or a window past `MAX_RECEIVE_WINDOW` (the most a WINDOW frame may raise it to,
 * and the most the `receiveWindow` option takes) is a broken or hostile peer's. Refused, not clamped,
 * as the WINDOW frame's is: no honest peer announces more, and a value up to 2^53 taken as it came let
 * a handshake say what no later frame could.
 */
export function windowsValid(window: number, initialLimit: number): boolean {
  return window >= MIN_RECEIVE_WINDOW && window <= MAX_RECEIVE_WINDOW && initialLimit >= MIN_RECEIVE_WINDOW && initialLimit <= window;
}

/** What is wrong with a window and first limit that `windowsValid` refuses, for a close reason (not per attacker's packet: it builds a string). */
function windowProblem(window: number, initialLimit: number): string {
  if (window < MIN_RECEIVE_WINDOW || window > MAX_RECEIVE_WINDOW) return `${window} bytes (a window is ${MIN_RECEIVE_WINDOW} bytes to 2^40)`;
  return `a first limit of ${initialLimit} bytes in a window of ${window} (a first limit is ${MIN_RECEIVE_WINDOW} bytes to the window)`;
}
