/**
 * Packet protection of one connection after its handshake: seals outgoing
 * packets, opens incoming ones, rejects replays and runs key updates with a
 * key-phase bit as RFC 9001 §6 does. Pure state, no I/O, no clock; every
 * outcome is a value.
 *
 * Use by the core, per packet:
 * - send: write `keyPhase()` into the header, then `seal(header, pn, payload)`;
 * - receive: parse the header (key phase bit, packet number), then
 *   `open(header, keyPhaseBit, pn, ciphertext)`; on `ok: false` drop the packet,
 *   count `reason`, never answer it; on `reason: 'integrity-limit'` close the connection.
 *
 * `pn` is always the full packet number (restored from a truncated one on
 * receive): it is the nonce, so a wrong restoration fails authentication,
 * and only a packet that opened may move the largest-received number.
 */
import { CHACHA20_POLY1305_LIMITS, type AeadLimits } from './aead-limits.js';
import { TAG_LEN, type CryptoProvider } from './crypto-provider.js';
import { KeyArena } from './key-arena.js';
import { PluginFault } from './plugin-fault.js';
import { nextPacketKey, packetKeyBytes, packetKeyFromSecret, type PacketKey } from './packet-key.js';
import { DEFAULT_REPLAY_WINDOW, ReplayWindow } from './replay-window.js';

/**
 * Packets kept back below a send key's confidentiality limit for the
 * connection's goodbye: once the key comes this close and no key update may
 * start ({@link PacketProtection.sendKeySpent}), the core closes the
 * connection, and its CLOSE (and the answers to the peer's packets while it
 * drains) are sealed within these; past the limit nothing is sealed at all.
 */
export const CLOSE_RESERVE = 64;

/**
 * Packets of the peer's current key phase that must open before it may start the next one while the
 * previous phase's keys are still kept: half the smallest `keyUpdateAfterPackets` (32, core/config.ts),
 * so an honest peer losing under half its packets never waits, and a hostile one pays for each update
 * (two key derivations, some 80 opens) with 16 packets.
 */
export const MIN_PEER_PHASE_PACKETS = 16;

/** A key phase bit. */
export type KeyPhase = 0 | 1;

/** Why an incoming packet was dropped. */
export type OpenFailure =
  | 'duplicate' // a packet number already accepted: a replay or a network duplicate
  | 'too-old' // below the replay window (cannot be told from a replay), or of a key phase whose keys are gone
  | 'auth' // the tag did not verify (forged, altered, or keys out of step)
  | 'integrity-limit'; // too many forgeries on this connection: close it

/** The outcome of `open`. */
export type OpenResult =
  | { readonly ok: true; readonly plaintext: Uint8Array; readonly keyUpdated: boolean }
  | { readonly ok: false; readonly reason: OpenFailure };

/** The outcome of `seal`. */
export type SealResult = { readonly ok: true; readonly packet: Uint8Array } | { readonly ok: false; readonly reason: 'key-exhausted' };

/** Settings of {@link PacketProtection}. */
export interface PacketProtectionOptions {
  /** The first traffic secret we send with (initiator: the handshake's initiator secret). */
  readonly sendSecret: Uint8Array;
  /** The first traffic secret the peer sends with. */
  readonly receiveSecret: Uint8Array;
  readonly limits?: AeadLimits;
  /** Replay window width in packets (multiple of 32). Default 1024. */
  readonly replayWindow?: number;
  /** Where the replay window and the first keys live (default: an arena of their own; see {@link protectionArenaBytes}). */
  readonly arena?: KeyArena;
}

/** The arena bytes {@link PacketProtection} takes for its replay window and first keys. */
export const protectionArenaBytes = (options: Pick<PacketProtectionOptions, 'sendSecret' | 'receiveSecret' | 'replayWindow'>): number =>
  (options.replayWindow ?? DEFAULT_REPLAY_WINDOW) / 8 + packetKeyBytes(options.sendSecret.length) + packetKeyBytes(options.receiveSecret.length);

/** Counters for stats. */
export interface ProtectionCounters {
  readonly sealed: number;
  readonly opened: number;
  readonly authFailures: number;
  readonly replays: number;
  readonly keyUpdates: number;
}

/**
 * `sendPhaseStart` once a derivation of the next send keys threw, or the keys it made threw sealing their first
 * packet (a provider's fault): the current phase then never counts as acknowledged, so no key update is tried
 * again (see `initiateKeyUpdate`).
 */
const NO_UPDATE = -2;

/**
 * The send keys a key update replaced, with the packets they had sealed, kept until the first packet
 * sealed with the new keys works: a provider whose new keys throw there (a fault, which ends the
 * connection) gets the previous ones back, which the peer still reads (it saw no packet of the new
 * phase), so the CLOSE is sealed and heard. By connection, beside it, not a field of each: a connection
 * holds an entry only from a key update to its next packet.
 */
const PREVIOUS_SEND = new WeakMap<PacketProtection, { readonly key: PacketKey; readonly sealed: number }>();

/** Packet protection of one connection (both directions). */
export class PacketProtection {
  private readonly limits: AeadLimits;
  private readonly window: ReplayWindow;

  private sendGen: number = 0;
  private send: PacketKey;
  private sealedWithKey = 0;
  /** The first packet number sealed with the current send keys (-1: none yet; {@link NO_UPDATE}: no update any more). */
  private sendPhaseStart = -1;
  /** Whether the peer acknowledged a packet sealed with the current send keys (RFC 9001 §6.1: no update before). */
  private sendPhaseAcked = false;

  private recvGen: number = 0;
  private recvCurrent: PacketKey;
  /** Derived when first needed (a packet of the other phase): most connections never update keys. */
  private recvNextCache: PacketKey | undefined;
  private recvPrevious: PacketKey | undefined;
  /** Lowest packet number opened with the current receive keys; older numbers of the other phase belong to the previous keys. */
  private recvPhaseStart = 0;
  /**
   * A packet number of the phase before the current receive keys' (the lowest that phase opened): the
   * peer numbers each phase above the last, so a packet of the current bit below it is of a phase two or
   * more back (its bit is the current one's again), too old to open; -1: none (phase 0).
   */
  private recvPhaseFloor = -1;
  /** Whether the peer has sent a packet with the current receive keys (it may not be asked to update again before). */
  private peerUsesCurrent = false;
  /** The receive keys rotated since {@link takeRotation} last asked. */
  private rotated = false;
  /** Packets opened with the current receive keys (see {@link mayFollow}). */
  private openedInPhase = 0;

  // Counters as fields, not an object of their own: every connection has them.
  private sealed = 0;
  private opened = 0;
  private authFailures = 0;
  private replays = 0;
  private keyUpdates = 0;

  constructor(
    private readonly crypto: CryptoProvider,
    options: PacketProtectionOptions,
  ) {
    this.limits = options.limits ?? CHACHA20_POLY1305_LIMITS;
    const arena = options.arena ?? new KeyArena(protectionArenaBytes(options));
    this.window = new ReplayWindow(options.replayWindow ?? DEFAULT_REPLAY_WINDOW, arena);
    this.send = packetKeyFromSecret(this.crypto, options.sendSecret, arena);
    this.recvCurrent = packetKeyFromSecret(this.crypto, options.receiveSecret, arena);
  }

  /** The peer's next-phase keys. Derived once, then kept, so forged packets of the other phase cost one derivation, not one each. */
  private recvNext(): PacketKey {
    this.recvNextCache ??= nextPacketKey(this.crypto, this.recvCurrent);
    return this.recvNextCache;
  }

  /** The key phase bit to write into the header of the next packet. */
  keyPhase(): KeyPhase {
    return (this.sendGen & 1) as KeyPhase;
  }

  /** Packets sealed so far (`counters().sealed`, without the object: the goodbye asks it of every CLOSE). */
  get packetsSealed(): number {
    return this.sealed;
  }

  /** Counters so far. */
  counters(): ProtectionCounters {
    return { sealed: this.sealed, opened: this.opened, authFailures: this.authFailures, replays: this.replays, keyUpdates: this.keyUpdates };
  }

  /**
   * Seals one packet: `header` (already carrying `keyPhase()`) is authenticated,
   * `payload` encrypted; returns the ciphertext with its tag to append to the header.
   */
  seal(header: Uint8Array, pn: number, payload: Uint8Array): SealResult {
    const packet = new Uint8Array(payload.length + TAG_LEN);
    return this.sealInto(header, pn, payload, packet) ? { ok: true, packet } : { ok: false, reason: 'key-exhausted' };
  }

  /**
   * {@link seal} into `out` (`payload.length + TAG_LEN` bytes, e.g. the rest of
   * the datagram after its header), so sending copies nothing. False when the
   * key is exhausted (never: keys update long before, and the core asks
   * {@link sendKeySpent} before each packet's header, which updates them or
   * closes the connection first).
   */
  sealInto(header: Uint8Array, pn: number, payload: Uint8Array, out: Uint8Array): boolean {
    if (this.sealedWithKey >= this.limits.confidentialityLimit) return false;
    try {
      this.send.sealInto(header, pn, payload, out);
    } catch (e) {
      this.keepPreviousSend();
      throw e;
    }
    this.sealedWithKey++;
    this.sealed++;
    if (this.sendPhaseStart === -1) this.sealedFirst(pn);
    if (this.sealedWithKey >= this.limits.updateAfterPackets) this.initiateKeyUpdate();
    return true;
  }

  /**
   * Whether the send keys are within {@link CLOSE_RESERVE} packets of their
   * confidentiality limit and no key update may start: the connection must
   * close (RFC 9001 §6.6: update the keys or stop using the connection), its
   * CLOSE sealed within the reserve. Starts the update instead when it may,
   * and is then false. Asked before each packet of an open connection.
   */
  sendKeySpent(): boolean {
    return this.sealedWithKey >= this.limits.confidentialityLimit - CLOSE_RESERVE && !this.initiateKeyUpdate();
  }

  /** Whether the send keys may seal another packet (below their confidentiality limit): a draining connection's CLOSE goes only while they may. */
  get canSeal(): boolean {
    return this.sealedWithKey < this.limits.confidentialityLimit;
  }

  /**
   * Whether {@link sealPacket} and {@link openPacket} take the provider's
   * whole-datagram path ({@link CryptoProvider.packetAead}): the same for
   * every key of the connection. Without it they still work, through views.
   */
  get wholePackets(): boolean {
    return this.send.wholePackets;
  }

  /**
   * {@link sealInto} of a whole datagram: `datagram` (exactly `end + TAG_LEN`
   * bytes) gets the header `source[0, headerLength)` (already carrying
   * `keyPhase()`), then `source[headerLength, end)` sealed with it. False
   * when the key is exhausted, as `sealInto`.
   */
  sealPacket(pn: number, source: Uint8Array, headerLength: number, end: number, datagram: Uint8Array): boolean {
    if (this.sealedWithKey >= this.limits.confidentialityLimit) return false;
    try {
      this.send.sealPacket(pn, source, headerLength, end, datagram);
    } catch (e) {
      this.keepPreviousSend();
      throw e;
    }
    this.sealed++;
    ++this.sealedWithKey;
    if (this.sendPhaseStart === -1) this.sealedFirst(pn);
    if (this.sealedWithKey >= this.limits.updateAfterPackets) this.initiateKeyUpdate();
    return true;
  }

  /**
   * Starts a key update now if allowed (RFC 9001 §6.1, §6.5): one at a time
   * (the peer must have sent with our current receive keys), only once the
   * peer acknowledged a packet sealed with our current keys (so it holds
   * them: else our next phase would carry the bit of the phase it still
   * reads, and it could open nothing of ours again), and only once the
   * previous receive keys are discarded ({@link discardPreviousKeys}, three
   * probe timeouts after the last update: late packets of a phase two back
   * would carry the bit of the new one). Returns whether it started.
   * Never again once a derivation of the next keys threw, or the keys it
   * made threw sealing their first packet (a provider's fault, which ends
   * the connection: {@link NO_UPDATE}): the keys in use (or taken back,
   * `keepPreviousSend`) still seal, and its CLOSE, sealed with them, would
   * otherwise try the update again and throw in its turn, the goodbye lost.
   */
  initiateKeyUpdate(): boolean {
    if (this.sendGen !== this.recvGen || !this.peerUsesCurrent || !this.sendPhaseAcked || this.recvPrevious !== undefined) return false;
    this.advanceSend();
    return true;
  }

  /**
   * The peer acknowledged packets up to `largestAcked` (the largest number it
   * ever acknowledged): once that is one sealed with the current send keys,
   * the peer holds them, and the next update may start.
   */
  acknowledged(largestAcked: number): void {
    if (!this.sendPhaseAcked && this.sendPhaseStart >= 0 && largestAcked >= this.sendPhaseStart) this.sendPhaseAcked = true;
  }

  /**
   * Packet `pn` is the first the current send keys sealed: the keys a key update replaced (if any) are
   * not needed any more ({@link PREVIOUS_SEND}). Wiped last: a provider's key that throws as it is disposed
   * of leaves the new keys and their phase bit in step, so the connection's CLOSE, sealed with them,
   * carries that bit and the peer opens it (the packet just sealed is lost with the throw).
   */
  private sealedFirst(pn: number): void {
    this.sendPhaseStart = pn;
    const previous = PREVIOUS_SEND.get(this);
    if (previous === undefined) return;
    PREVIOUS_SEND.delete(this);
    previous.key.wipe();
  }

  /**
   * The current send keys threw sealing (a provider's fault, which ends the connection): if they sealed
   * nothing yet after a key update, the keys they replaced are taken back, with their phase bit and count,
   * and no update is tried again ({@link NO_UPDATE}). The peer saw no packet of the new phase, so it still
   * reads the previous one: the CLOSE, sealed with those keys, reaches it. The keys that threw are wiped.
   */
  private keepPreviousSend(): void {
    const previous = PREVIOUS_SEND.get(this);
    if (previous === undefined) return;
    PREVIOUS_SEND.delete(this);
    const failed = this.send;
    this.send = previous.key;
    this.sendGen--;
    this.sealedWithKey = previous.sealed;
    this.keyUpdates--;
    this.sendPhaseAcked = false;
    this.sendPhaseStart = NO_UPDATE;
    wipeQuietly(failed);
  }

  private advanceSend(): void {
    const old = this.send;
    try {
      this.send = nextPacketKey(this.crypto, old);
    } catch (e) {
      // Never acknowledged from now on (`acknowledged`), so no update starts again: a field of its own would be
      // memory every connection holds for a fault of one.
      this.sendPhaseAcked = false;
      this.sendPhaseStart = NO_UPDATE;
      throw e;
    }
    // Kept until the new keys sealed a packet (sealedFirst), then wiped: taken back if they cannot (keepPreviousSend).
    PREVIOUS_SEND.set(this, { key: old, sealed: this.sealedWithKey });
    this.sendGen++;
    this.sealedWithKey = 0;
    this.sendPhaseStart = -1;
    this.sendPhaseAcked = false;
    this.keyUpdates++;
  }

  /** Counts a dropped packet; `'integrity-limit'` in place of `'auth'` once forgeries reach the limit. */
  private failed(reason: OpenFailure): OpenFailure {
    if (reason === 'auth') {
      this.authFailures++;
      if (this.authFailures >= this.limits.integrityLimit) return 'integrity-limit';
    } else {
      this.replays++;
    }
    return reason;
  }

  /**
   * Opens one packet. `header` must be the bytes exactly as received (they are
   * the associated data), `keyPhase` and `pn` as parsed from them. The
   * plaintext is written into `out` (`ciphertext.length - TAG_LEN` bytes) if
   * given, else into a new array.
   */
  open(header: Uint8Array, keyPhase: KeyPhase, pn: number, ciphertext: Uint8Array, out?: Uint8Array): OpenResult {
    const generation = this.recvGen;
    const plaintext = out ?? new Uint8Array(Math.max(0, ciphertext.length - TAG_LEN));
    const failure = this.openInto(header, keyPhase, pn, ciphertext, plaintext);
    return failure === undefined ? { ok: true, plaintext, keyUpdated: this.recvGen !== generation } : { ok: false, reason: failure };
  }

  /**
   * {@link open} into `out` (`ciphertext.length - TAG_LEN` bytes; any array
   * when the ciphertext is shorter than a tag, which fails before it is
   * used), with no result object: `undefined` when it opened, else why it
   * was dropped. The per-packet path of the core (an object per packet was
   * heap the server allocated per message).
   */
  openInto(header: Uint8Array, keyPhase: KeyPhase, pn: number, ciphertext: Uint8Array, out: Uint8Array): OpenFailure | undefined {
    const verdict = this.window.check(pn);
    if (verdict !== 'fresh') return this.failed(verdict);
    if (ciphertext.length < TAG_LEN) return this.failed('auth');
    const key = this.receiveKey(keyPhase, pn);
    if (key === undefined) return this.failed('too-old');
    if (!key.openInto(header, pn, ciphertext, out)) return this.failed('auth');
    this.accepted(key, pn);
    return undefined;
  }

  /**
   * {@link openInto} of a whole datagram, in place: `datagram[headerLength,
   * end)` (ciphertext and tag) opened with `datagram[0, headerLength)` (the
   * header as received) as associated data; the plaintext is
   * `datagram[headerLength, end - TAG_LEN)`. `undefined` when it opened,
   * else why it was dropped (its bytes are then unspecified).
   */
  openPacket(keyPhase: KeyPhase, pn: number, datagram: Uint8Array, headerLength: number, end: number): OpenFailure | undefined {
    const verdict = this.window.check(pn);
    if (verdict !== 'fresh') return this.failed(verdict);
    if (end - headerLength < TAG_LEN) return this.failed('auth');
    const key = this.receiveKey(keyPhase, pn);
    if (key === undefined) return this.failed('too-old');
    if (!key.openPacket(pn, datagram, headerLength, end)) return this.failed('auth');
    this.accepted(key, pn);
    return undefined;
  }

  /**
   * The receive key a packet of `keyPhase` numbered `pn` claims: the current phase's, or of the other
   * phase an older packet's (the previous keys) or the peer's next keys (a key update). `undefined`: an
   * older packet of the other phase once the previous keys are discarded, a newer one while they are
   * kept (the peer updating again sooner than it may), or one of the current bit below
   * the previous phase's packets (a phase two or more back, whose keys are gone), dropped as too old
   * without a tag check (the peer numbers each phase above every packet of the one before, so neither
   * can be of a phase it reads now): an honest late packet is not counted a forgery.
   */
  private receiveKey(keyPhase: KeyPhase, pn: number): PacketKey | undefined {
    if (keyPhase === (this.recvGen & 1)) return pn < this.recvPhaseFloor ? undefined : this.recvCurrent;
    if (pn < this.recvPhaseStart) return this.recvPrevious;
    return this.mayFollow() ? this.recvNext() : undefined;
  }

  /**
   * Whether a packet of the peer's next phase may be tried: each update the peer starts costs two key
   * derivations, and a peer starting one in every packet made each packet cost some 80 times an open
   * (attack round 26). So it may start one only once the previous keys are gone (three probe timeouts after
   * its last, RFC 9001 §6.5) or once {@link MIN_PEER_PHASE_PACKETS} of its packets opened in the current
   * phase (an honest peer seals at least 32 a phase). Its update that follows ours is always taken: ours
   * starts only once the previous keys are gone ({@link initiateKeyUpdate}). A packet refused here is
   * dropped as too old with no derivation, and opens when sent again after.
   */
  private mayFollow(): boolean {
    return this.recvPrevious === undefined || this.openedInPhase >= MIN_PEER_PHASE_PACKETS;
  }

  /** Packet `pn` opened with `key`: marks it seen, and follows the peer into its next key phase when `key` was those keys. */
  private accepted(key: PacketKey, pn: number): void {
    this.window.mark(pn);
    this.opened++;
    if (key === this.recvCurrent) {
      this.openedInPhase++;
      this.peerUsesCurrent = true;
      this.recvPhaseStart = Math.min(this.recvPhaseStart, pn);
    } else if (key !== this.recvPrevious) {
      // The peer moved to the next phase: rotate the receive keys, and follow with the send keys if we did not start it.
      const retired = this.recvPrevious;
      this.recvPrevious = this.recvCurrent;
      this.recvCurrent = key;
      this.recvNextCache = undefined;
      this.recvGen++;
      this.recvPhaseFloor = this.recvPhaseStart;
      this.recvPhaseStart = pn;
      this.peerUsesCurrent = true;
      this.openedInPhase = 1;
      this.rotated = true;
      try {
        if (this.sendGen < this.recvGen) this.advanceSend();
      } catch (e) {
        // The next send key's derivation threw (a provider's fault, which ends the connection): the retired key,
        // already let go, is still wiped. Its own dispose throwing too must not hide the fault that came first.
        wipeQuietly(retired);
        throw e;
      }
      // Last, as in advanceSend: a provider's key that throws as it is disposed of leaves the rotation whole.
      retired?.wipe();
    }
  }

  /**
   * Whether a packet {@link openInto} refused as a `'duplicate'` is
   * nonetheless authentic (`'copy'`): a copy of one already opened, not a
   * forgery (replays are refused before the tag is checked). Opens it into
   * `out` without marking anything. A duplicate that fails is a forgery
   * (`'auth'`, counted), and `'integrity-limit'` once forgeries reach the
   * limit, as {@link openInto} says it: each is a tag check an attacker
   * chose, so the connection must close there as for any other. One AEAD
   * open: the core asks only while a copy would tell it something (a
   * server connection that moved to a client's new port it has not
   * validated). `'not-duplicate'`: the number was not a duplicate.
   * `'too-old'`: of a phase whose keys are gone (the previous one once
   * discarded, or one two or more back), so it cannot be told from a
   * forgery and is dropped as {@link openInto} drops a fresh packet of such
   * a phase, with no tag check and not counted again (it was counted a
   * replay): an honest copy late by three probe timeouts is no forgery.
   */
  authenticCopy(header: Uint8Array, keyPhase: KeyPhase, pn: number, ciphertext: Uint8Array, out: Uint8Array): 'copy' | 'auth' | 'integrity-limit' | 'not-duplicate' | 'too-old' {
    if (this.window.check(pn) !== 'duplicate') return 'not-duplicate';
    let key: PacketKey | undefined;
    if (keyPhase === (this.recvGen & 1)) {
      if (pn < this.recvPhaseFloor) return 'too-old';
      key = this.recvCurrent;
    } else if (pn < this.recvPhaseStart) {
      if (this.recvPrevious === undefined) return 'too-old';
      key = this.recvPrevious;
    }
    // Of the other phase above the current keys' first packet: the next keys, which opened nothing yet, so no copy.
    if (ciphertext.length >= TAG_LEN && key !== undefined && key.openInto(header, pn, ciphertext, out)) return 'copy';
    return this.failed('auth') === 'integrity-limit' ? 'integrity-limit' : 'auth';
  }

  /**
   * Whether the receive keys rotated (the peer's first packet of a new key
   * phase opened) since the last call; the call clears it. The core asks
   * after each packet opened, to discard the previous keys three probe
   * timeouts later (core/connection/old-keys.ts).
   */
  takeRotation(): boolean {
    const rotated = this.rotated;
    this.rotated = false;
    return rotated;
  }

  /** Whether the previous phase's receive keys are still held (late packets of the old phase still open). */
  get holdsPreviousKeys(): boolean {
    return this.recvPrevious !== undefined;
  }

  /**
   * The connection ended: the send keys a key update replaced, still kept when no packet followed the update
   * ({@link PREVIOUS_SEND}: a connection that ended right after it, without a goodbye or before its CLOSE was
   * sealed), are wiped, as they would have been by that packet. The keys in use are the connection's to the
   * end. A provider's key that throws as it is disposed of (a {@link PluginFault}) is dropped: its bytes are
   * zeroed before, and the connection has ended, with no one left to tell. Anything else thrown is a bug of
   * rudp's own (its shipped providers' included) and propagates, as everywhere: no other error is on its way here.
   */
  end(): void {
    const previous = PREVIOUS_SEND.get(this);
    if (previous === undefined) return;
    PREVIOUS_SEND.delete(this);
    try {
      previous.key.wipe();
    } catch (e) {
      if (!(e instanceof PluginFault)) throw e;
    }
  }

  /**
   * Forgets the previous phase's receive keys: late packets of the old phase
   * are dropped as too old from then on. The core calls this three probe
   * timeouts after a key update (RFC 9001 §6.5: core/connection/old-keys.ts);
   * the next update waits for it ({@link initiateKeyUpdate}).
   */
  discardPreviousKeys(): void {
    const retired = this.recvPrevious;
    // Forgotten before the wipe, which may throw (a provider's key): a key left held with its bytes zeroed would count the
    // old phase's late packets as forgeries.
    this.recvPrevious = undefined;
    retired?.wipe();
  }
}

/** Wipes `key` while another error is on its way: a throw of its dispose (the key's bytes are zeroed before it) is dropped. */
function wipeQuietly(key: PacketKey | undefined): void {
  try {
    key?.wipe();
  } catch {
    // The error being thrown is the one to report.
  }
}
