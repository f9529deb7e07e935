/**
 * One rudp connection: the send queue, acknowledgements, loss recovery
 * (RFC 9002 style), flow control, keepalive, idle timeout and close. Pure:
 * `now` is always passed in and datagrams are polled out; the `Endpoint`
 * routes datagrams and timers to it.
 */
import type { ConnectionConfig } from './config.js';
import type { CongestionController } from './congestion.js';
import type { CloseKind, CloseReason, EndpointEvent } from './events.js';
import { type ChunkRef, OutgoingMessage } from './outgoing-message.js';
import { ByteSlab } from './byte-slab.js';
import { RangeSet } from './range-set.js';
import { Reassembly } from './reassembly.js';
import { REPAIR_ROW, encodeRepair, repairSymbolSize } from './repair-code.js';
import { type RecoveredMessage, RepairDecoder } from './repair-decoder.js';
import { INITIAL_RTT_MS, RttEstimator } from './rtt.js';
import { SentQueue } from './sent-queue.js';
import type { PeerAddress } from './sans-io.js';
import {
  type AckFrame,
  type Frame,
  type PnRange,
  MAX_CLOSE_REASON,
  MAX_REPAIR_COVER,
  MAX_SMALL_MESSAGE,
  ackFrameSize,
  fragmentHeaderSize,
  messageFrameSize,
  parseFrames,
  repairFrameSize,
  writeAck,
  writeClose,
  writeFragment,
  writeMaxData,
  writeMessage,
  writeMessageAck,
  writePing,
  writeRepair,
} from '../wire/frame.js';
import {
  HEADER_SIZE,
  PacketType,
  PacketWriter,
  type PnLength,
  TRAILER_SIZE,
  encodeInitial,
  expandPacketNumber,
  packetNumberLength,
} from '../wire/packet.js';
import { varintSize } from '../wire/varint.js';

/** A driver's timer granularity (Node's setTimeout floor), ms: the pacer's bucket bridges one tick. */
const PACING_TICK_MS = 1;
/** Room an ACK that is due may take in front of data. */
const ACK_ROOM = 16;
/** First retransmission interval of the client's INITIAL, ms. */
const INITIAL_RESEND_MS = 250;
/** Shortest interval between INITIAL retransmissions once a RETRY measured the path, ms. */
const INITIAL_RESEND_MIN_MS = 10;
/** Growth of the INITIAL resend interval per resend (QUIC doubles; a lossy path pays for every step). */
const INITIAL_BACKOFF = 1.5;
/** Most loss rate the handshake alone may suggest. */
const HANDSHAKE_LOSS_CAP = 0.5;
/** Longest interval between INITIAL retransmissions, ms. */
const INITIAL_RESEND_CAP_MS = 500;
/** Weight kept by the loss-rate average per packet outcome (about the last 50 packets count). */
const LOSS_EWMA_KEEP = 0.98;
/** Largest forward jump in packet numbers accepted from the peer. */
const MAX_PN_JUMP = 1 << 14;
/** Pacing tolerance for floating-point refill error, bytes. */
const PACE_EPSILON_BYTES = 1e-6;
/** Shortest wait for pacing tokens, ms. */
const PACE_MIN_WAIT_MS = 1e-3;
/** A receiver stops keeping messages for repairs after this long without one, ms. */
const REPAIR_IDLE_MS = 1_000;
/** Rounding slack of the repair credit (a sum of fractions that should reach 1). */
const REPAIR_CREDIT_EPSILON = 1e-9;
/** A lost message's resend waits for at most this many repairs that covered it. */
const REPAIRS_WAITED_FOR = 2;
/** Small messages remembered as candidates for repairs. */
const RECENT_SMALL = 16;
/** Most probe packets sent when the probe timer fires. */
const PTO_PROBES = 2;

/** Lifecycle of a connection. */
export type ConnectionState = 'handshake' | 'established' | 'closing' | 'draining' | 'closed';

/** Counters reported by `Connection.stats()`. */
export interface ConnectionStats {
  readonly packetsSent: number;
  readonly packetsReceived: number;
  readonly packetsRetransmitted: number;
  readonly packetsLost: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly duplicatePackets: number;
  readonly messagesSent: number;
  readonly messagesReceived: number;
  /** REPAIR frames sent (one per packet at most). */
  readonly repairsSent: number;
  /** Messages rebuilt from the peer's repairs instead of waiting for a resend. */
  readonly messagesRecovered: number;
  readonly srttMs: number;
  readonly rttVarMs: number;
  readonly minRttMs: number;
  readonly cwndBytes: number;
  readonly bytesInFlight: number;
  readonly congestionController: string;
}

/** What a connection needs from its endpoint. */
export interface ConnectionHost {
  emit(event: EndpointEvent): void;
  /** The connection has a whole message for the application. */
  readable(connection: Connection): void;
}

interface SentPacket {
  readonly pn: number;
  readonly timeSent: number;
  readonly size: number;
  readonly chunks: readonly ChunkRef[];
  readonly retransmission: boolean;
  /** Largest pn our ACK frame in this packet covered (-1 if none). */
  readonly ackLargest: number;
  readonly carriedMaxData: boolean;
  readonly delivered: number;
  readonly deliveredTime: number;
  readonly firstSentTime: number;
  readonly appLimited: boolean;
}

const encoder = new TextEncoder();
/** Outgoing datagrams are copied out of the scratch buffer into shared slabs. */
const SLAB = new ByteSlab();
/** Scratch space for one repair symbol. */
const REPAIR_SCRATCH = new Uint8Array(REPAIR_ROW);

/** A connection to one peer. Create through `Endpoint.connect` or accept via `Endpoint` events. */
export class Connection {
  /** Current lifecycle state. */
  state: ConnectionState;
  /** Application data: attach whatever you like. */
  userData: unknown;
  /** Set once closed. */
  closeReason: CloseReason | undefined;

  private readonly rtt = new RttEstimator();
  private readonly cc: CongestionController;
  private readonly received: RangeSet = new RangeSet();
  private readonly reassembly: Reassembly;
  /** Exists while the peer sends repairs (an idle connection does not pay for it). */
  private repairs: RepairDecoder | undefined;
  /** A message was recovered from repairs: tell the peer with a MESSAGE_ACK so it does not resend it. */
  private messageAckDue = false;
  private lastRepairAt = 0;
  /** Repairs earned by packets of new data (one is sent when it reaches 1). */
  private repairCredit = 0;
  /** Ack-eliciting packets in flight, oldest first (not a Map: see `SentQueue`). */
  private readonly sent = new SentQueue<SentPacket>();
  /** Messages in send order; slots before `outboxHead` are acknowledged and emptied. */
  private readonly outbox: (OutgoingMessage | undefined)[] = [];
  private outboxHead = 0;
  /** No message in `outbox` before this index has a chunk left to send for the first time. */
  private unsentHead = 0;
  private retransmit: ChunkRef[] = [];
  /** Packet bytes between header and checksum. */
  private readonly payloadRoom: number;

  private nextPn = 1;
  private nextMessageId = 0;
  private streamEnd = 0;
  private peerLimit: number;
  private peerWindow: number;
  private consumed = 0;
  private advertisedLimit: number;
  private maxDataDirty = false;

  private largestAcked = -1;
  private ackFloor = -1;
  private bytesInFlight = 0;
  private lossTime = Number.POSITIVE_INFINITY;
  private ptoCount = 0;
  private probesDue = 0;
  private lastAckElicitingSent = 0;
  private lastReceived: number;
  private readonly createdAt: number;

  private ackDue = Number.POSITIVE_INFINITY;
  private ackElicitingUnacked = 0;
  /** Largest packet number received that was ack-eliciting (-1: none yet). */
  private largestAckElicitingReceived = -1;
  private largestReceivedTime = 0;
  private pingDue = false;

  private delivered = 0;
  private deliveredTime = 0;
  private firstSentTime = 0;
  private paceTokens: number;
  private paceTime = 0;

  private initialDue = 0;
  private initialInterval = INITIAL_RESEND_MS;
  private token: Uint8Array = new Uint8Array(0);
  private acceptDue = false;
  /** Client: INITIALs sent with the cookie. */
  private cookieInitials = 0;
  /** Client: the RETRY answered an INITIAL that was not a resend, so the cookie phase runs on a measured RTT. */
  private cookieTimed = false;
  /** Server: when the ACCEPT left (NaN once resent: the next packet's timing is then ambiguous). */
  private acceptSentAt = Number.NaN;
  private closeFrame: { code: number; reason: Uint8Array } | undefined;
  private closeSendDue = false;
  private drainUntil = 0;
  private pendingClose: CloseReason | undefined;
  private paused = false;
  private closeRequested = false;
  /** Moving estimate of the fraction of ack-eliciting packets lost. */
  private lossRate = 0;
  /** Recently first-sent single-chunk messages, newest last: candidates for redundant copies. */
  private recentSmall: OutgoingMessage[] = [];

  private stat = {
    packetsSent: 0,
    packetsReceived: 0,
    packetsRetransmitted: 0,
    packetsLost: 0,
    bytesSent: 0,
    bytesReceived: 0,
    duplicatePackets: 0,
    messagesSent: 0,
    messagesReceived: 0,
    repairsSent: 0,
    messagesRecovered: 0,
  };

  constructor(
    private readonly host: ConnectionHost,
    private readonly config: ConnectionConfig,
    /** Which side of the handshake this is. */
    readonly role: 'client' | 'server',
    /** The connection id the peer puts in packets to us. */
    readonly localCid: number,
    /** The connection id we put in packets to the peer (0 until the client learns it). */
    public remoteCid: number,
    /** The peer's (validated) address. */
    readonly remote: PeerAddress,
    now: number,
    peerWindow: number,
  ) {
    this.cc = config.congestion(config.mtu);
    this.reassembly = new Reassembly(config.receiveWindow);
    this.payloadRoom = config.mtu - HEADER_SIZE - TRAILER_SIZE;
    this.peerLimit = peerWindow;
    this.peerWindow = peerWindow;
    this.advertisedLimit = config.receiveWindow;
    this.lastReceived = now;
    this.createdAt = now;
    this.lastActivity = now;
    this.paceTokens = 2 * config.mtu;
    this.paceTime = now;
    this.state = role === 'client' ? 'handshake' : 'established';
    this.acceptDue = role === 'server';
  }

  // ---------------------------------------------------------------- application calls

  /**
   * Queues a message for reliable, ordered delivery and returns its id; an
   * `acked` event with that id follows once the peer has all of it.
   * Throws a `RangeError` if the message exceeds the peer's receive window
   * and an `Error` if the connection is closing or closed.
   */
  send(data: Uint8Array): number {
    if (this.state !== 'handshake' && this.state !== 'established') {
      throw new Error(`rudp: cannot send on a ${this.state} connection`);
    }
    // A message must fit the peer's window whole (it is delivered whole); before the handshake
    // completes the peer's window is not known yet and our own stands in for it.
    if (data.length > this.peerWindow) {
      throw new RangeError(`rudp: message of ${data.length} bytes exceeds the peer's receive window of ${this.peerWindow} bytes`);
    }
    const id = this.nextMessageId++;
    // Chunks fill a packet exactly; an ACK rides along only where room is left or when it is due
    // (then the chunk waits for the next packet).
    const chunkSize = this.payloadRoom - fragmentHeaderSize(id, data.length, data.length, this.payloadRoom);
    const m = new OutgoingMessage(id, data, this.streamEnd, chunkSize);
    this.streamEnd += data.length;
    this.outbox.push(m);
    this.stat.messagesSent++;
    return m.id;
  }

  /**
   * Graceful close: what is queued is still delivered, then the peer is told.
   * The `closed` event follows (at the latest after the idle timeout).
   */
  close(now: number): void {
    this.lastActivity = Math.max(this.lastActivity, now);
    // During the handshake the close waits for it, so what was queued is still delivered.
    if (this.state === 'handshake') this.closeRequested = true;
    if (this.state === 'established') this.state = 'closing';
  }

  /** Abrupt close: queued data is dropped and the peer is told at once. */
  destroy(now: number, code = 1, reason = 'closed'): void {
    this.lastActivity = Math.max(this.lastActivity, now);
    if (this.state === 'draining' || this.state === 'closed') return;
    if (this.state === 'handshake') {
      this.finish('local', code, reason, false);
      return;
    }
    this.startClose(this.lastActivity, { kind: 'local', code, message: reason });
  }

  /** Stops releasing messages to the application (they count against the receive window, so the sender stalls). */
  pause(): void {
    this.paused = true;
  }

  /** Resumes releasing messages. */
  resume(): void {
    this.paused = false;
    if (this.hasMessage()) this.host.readable(this);
  }

  /** Whether reading is paused. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Whether a whole message is ready for the application. */
  hasMessage(): boolean {
    return !this.paused && this.reassemblyPeekable();
  }

  /** The next whole message, freeing its share of the receive window. */
  readMessage(): Uint8Array | undefined {
    if (this.paused) return undefined;
    const m = this.reassembly.pop();
    if (m === undefined) return undefined;
    this.consumed += m.length;
    this.stat.messagesReceived++;
    const limit = this.consumed + this.config.receiveWindow;
    // Announce more credit once a quarter of the window has been freed: one small frame per quarter window, not per message.
    if (limit - this.advertisedLimit >= this.config.receiveWindow / 4) {
      this.advertisedLimit = limit;
      this.maxDataDirty = true;
    }
    return m;
  }

  /** Bytes of messages queued but not yet acknowledged by the peer. */
  get bufferedAmount(): number {
    let n = 0;
    for (let i = this.outboxHead; i < this.outbox.length; i++) {
      const m = this.outbox[i] as OutgoingMessage;
      if (!m.complete) n += m.data.length;
    }
    return n;
  }

  /** Counters and estimates. */
  stats(): ConnectionStats {
    return {
      ...this.stat,
      srttMs: this.rtt.srtt,
      rttVarMs: this.rtt.rttvar,
      minRttMs: Number.isFinite(this.rtt.minRtt) ? this.rtt.minRtt : 0,
      cwndBytes: this.cc.window(),
      bytesInFlight: this.bytesInFlight,
      congestionController: this.cc.name,
    };
  }

  // ---------------------------------------------------------------- endpoint calls

  /** Client: the server sent a RETRY with a cookie; send INITIAL again with it. */
  handleRetry(now: number, token: Uint8Array): void {
    // A second RETRY answers an INITIAL resent before the first came back (a path slower than the
    // blind timer): the cookie in hand is as good, and sending again would only repeat the INITIAL.
    if (this.state !== 'handshake' || this.token.length > 0) return;
    this.token = token.slice();
    this.cookieTimed = !this.initialAmbiguous;
    this.initialDue = now;
    // The RETRY measured the path: resend the INITIAL after two of its round trips, not after the
    // blind 250 ms (backed off) that a lossy path would pay again for a lost INITIAL or ACCEPT.
    // Only an answer to an INITIAL that was not a timer resend gives an unambiguous sample (Karn).
    if (!this.initialAmbiguous) this.initialInterval = Math.min(Math.max(2 * (now - this.lastInitialSent), INITIAL_RESEND_MIN_MS), INITIAL_RESEND_MS);
    else this.initialInterval = INITIAL_RESEND_MS;
    this.answered = true;
    this.lastReceived = now;
  }

  /** Client: the server accepted. */
  handleAccept(now: number, serverCid: number, peerWindow: number): void {
    if (this.state !== 'handshake') return;
    this.remoteCid = serverCid;
    this.peerLimit = peerWindow;
    this.peerWindow = peerWindow;
    this.state = this.closeRequested ? 'closing' : 'established';
    this.lastReceived = now;
    // Karn: only an answer to an INITIAL that was not a timer resend gives an unambiguous sample.
    if (!this.initialAmbiguous) this.rtt.update(now - this.lastInitialSent, 0);
    // The handshake is the first loss measurement. Starting from it, a lossy path gets repairs and tail
    // copies from the first request on, not ~50 packets later. A resend counts as a loss only if no
    // answer could have been on its way: on a path faster than the blind timer every resend does (two
    // answers for all n INITIALs); on a slower one only resends timed on the RETRY's round trip do (one
    // ACCEPT for the n INITIALs with the cookie).
    if (this.rtt.hasSample && this.rtt.srtt < INITIAL_RESEND_MS) this.seedLossRate(1 - Math.sqrt(Math.min(1, 2 / this.sentInitials)));
    else if (this.cookieTimed) this.seedLossRate(1 - Math.sqrt(1 / Math.max(1, this.cookieInitials)));
    this.host.emit({ type: 'connected', connection: this });
  }

  /** Server: the client repeated its INITIAL, so our ACCEPT was lost. */
  handleInitialAgain(now: number): void {
    this.acceptDue = true;
    this.lastReceived = now;
  }

  /** Starts the loss-rate estimate from the handshake's (capped: a few packets are a small sample). */
  private seedLossRate(rate: number): void {
    if (this.stat.packetsLost === 0) this.lossRate = Math.min(Math.max(this.lossRate, rate), HANDSHAKE_LOSS_CAP);
  }

  /**
   * A DATA packet for this connection (header already checked); `truncatedPn`
   * is the packet number as sent, `epoch` the high bits its checksum vouches
   * for (two-byte numbers).
   */
  handlePacket(now: number, truncatedPn: number, pnBytes: PnLength, epoch: number, size: number, payload: Uint8Array): 'ok' | 'malformed' | 'checksum' {
    this.lastActivity = now;
    if (this.state === 'handshake' || this.state === 'closed') return 'ok';
    const pn = expandPacketNumber(this.received.largest(), truncatedPn, pnBytes);
    // Restored to another epoch than the one it was sent in (a copy delayed by over 2^15 packets): its
    // checksum does not hold for this number.
    if (pnBytes === 2 && Math.floor(pn / 2 ** 16) !== epoch) return 'checksum';
    // No honest peer jumps this far ahead (it is bounded by what it can have in flight); a forged or
    // corrupted-yet-valid packet number would otherwise sit at the top of every ACK we send.
    if (this.received.size > 0 && pn > this.received.largest() + MAX_PN_JUMP) return 'malformed';
    const frames = parseFrames(payload);
    if (frames === undefined) return 'malformed';
    this.seedRttFromAccept(now);
    // Keeping messages for a peer that stopped sending repairs (its path is clean again) only costs memory.
    if (this.repairs !== undefined && now - this.lastRepairAt > REPAIR_IDLE_MS) this.repairs = undefined;
    this.stat.packetsReceived++;
    this.stat.bytesReceived += size;
    this.lastReceived = now;
    const prevLargest = this.received.largest();
    if (!this.received.insert(pn)) {
      this.stat.duplicatePackets++;
      // A duplicate still tells us our ACK may have been lost: ack again soon.
      if (frames.some(isAckEliciting)) this.ackDue = Math.min(this.ackDue, now);
      return 'ok';
    }
    if (this.state === 'draining') {
      this.closeSendDue = true;
      return 'ok';
    }
    let ackEliciting = false;
    // Created before the frames are handled, so the message that rides with the first repair is kept.
    if (this.repairs === undefined && frames.some((f) => f.type === 'repair')) {
      this.repairs = new RepairDecoder(
        (id) => this.reassembly.isWhole(id),
        () => this.reassembly.firstMissing(),
      );
    }
    for (const f of frames) {
      if (isAckEliciting(f)) ackEliciting = true;
      this.handleFrame(now, pn, f);
      if (this.state !== 'established' && this.state !== 'closing') return 'ok';
    }
    if (pn > prevLargest) this.largestReceivedTime = now;
    if (ackEliciting) {
      if (pn > this.largestAckElicitingReceived) this.largestAckElicitingReceived = pn;
      this.ackElicitingUnacked++;
      // A gap (loss or reordering) is news the sender needs at once to recover quickly, unless this
      // packet carries a repair: then the peer is sending small messages the next packets rebuild, and
      // the ACK can ride on data. (A bulk chunk fills its packet and has no repair beside it.)
      const gap = pn !== prevLargest + 1 && !frames.some((f) => f.type === 'repair');
      if (gap || this.ackElicitingUnacked >= this.config.ackEveryPackets) this.ackDue = now;
      else this.ackDue = Math.min(this.ackDue, now + this.config.maxAckDelayMs);
    }
    return 'ok';
  }

  /** The next datagram to send, if any. */
  pollTransmit(now: number, scratch: Uint8Array): Uint8Array | undefined {
    switch (this.state) {
      case 'handshake':
        return this.pollInitial(now, scratch);
      case 'established':
      case 'closing':
        if (this.acceptDue) return this.pollAccept(now, scratch);
        if (this.state === 'closing' && this.allAcked()) {
          this.startClose(now, { kind: 'local', code: 0, message: 'closed' });
          return this.pollCloseFrame(now, scratch);
        }
        return this.pollData(now, scratch);
      case 'draining':
        return this.pollCloseFrame(now, scratch);
      default:
        return undefined;
    }
  }

  /** The earliest time something must happen, or `Infinity`. */
  nextTimeout(): number {
    switch (this.state) {
      case 'closed':
        return Number.POSITIVE_INFINITY;
      case 'handshake':
        return Math.min(this.initialDue, this.createdAt + this.config.handshakeTimeoutMs);
      case 'draining':
        return this.drainUntil;
      default:
        break;
    }
    let t = Math.min(this.lastReceived + this.config.idleTimeoutMs, this.ackDue, this.lossTime);
    if (this.sent.size > 0 && this.hasAckElicitingInFlight()) t = Math.min(t, this.ptoDeadline());
    if (this.config.keepAliveMs > 0 && !this.pingDue) t = Math.min(t, this.keepAliveDeadline());
    const r = this.earliestRetransmit();
    if (r > this.lastPollTime) t = Math.min(t, r);
    if (this.pacingBlockedUntil > this.lastPollTime) t = Math.min(t, this.pacingBlockedUntil);
    return t;
  }

  /** Runs whatever timers are due at `now`. */
  handleTimeout(now: number): void {
    this.lastActivity = now;
    switch (this.state) {
      case 'closed':
        return;
      case 'handshake':
        if (now >= this.createdAt + this.config.handshakeTimeoutMs) {
          this.finish('unreachable', 0, `no answer from ${this.remote} within ${this.config.handshakeTimeoutMs} ms`, false);
        }
        return;
      case 'draining':
        if (now >= this.drainUntil) this.finish(this.pendingClose?.kind ?? 'local', this.pendingClose?.code ?? 0, this.pendingClose?.message ?? 'closed', true);
        return;
      default:
        break;
    }
    if (now >= this.lastReceived + this.config.idleTimeoutMs) {
      this.finish('timeout', 0, `no packet from ${this.remote} for ${this.config.idleTimeoutMs} ms`, false);
      return;
    }
    if (now >= this.lossTime) this.detectLosses(now);
    if (this.hasAckElicitingInFlight() && now >= this.ptoDeadline()) {
      this.ptoCount++;
      this.probesDue = PTO_PROBES;
      this.queueProbe(now);
    }
    if (this.config.keepAliveMs > 0 && now >= this.keepAliveDeadline()) {
      this.pingDue = true;
    }
  }

  // ---------------------------------------------------------------- internals: receiving

  private handleFrame(now: number, pn: number, f: Frame): void {
    switch (f.type) {
      case 'ping':
        return;
      case 'ack':
        this.handleAck(now, f);
        return;
      case 'fragment': {
        const r = this.reassembly.accept(f);
        if (r !== 'new') return;
        if (this.repairs !== undefined && f.offset === 0 && f.data.length === f.messageLength) {
          this.acceptRecovered(this.repairs.messageArrived(f.messageId, f.data));
        }
        if (this.reassemblyPeekable() && !this.paused) this.host.readable(this);
        return;
      }
      case 'repair':
        this.lastRepairAt = now;
        if (this.repairs !== undefined) this.acceptRecovered(this.repairs.repairArrived(pn, f));
        if (this.reassemblyPeekable() && !this.paused) this.host.readable(this);
        return;
      case 'message-ack':
        this.handleMessageAck(f.next);
        return;
      case 'max-data':
        if (f.limit > this.peerLimit) this.peerLimit = f.limit;
        return;
      case 'close':
        this.startClose(now, { kind: 'peer', code: f.code, message: f.reason || 'closed by peer' });
        return;
    }
  }

  /**
   * Server: a client with a request queued sends it the moment the ACCEPT
   * arrives, so its first packet times a round trip. Without this the server
   * knows no RTT until the client acknowledges its first reply, and a lost
   * first reply waited for a probe timeout on the 250 ms initial RTT (~775 ms).
   * A later first packet (a client with nothing to say yet) is no measure and
   * is ignored.
   */
  private seedRttFromAccept(now: number): void {
    if (Number.isNaN(this.acceptSentAt)) return;
    const sample = now - this.acceptSentAt;
    this.acceptSentAt = Number.NaN;
    if (sample < INITIAL_RTT_MS) this.rtt.seed(sample);
  }

  private acceptRecovered(recovered: readonly RecoveredMessage[]): void {
    for (const m of recovered) {
      const r = this.reassembly.accept({ type: 'fragment', messageId: m.id, messageLength: m.data.length, offset: 0, data: m.data });
      if (r !== 'new') continue;
      this.messageAckDue = true;
      this.stat.messagesRecovered++;
    }
  }

  /** The peer has every message below `next` (some rebuilt from repairs, in packets we count as lost). */
  private handleMessageAck(next: number): void {
    for (let i = this.outboxHead; i < this.outbox.length; i++) {
      const m = this.outbox[i] as OutgoingMessage;
      // Only what was sent can have arrived; a larger claim is ignored.
      if (m.id >= next || !m.allSent) break;
      for (let c = 0; c < m.chunkCount; c++) if (m.ack(c)) this.host.emit({ type: 'acked', connection: this, messageId: m.id });
    }
    this.compactOutbox();
  }

  private reassemblyPeekable(): boolean {
    return this.reassembly.hasNext();
  }

  private handleAck(now: number, f: AckFrame): void {
    // Ranges above anything we sent come from a forged packet the peer accepted (it cannot tell):
    // clip them away and keep the honest ranges below, so one forgery cannot stall the connection.
    const ranges = clipRanges(f.ranges, this.nextPn - 1);
    const top = ranges[0];
    if (!top) return;
    const largest = top.hi;
    let newest: SentPacket | undefined;
    let ackedBytes = 0;
    let ri = ranges.length - 1;
    for (const p of this.sent.values()) {
      const pn = p.pn;
      if (pn > largest) break;
      while (ri >= 0 && (ranges[ri] as PnRange).hi < pn) ri--;
      if (ri < 0) break;
      const r = ranges[ri] as PnRange;
      if (pn < r.lo) continue;
      this.sent.delete(pn);
      this.bytesInFlight -= p.size;
      ackedBytes += p.size;
      this.delivered += p.size;
      newest = p;
      this.lossRate *= LOSS_EWMA_KEEP;
      if (p.ackLargest > this.ackFloor) this.ackFloor = p.ackLargest;
      for (const c of p.chunks) this.ackChunk(c);
    }
    if (!newest) return;
    this.deliveredTime = now;
    let latestRttMs: number | undefined;
    if (largest > this.largestAcked) {
      this.largestAcked = largest;
      if (newest.pn === largest) {
        const sample = now - newest.timeSent;
        const ackDelay = Math.min(f.delayMicros / 1000, this.config.maxAckDelayMs);
        this.rtt.update(sample, ackDelay);
        // The controller wants the path's delay, not how long the peer sat on its ACK.
        latestRttMs = sample - ackDelay >= this.rtt.minRtt ? sample - ackDelay : sample;
      }
    }
    this.firstSentTime = newest.timeSent;
    const interval = Math.max(newest.timeSent - newest.firstSentTime, now - newest.deliveredTime);
    this.ptoCount = 0;
    this.detectLosses(now);
    this.cc.onAck(now, {
      ackedBytes,
      bytesInFlight: this.bytesInFlight,
      deliveryRate: interval > 0 ? (this.delivered - newest.delivered) / interval : undefined,
      appLimited: newest.appLimited,
      priorDelivered: newest.delivered,
      delivered: this.delivered,
      minRttMs: this.rtt.minRtt,
      srttMs: this.rtt.srtt,
      latestRttMs,
    });
    this.compactOutbox();
  }

  private ackChunk(c: ChunkRef): void {
    if (c.message.ack(c.index)) this.host.emit({ type: 'acked', connection: this, messageId: c.message.id });
  }

  private detectLosses(now: number): void {
    const lossDelay = Math.max(this.config.timeThreshold * Math.max(this.rtt.srtt, this.rtt.latest), 1);
    this.lossTime = Number.POSITIVE_INFINITY;
    let lostBytes = 0;
    for (const p of this.sent.values()) {
      const pn = p.pn;
      if (pn > this.largestAcked) break;
      if (p.timeSent <= now - lossDelay || this.largestAcked >= pn + this.config.packetThreshold) {
        this.sent.delete(pn);
        this.bytesInFlight -= p.size;
        lostBytes += p.size;
        this.stat.packetsLost++;
        this.lossRate = this.lossRate * LOSS_EWMA_KEEP + (1 - LOSS_EWMA_KEEP);
        this.requeue(now, p);
      } else {
        this.lossTime = Math.min(this.lossTime, p.timeSent + lossDelay);
      }
    }
    if (lostBytes > 0) this.cc.onLoss(now, lostBytes, this.bytesInFlight);
  }

  private requeue(now: number, p: SentPacket): void {
    if (p.carriedMaxData) this.maxDataDirty = true;
    for (const c of p.chunks) {
      if (c.message.isAcked(c.index)) continue;
      // A message covered by later repairs may be rebuilt by the peer, whose MESSAGE_ACK then
      // rides on the ACK of the repair that completed it: resending before that ACK wastes bytes.
      const afterRepairs = c.message.lastRepairPn > p.pn;
      this.retransmit.push({ message: c.message, index: c.index, notBefore: 0, afterRepairs });
      // Copies buy latency for one-packet messages; for chunks of bulk data they only spend bandwidth.
      if (c.message.chunkCount !== 1) continue;
      for (let k = 1; k <= this.config.redundantCopies; k++) {
        this.retransmit.push({ message: c.message, index: c.index, notBefore: now + k * this.config.redundantSpacingMs, afterRepairs });
      }
    }
  }

  private queueProbe(now: number): void {
    // Re-send the oldest unacknowledged data without declaring it lost; a PING if there is none.
    for (const p of this.sent.values()) {
      const live = p.chunks.filter((c) => !c.message.isAcked(c.index));
      if (live.length > 0) {
        for (const c of live) this.retransmit.unshift({ message: c.message, index: c.index, notBefore: now });
        return;
      }
    }
    this.pingDue = true;
  }

  // ---------------------------------------------------------------- internals: sending

  private lastPollTime = 0;
  /** Latest `now` seen, for calls that carry no time (destroy). */
  private lastActivity = 0;
  private pacingBlockedUntil = 0;
  /** When a packet last carried new (never sent) data. */
  private lastNewDataAt = Number.NEGATIVE_INFINITY;
  private lastInitialSent = 0;
  private sentInitials = 0;
  private answered = false;
  private initialAmbiguous = false;

  private pollInitial(now: number, scratch: Uint8Array): Uint8Array | undefined {
    if (now < this.initialDue) return undefined;
    this.initialAmbiguous = this.sentInitials > 0 && !this.answered;
    this.answered = false;
    this.sentInitials++;
    if (this.token.length > 0) this.cookieInitials++;
    this.lastInitialSent = now;
    const datagram = encodeInitial(scratch, 0, {
      scid: this.localCid,
      token: this.token,
      params: { receiveWindow: this.config.receiveWindow },
    });
    // A cookie answer comes at once; an unanswered INITIAL backs off.
    this.initialDue = now + this.initialInterval;
    // Gentle and capped low: a lost INITIAL or RETRY must not eat the handshake budget on a lossy path
    // (at most about twelve 1200-byte INITIALs in the default 5 s).
    this.initialInterval = Math.min(this.initialInterval * INITIAL_BACKOFF, INITIAL_RESEND_CAP_MS);
    return this.account(datagram.slice());
  }

  private pollAccept(now: number, scratch: Uint8Array): Uint8Array {
    this.acceptDue = false;
    // Karn: only a single ACCEPT gives a clean round trip to the client's first packet.
    this.acceptSentAt = this.stat.packetsSent === 0 ? now : Number.NaN;
    const w = new PacketWriter(scratch.subarray(0, this.config.mtu), PacketType.Accept, this.remoteCid, 0, 2);
    w.u32(this.localCid);
    w.varint(this.config.receiveWindow);
    return this.account(w.finish().slice());
  }

  private pollCloseFrame(now: number, scratch: Uint8Array): Uint8Array | undefined {
    if (!this.closeSendDue || !this.closeFrame) return undefined;
    this.closeSendDue = false;
    const pn = this.nextPn++;
    const w = new PacketWriter(scratch.subarray(0, this.config.mtu), PacketType.Data, this.remoteCid, pn, packetNumberLength(pn, this.largestAcked));
    writeClose(w, this.closeFrame.code, this.closeFrame.reason);
    void now;
    return this.account(w.finish().slice());
  }

  private pollData(now: number, scratch: Uint8Array): Uint8Array | undefined {
    this.lastPollTime = now;
    this.lastActivity = now;
    this.refillPacing(now);
    const mtu = this.config.mtu;
    const probe = this.probesDue > 0;
    const cwndOpen = probe || this.bytesInFlight + mtu <= this.cc.window();
    // Tokens refill in floating point: 1199.9999999999998 of 1200 is a full packet's worth.
    const paceOpen = probe || this.paceTokens >= mtu - PACE_EPSILON_BYTES;
    const canSendData = cwndOpen && paceOpen;
    // Drop what no longer needs sending first, so a stale entry cannot make an empty packet.
    if (this.retransmit.length > 0) this.retransmit = this.retransmit.filter((r) => this.stillWanted(r));
    const hasRetransmit = this.retransmit.some((r) => this.retransmitReady(now, r));
    const hasNew = this.hasNewData();
    const wantData = canSendData && (hasRetransmit || hasNew || this.maxDataDirty || this.pingDue || probe);
    const wantAck = this.ackDue <= now && this.received.size > 0;
    if (!wantData && !wantAck) {
      if (!canSendData && (hasRetransmit || hasNew)) this.pacingBlockedUntil = cwndOpen ? this.paceReadyAt(now) : 0;
      return undefined;
    }
    this.pacingBlockedUntil = 0;

    const pn = this.nextPn++;
    const w = new PacketWriter(scratch.length === mtu ? scratch : scratch.subarray(0, mtu), PacketType.Data, this.remoteCid, pn, packetNumberLength(pn, this.largestAcked));
    let ackLargest = -1;
    if (this.received.size > 0 && wantAck) ackLargest = this.writeAckFrame(now, w, wantData ? ACK_ROOM : w.room());
    const chunks: ChunkRef[] = [];
    let carriedMaxData = false;
    let retransmission = false;
    let ackEliciting = false;
    if (wantData) {
      if (this.maxDataDirty && w.room() >= 1 + varintSize(this.advertisedLimit)) {
        writeMaxData(w, this.advertisedLimit);
        this.maxDataDirty = false;
        carriedMaxData = true;
        ackEliciting = true;
      }
      retransmission = this.fillRetransmits(now, w, chunks, hasNew);
      const fresh = chunks.length;
      this.fillNewData(now, w, chunks);
      const freshEnd = chunks.length;
      if (freshEnd > fresh) {
        this.lastNewDataAt = now;
        this.fillRepair(now, pn, w, chunks);
        if (!this.hasNewData()) this.queueTailCopies(now, chunks.slice(fresh, freshEnd));
      }
      if (chunks.length > 0) ackEliciting = true;
      // Data packets also repeat the ACK state where it fits (cheap after ack-of-ack pruning), so one
      // lost ACK costs nothing; a full bulk chunk leaves no room, and the peer's ACK-only packets need none.
      // Not once the peer has our ACK of every ack-eliciting packet it sent (ack-of-ack): what is left
      // are its ACK-only packets, which it does not track, so a one-way sender would write, and its
      // peer parse, an ACK frame per data packet for nothing.
      if (ackLargest < 0 && this.received.size > 0 && w.room() > 0 && this.largestAckElicitingReceived > this.ackFloor) {
        ackLargest = this.writeAckFrame(now, w, w.room());
      }
      if (!ackEliciting && (this.pingDue || probe)) {
        writePing(w);
        ackEliciting = true;
      }
      this.pingDue = false;
      if (this.probesDue > 0) this.probesDue--;
    }
    const finished = w.finish();
    const datagram = SLAB.copy(finished, 0, finished.length);
    this.stat.packetsSent++;
    this.stat.bytesSent += datagram.length;
    if (retransmission) this.stat.packetsRetransmitted++;
    if (ackEliciting) {
      if (this.bytesInFlight === 0) {
        this.firstSentTime = now;
        this.deliveredTime = now;
      }
      this.sent.set(pn, {
        pn,
        timeSent: now,
        size: datagram.length,
        chunks,
        retransmission,
        ackLargest,
        carriedMaxData,
        delivered: this.delivered,
        deliveredTime: this.deliveredTime,
        firstSentTime: this.firstSentTime,
        appLimited: !this.hasNewData() && this.retransmit.length === 0,
      });
      this.bytesInFlight += datagram.length;
      this.lastAckElicitingSent = now;
      this.cc.onPacketSent(now, datagram.length);
      this.paceTokens -= datagram.length;
    }
    return datagram;
  }

  private account(datagram: Uint8Array): Uint8Array {
    this.stat.packetsSent++;
    this.stat.bytesSent += datagram.length;
    return datagram;
  }

  private writeAckFrame(now: number, w: PacketWriter, room: number): number {
    const all = this.received.list();
    let ranges: PnRange[] = [];
    for (const r of all) {
      if (ranges.length > 0 && r.hi <= this.ackFloor) break;
      ranges.push(r);
    }
    const delay = Math.max(0, (now - this.largestReceivedTime) * 1000);
    while (ranges.length > 1 && ackFrameSize(ranges, delay) > room) ranges = ranges.slice(0, -1);
    if (ackFrameSize(ranges, delay) > room) return -1;
    writeAck(w, ranges, delay);
    if (this.messageAckDue && w.room() >= 9) {
      writeMessageAck(w, this.reassembly.firstMissing());
      this.messageAckDue = false;
    }
    this.ackDue = Number.POSITIVE_INFINITY;
    this.ackElicitingUnacked = 0;
    return (ranges[0] as PnRange).hi;
  }

  /** `newDataFollows`: this packet will carry new data, which carries repairs, so tail copies are moot. */
  private fillRetransmits(now: number, w: PacketWriter, chunks: ChunkRef[], newDataFollows: boolean): boolean {
    if (this.retransmit.length === 0) return false;
    let any = false;
    const keep: ChunkRef[] = [];
    for (let i = 0; i < this.retransmit.length; i++) {
      const c = this.retransmit[i] as ChunkRef;
      if (!this.stillWanted(c) || (c.tail === true && newDataFollows)) continue;
      if (!this.retransmitReady(now, c) || chunks.some((x) => x.message === c.message && x.index === c.index)) {
        keep.push(c);
        continue;
      }
      if (!writeChunk(w, c.message, c.index)) {
        keep.push(c);
        continue;
      }
      chunks.push(c);
      any = true;
    }
    this.retransmit = keep;
    return any;
  }

  /** A queued resend may go now. */
  private retransmitReady(now: number, c: ChunkRef): boolean {
    return c.notBefore <= now && (c.afterRepairs !== true || !this.sent.has(c.message.lastRepairPn));
  }

  /** A queued resend or copy still has a purpose: its chunk is unacknowledged, and a tail copy has no later data to ride on. */
  private stillWanted(c: ChunkRef): boolean {
    if (c.message.isAcked(c.index)) return false;
    return c.tail !== true || this.lastNewDataAt <= c.message.firstSentAt;
  }

  private hasNewData(): boolean {
    const m = this.outbox[this.firstUnsent()];
    return m !== undefined && m.streamEnd <= this.peerLimit;
  }

  /**
   * Index of the first message with a chunk never sent. Chunks go out in
   * outbox order, so the cursor only moves forward: a scan from the head
   * would walk every sent-but-unacknowledged message, several times a packet.
   */
  private firstUnsent(): number {
    let i = Math.max(this.unsentHead, this.outboxHead);
    while (i < this.outbox.length && (this.outbox[i] as OutgoingMessage).allSent) i++;
    this.unsentHead = i;
    return i;
  }

  /**
   * Redundancy for small messages on lossy paths: a packet that carries new
   * data also carries one REPAIR over the small messages sent in the last
   * two round trips that are still unacknowledged (core/repair-code.ts). The
   * receiver rebuilds up to k lost messages from any k repairs, so a lost
   * packet costs a send interval, not a round trip, for the bytes of one
   * copy per packet. Only on a path with measured loss, on a share of
   * packets that follows it: a clean path pays nothing.
   */
  private fillRepair(now: number, pn: number, w: PacketWriter, chunks: readonly ChunkRef[]): void {
    const recent = this.recentSmall;
    if (this.redundancyLevel() === 0 || recent.length === 0) return;
    // A share of packets in proportion to the loss rate, every packet from `highLossThreshold` on.
    const high = this.config.redundancy.highLossThreshold;
    this.repairCredit = Math.min(1, this.repairCredit + (this.lossRate >= high ? 1 : this.lossRate / high));
    if (this.repairCredit < 1 - REPAIR_CREDIT_EPSILON) return;
    // Two round trips: a message lost in a long burst stays covered until enough repairs get through
    // (bench chat with burst loss: p99 263 -> 251 ms, for no extra bytes: a repair is one symbol).
    const horizon = now - 2 * (this.rtt.srtt + this.config.maxAckDelayMs);
    // The newest run of consecutive ids sent before this packet, within the horizon.
    let hi = recent.length - 1;
    while (hi >= 0 && chunks.some((c) => c.message === recent[hi])) hi--;
    if (hi < 0) return;
    let lo = hi;
    while (lo > 0 && hi - lo + 1 < MAX_REPAIR_COVER) {
      const prev = recent[lo - 1] as OutgoingMessage;
      if (prev.id !== (recent[lo] as OutgoingMessage).id - 1 || prev.firstSentAt < horizon) break;
      lo--;
    }
    // Acknowledged messages at either end need no repair.
    while (lo <= hi && (recent[lo] as OutgoingMessage).complete) lo++;
    while (hi >= lo && (recent[hi] as OutgoingMessage).complete) hi--;
    if (lo > hi || (recent[hi] as OutgoingMessage).firstSentAt < horizon) return;
    const covered = recent.slice(lo, hi + 1);
    const baseId = (covered[0] as OutgoingMessage).id;
    const shape = encodeRepair(pn, baseId, covered.map((m) => m.data), REPAIR_SCRATCH);
    const size = repairSymbolSize(shape);
    if (repairFrameSize(baseId, size) > w.room()) return;
    writeRepair(w, baseId, covered.length, shape.uniform, shape.width, REPAIR_SCRATCH.subarray(0, size));
    this.repairCredit -= 1;
    this.stat.repairsSent++;
    for (const m of covered) {
      // The first few repairs after a message are the ones that can rebuild it in time.
      if (m.repairs++ < REPAIRS_WAITED_FOR) m.lastRepairPn = pn;
    }
  }

  /**
   * Copies of the last small messages sent before the sender fell silent. Redundancy rides on
   * the next packet of new data; request/response traffic has none until the reply, so a lost
   * request waited for a probe timeout (bench forum p99 at 20% loss: ~2 s). Each copy is dropped
   * if the message is acknowledged, or if new data left after it (the piggybacked copies cover it).
   */
  private queueTailCopies(now: number, sent: readonly ChunkRef[]): void {
    const copies = this.redundancyLevel();
    if (copies === 0) return;
    const spacing = Math.max(this.config.redundantSpacingMs, Math.min(this.rtt.srtt / 2, this.config.maxAckDelayMs));
    for (const c of sent) {
      if (c.message.chunkCount !== 1 || c.message.data.length > this.config.redundancy.maxMessageBytes) continue;
      for (let k = 1; k <= copies; k++) this.retransmit.push({ message: c.message, index: 0, notBefore: now + k * spacing, tail: true });
    }
  }

  private redundancyLevel(): number {
    const c = this.config.redundancy;
    if (c.maxCopies === 0 || this.lossRate < c.lossThreshold) return 0;
    return this.lossRate >= c.highLossThreshold ? c.maxCopies : Math.min(1, c.maxCopies);
  }

  private rememberSmall(now: number, m: OutgoingMessage): void {
    if (m.chunkCount !== 1 || m.data.length > Math.min(this.config.redundancy.maxMessageBytes, MAX_SMALL_MESSAGE)) return;
    m.firstSentAt = now;
    this.recentSmall.push(m);
    if (this.recentSmall.length > RECENT_SMALL) this.recentSmall.shift();
  }

  private fillNewData(now: number, w: PacketWriter, chunks: ChunkRef[]): void {
    for (let i = this.firstUnsent(); i < this.outbox.length; i++) {
      const m = this.outbox[i] as OutgoingMessage;
      if (m.allSent) continue;
      if (m.streamEnd > this.peerLimit) return; // flow control: the receiver has no room for all of it yet
      while (!m.allSent) {
        const idx = m.nextChunk;
        if (!writeChunk(w, m, idx)) return;
        chunks.push({ message: m, index: idx, notBefore: 0 });
        m.nextChunk++;
        if (m.chunkCount === 1) this.rememberSmall(now, m);
      }
    }
  }

  private compactOutbox(): void {
    while (this.outboxHead < this.outbox.length && (this.outbox[this.outboxHead] as OutgoingMessage).complete) {
      // Drop the acknowledged message now: the slot may wait for 64 more before the splice, and a
      // large message would keep its bytes alive that long.
      this.outbox[this.outboxHead] = undefined;
      this.outboxHead++;
    }
    if (this.outboxHead > 64 && this.outboxHead * 2 > this.outbox.length) {
      this.outbox.splice(0, this.outboxHead);
      this.unsentHead = Math.max(0, this.unsentHead - this.outboxHead);
      this.outboxHead = 0;
    }
  }

  private allAcked(): boolean {
    this.compactOutbox();
    return this.outboxHead >= this.outbox.length;
  }

  private hasAckElicitingInFlight(): boolean {
    return this.sent.size > 0;
  }

  private ptoDeadline(): number {
    const base = this.rtt.pto(this.config.maxAckDelayMs);
    return this.lastAckElicitingSent + Math.min(base * 2 ** this.ptoCount, Math.max(this.config.maxPtoMs, base));
  }

  private keepAliveDeadline(): number {
    return Math.max(this.lastAckElicitingSent, this.lastReceived) + this.config.keepAliveMs;
  }

  private earliestRetransmit(): number {
    let t = Number.POSITIVE_INFINITY;
    for (const r of this.retransmit) t = Math.min(t, r.notBefore);
    return t;
  }

  private paceTokenCap(): number {
    // At least what the rate earns in one driver timer tick (capped at half the window): a wake-up
    // that comes a tick late must not throw that tick's sending time away.
    const rate = this.cc.pacingRate(this.rtt.srtt);
    const tick = Number.isFinite(rate) ? Math.min(rate * PACING_TICK_MS, this.cc.window() / 2) : 0;
    return Math.max(2 * this.config.mtu, Math.min(10 * this.config.mtu, this.cc.window() / 4), tick);
  }

  private refillPacing(now: number): void {
    const rate = this.cc.pacingRate(this.rtt.srtt);
    const cap = this.paceTokenCap();
    if (!Number.isFinite(rate)) this.paceTokens = cap;
    else this.paceTokens = Math.min(cap, this.paceTokens + (now - this.paceTime) * rate);
    this.paceTime = now;
  }

  private paceReadyAt(now: number): number {
    const rate = this.cc.pacingRate(this.rtt.srtt);
    if (!Number.isFinite(rate) || rate <= 0) return now;
    // Never "now": a deadline equal to the poll time is not scheduled, and the sender would wait for an ACK.
    return now + Math.max(PACE_MIN_WAIT_MS, (this.config.mtu - this.paceTokens) / rate);
  }

  // ---------------------------------------------------------------- internals: closing

  private startClose(now: number, reason: CloseReason): void {
    if (this.state === 'draining' || this.state === 'closed') return;
    const bytes = encoder.encode(reason.message).subarray(0, MAX_CLOSE_REASON);
    this.closeFrame = { code: reason.code, reason: reason.kind === 'peer' ? new Uint8Array(0) : bytes };
    // Answer a peer's CLOSE once; send our own.
    this.closeSendDue = true;
    this.state = 'draining';
    this.pendingClose = reason;
    this.drainUntil = now + 3 * this.rtt.pto(this.config.maxAckDelayMs);
    this.retransmit = [];
    this.sent.clear();
    this.bytesInFlight = 0;
    this.host.emit({ type: 'closed', connection: this, reason });
    this.closeReason = reason;
  }

  /** Ends the connection without a goodbye (or after draining). */
  private finish(kind: CloseKind, code: number, message: string, alreadyReported: boolean): void {
    this.state = 'closed';
    this.sent.clear();
    this.retransmit = [];
    if (!alreadyReported) {
      const reason: CloseReason = { kind, code, message };
      this.closeReason = reason;
      this.host.emit({ type: 'closed', connection: this, reason });
    }
  }

  /** Endpoint shutdown: end at once. */
  abort(reason: CloseReason): void {
    if (this.state === 'closed') return;
    const reported = this.state === 'draining';
    this.finish(reason.kind, reason.code, reason.message, reported);
  }

}

/**
 * Writes chunk `index` of `m` if it fits: a whole small message as a MESSAGE
 * frame, anything else as a FRAGMENT. Returns whether it was written.
 */
function writeChunk(w: PacketWriter, m: OutgoingMessage, index: number): boolean {
  if (m.chunkCount === 1 && m.data.length <= MAX_SMALL_MESSAGE) {
    if (messageFrameSize(m.id, m.data.length) > w.room()) return false;
    writeMessage(w, m.id, m.data);
    return true;
  }
  const data = m.chunk(index);
  const offset = m.offsetOf(index);
  if (fragmentHeaderSize(m.id, m.data.length, offset, data.length) + data.length > w.room()) return false;
  writeFragment(w, m.id, m.data.length, offset, data);
  return true;
}

/** `ranges` (highest first) without packet numbers above `max`. */
function clipRanges(ranges: readonly PnRange[], max: number): readonly PnRange[] {
  const first = ranges[0];
  if (first === undefined || first.hi <= max) return ranges;
  const out: PnRange[] = [];
  for (const r of ranges) {
    if (r.lo > max) continue;
    out.push(r.hi > max ? { lo: r.lo, hi: max } : r);
  }
  return out;
}

function isAckEliciting(f: Frame): boolean {
  // MESSAGE_ACK is an acknowledgement too: answering it would ping-pong ACKs.
  return f.type !== 'ack' && f.type !== 'close' && f.type !== 'message-ack';
}
