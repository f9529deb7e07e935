/**
 * One rudp connection: the coordinator that wires the mechanisms, each in a
 * file of its own, and owns the lifecycle (handshake → established →
 * closing → draining → closed):
 *
 * - handshake.ts: INITIAL / RETRY / ACCEPT, first RTT and loss estimates
 * - connect-attempt.ts: the client's handshake state, and what an ACCEPT means
 * - receive/ack-generation.ts: received packets and the ACKs we owe
 * - receive/reassembly.ts: whole messages, in order, from fragments
 * - recovery/loss-detection.ts: packets in flight, loss detection, probe timeout
 * - recovery/rtt.ts: RTT estimation
 * - recovery/new-data-probe.ts: a small sender's new data sent as a probe past a full window
 * - congestion/: the congestion controller (BBR by default)
 * - send/pacer.ts: pacing
 * - send/send-queue.ts, send/retransmit-queue.ts: what to send and send again
 * - send/packet-builder.ts: packs one DATA packet
 * - send/acked-runs.ts: messages acknowledged, reported as runs of ids
 * - send/path-mtu.ts: path MTU discovery (the datagram size) and its probes
 * - flow-control.ts: credit in both directions
 * - repair/: the repair code, the sender's redundancy policy, the receiver's decoder
 * - timers.ts: the typed timer table
 *
 * Pure: `now` is always passed in and datagrams are polled out; the
 * `Endpoint` routes datagrams and timers to it.
 */
import { type ConnectionConfig, checkReceiveWindow, keepAliveInterval } from './config.js';
import type { CongestionController } from './congestion/controller.js';
import type { CloseKind, CloseReason, EndpointEvent } from './events.js';
import { FlowControl, MESSAGE_CREDIT, creditOf } from './flow-control.js';
import { ConnectAttempt, type KeyMismatch } from './connect-attempt.js';
import { HANDSHAKE_COPIES, ServerHandshake } from './handshake.js';
import type { PeerAddress } from './sans-io.js';
import { TIMER_ORDER, Timer } from './timers.js';
import { AckTracker } from './receive/ack-generation.js';
import { Reassembly } from './receive/reassembly.js';
import { EMPTY_FRAME, FRAMES, FRAME_SCRATCH, anyFrame, isAckEliciting, isClose, isRepair } from './receive/received-frames.js';
import { LossDetection, type SentPacket } from './recovery/loss-detection.js';
import { newDataProbeAt } from './recovery/new-data-probe.js';
import { RttEstimator } from './recovery/rtt.js';
import { RepairPolicy } from './repair/repair-policy.js';
import { RepairReceiver } from './repair/repair-receiver.js';
import type { DatagramScratch } from './datagram-scratch.js';
import { type PacketDrop, dataPacketType, openPayload, sealDatagram } from './packet-sealing.js';
import type { ChunkRef } from './send/outgoing-message.js';
import { Pacer } from './send/pacer.js';
import { PathMtu, writeMtuProbe } from './send/path-mtu.js';
import { type ConnectionCounters, type ConnectionStats, connectionStats, newCounters } from './connection-stats.js';
import { type PacketContents, type PacketPlan, type PacketSources, populateDataPacket } from './send/packet-builder.js';
import { OUTGOING, PLAN, SOURCES } from './send/packet-scratch.js';
import { noteMessageAcked, reportAckedRun } from './send/acked-runs.js';
import { emptyArray } from './shared-empty.js';
import { RetransmitQueue } from './send/retransmit-queue.js';
import { SendQueue } from './send/send-queue.js';
import { type DeliveryOptions, checkDelivery } from './send/delivery-options.js';
import type { ConnectionSecurity } from './security.js';
import type { KeyingMaterialExporter, PacketProtection } from '../crypto/index.js';
import { type Frame, MAX_CLOSE_REASON, MAX_SMALL_MESSAGE, parseFramesInto, writeCloseFitting } from '../wire/frame.js';
import { type AcceptPayload, HEADER_SIZE, type HeaderFields, TAG_SIZE, type PacketWriter, TRAILER_SIZE, packetNumberLength } from '../wire/packet.js';

/** Most probe packets sent when the probe timer fires. */
const PTO_PROBES = 2;
/** A data packet with less room than this left is full (its sender would fill larger ones). */
const FULL_PACKET_SLACK = 64;

export type { PacketDrop } from './packet-sealing.js';
export type { KeyMismatch } from './connect-attempt.js';
export type { ConnectionStats } from './connection-stats.js';

/** Lifecycle of a connection. */
export type ConnectionState = 'handshake' | 'established' | 'closing' | 'draining' | 'closed';

/** What a connection needs from its endpoint. */
export interface ConnectionHost {
  emit(event: EndpointEvent): void;
  /** The connection has a whole message for the application. */
  readable(connection: Connection): void;
  /** The application changed the connection (sent, read, closed): poll it. */
  wake(connection: Connection): void;
  /** How a message kept apart from its datagram is copied (see `EndpointConfig.copyMessage`); default `slice()`. */
  readonly copyMessage?: ((bytes: Uint8Array) => Uint8Array) | undefined;
  /** A uniform 32-bit unsigned integer from the endpoint's injected randomness (which packet numbers are skipped). */
  drawRandom(): number;
}

/**
 * Close code of a connection the transport ends because the rules were
 * broken: too many forged packets (the integrity limit), or a peer that
 * acknowledged packets it cannot have received (an optimistic ACK).
 */
export const PROTOCOL_VIOLATION = 3;

const encoder = new TextEncoder();

/** A connection to one peer. Create through `Endpoint.connect` or accept via `Endpoint` events. */
export class Connection {
  /** Current lifecycle state. */
  state: ConnectionState;
  /** Application data: attach whatever you like. */
  userData: unknown;
  /** Set once closed. */
  closeReason: CloseReason | undefined;
  /** Client: the server's key, if it proved a different one than the pinned key (the connection was refused). */
  keyMismatch: KeyMismatch | undefined;
  /**
   * @internal The driver's own object for this connection (the Node adapter's event sink), so each event
   * reaches it without a lookup in a map of every connection; the core never reads it. Not `userData`:
   * that slot is the application's, which reaches this object through the Node API too.
   */
  driverSink: object | undefined = undefined;
  /** @internal The endpoint's timer slot for this connection (-1: none), so its deadline is found without a lookup. */
  timerSlot = -1;
  /** @internal Whether the endpoint's list of connections to poll holds this one. */
  pollQueued = false;
  /** @internal Whether the endpoint's list of connections that may have a message holds this one. */
  readableQueued = false;
  /**
   * @internal Whether the endpoint counts this (server) connection against its client host. It stops
   * when the connection closes, not when its draining ends: else a host whose connections the
   * application closes (say, to make room for its newer ones) would be refused while they drain.
   */
  hostCounted = false;

  private readonly rtt = new RttEstimator();
  private readonly cc: CongestionController;
  /** Client: the handshake, until established (an established connection does not keep it). */
  private connecting: ConnectAttempt | undefined;
  /** Server: the ACCEPT's state, dropped once the client's first authenticated packet arrives. */
  private serverHandshake: ServerHandshake | undefined;
  private readonly acks: AckTracker;
  private readonly reassembly: Reassembly;
  private readonly repairReceiver: RepairReceiver;
  private readonly flow: FlowControl;
  private readonly sendQueue: SendQueue;
  private readonly retransmits: RetransmitQueue;
  private readonly repairPolicy: RepairPolicy;
  private readonly recovery: LossDetection;
  private readonly pacer: Pacer;
  private readonly pmtu: PathMtu;
  /** The datagram size the send queues were last told of. */
  private datagramSize: number;
  /** A data packet left full: the application's data would fill larger datagrams (path MTU discovery may begin). */
  private filledPacket = false;
  /** Seals and opens DATA packets once keys exist (`undefined`: plaintext mode, or before the handshake). */
  private protection: PacketProtection | undefined;
  private exporter: KeyingMaterialExporter | undefined;
  /** The peer's static key (client: the server's proven identity). */
  private peerStaticKey: Uint8Array | undefined;
  private readonly encrypted: boolean;

  private nextPn = 1;
  /** When the last new-data probe was sent (see `newDataProbeAt`). */
  private lastNewDataProbeAt = Number.NEGATIVE_INFINITY;
  /** The first packet number sent after the last `raiseReceiveWindow` (see `FlowControl.onMaxDataAcked`). */
  private raisedAtPn = 0;
  /** Probe packets still owed since the probe timer fired. */
  private probesDue = 0;
  /** A PING is owed (keep-alive or a probe with no data to resend). */
  private pingDue = false;
  private lastReceived: number;
  /** When `pollTransmit` last looked for data (resend and pacing timers earlier than it are spent). */
  private lastPollTime = 0;
  /** Latest `now` seen, for calls that carry no time (destroy). */
  private lastActivity: number;
  private closeFrame: { code: number; reason: Uint8Array } | undefined;
  private closeSendDue = false;
  private drainUntil = 0;
  private pendingClose: CloseReason | undefined;
  private paused = false;
  private closeRequested = false;

  private readonly stat: ConnectionCounters = newCounters();

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
    security: ConnectionSecurity = { mode: 'plaintext' },
  ) {
    this.encrypted = security.mode !== 'plaintext';
    if (security.mode === 'server') {
      this.protection = security.keys.protection;
      this.exporter = security.keys.exporter;
    }
    this.cc = config.congestion(config.mtu);
    const handshake = { localCid, receiveWindow: config.receiveWindow, mtu: config.mtu, handshakeTimeoutMs: config.handshakeTimeoutMs, copies: HANDSHAKE_COPIES, copySpacingMs: config.redundantSpacingMs };
    if (role === 'client') this.connecting = new ConnectAttempt(handshake, now, security.mode === 'client' ? security.handshake : undefined);
    else this.serverHandshake = new ServerHandshake(handshake, security.mode === 'server' ? security.serverHello : undefined);
    this.acks = new AckTracker(config);
    this.reassembly = new Reassembly(config.receiveWindow, host.copyMessage);
    this.repairReceiver = new RepairReceiver(this.reassembly);
    this.flow = new FlowControl(config.receiveWindow, peerWindow);
    this.sendQueue = new SendQueue(
      this.flow,
      config.mtu - HEADER_SIZE - (this.encrypted ? TAG_SIZE : TRAILER_SIZE),
      Math.max(config.redundancy.maxMessageBytes, MAX_SMALL_MESSAGE),
      config.datagramSendBuffer,
    );
    this.recovery = new LossDetection(config, this.rtt, this.cc, this);
    this.recovery.scheduleSkip(0, host.drawRandom());
    this.retransmits = new RetransmitQueue(config, this.recovery);
    this.repairPolicy = new RepairPolicy(config, this.rtt);
    this.pacer = new Pacer(config.mtu, this.cc, this.rtt, now);
    this.pmtu = new PathMtu(config.mtu, Math.max(config.mtu, config.maxDatagramSize));
    this.datagramSize = config.mtu;
    this.lastReceived = now;
    this.lastActivity = now;
    this.state = role === 'client' ? 'handshake' : 'established';
  }

  // ---------------------------------------------------------------- application calls

  /**
   * Queues a message and returns its id. By default it is reliable and
   * ordered on channel 0; `options` choose another channel (ordered messages
   * of different channels never wait for each other), unordered delivery (as
   * soon as it is whole) or an unreliable datagram (sent once, never resent,
   * dropped if lost). A reliable message's `acked` event with that id
   * follows once the peer has all of it; a datagram has no id (-1) and no
   * `acked` event. Throws a `RangeError` if a reliable message exceeds
   * `maxMessageSize()` or a datagram `maxDatagramSize(channel)`, a
   * `TypeError`/`RangeError` for bad options, and an `Error` if the
   * connection is closing or closed.
   */
  send(data: Uint8Array, options?: DeliveryOptions): number {
    if (this.state !== 'handshake' && this.state !== 'established') {
      throw new Error(`rudp: cannot send on a ${this.state} connection`);
    }
    const d = checkDelivery(options);
    if (!d.reliable) {
      const max = this.sendQueue.maxDatagramSize(d.channel);
      if (data.length > max) throw new RangeError(`rudp: unreliable message of ${data.length} bytes exceeds the ${max} bytes one packet carries`);
      this.sendQueue.pushDatagram(data, d.channel);
      this.stat.messagesSent++;
      this.stat.datagramsSent++;
      this.host.wake(this);
      return -1;
    }
    // A message must fit the peer's window whole (it is delivered whole), with its bookkeeping
    // (`MESSAGE_CREDIT`); before the handshake completes the peer's window is not known yet and our own
    // stands in for it.
    if (data.length > this.maxMessageSize()) throw new RangeError(`rudp: message of ${data.length} bytes exceeds ${this.windowTakes()}`);
    const id = this.sendQueue.push(data, d.channel, d.ordered);
    this.stat.messagesSent++;
    this.host.wake(this);
    return id;
  }

  /** Largest unreliable message `send` takes on `channel`: what one packet carries. */
  maxDatagramSize(channel = 0): number {
    return this.sendQueue.maxDatagramSize(channel);
  }

  /**
   * Largest reliable message `send` takes: what the peer's receive window
   * takes, `MESSAGE_CREDIT` less than the window (before the handshake
   * completes, our own window stands in for the peer's).
   */
  maxMessageSize(): number {
    return this.flow.peerWindow - MESSAGE_CREDIT;
  }

  /** Our receive window, bytes: the endpoint's `receiveWindow`, or more after `raiseReceiveWindow`. */
  receiveWindow(): number {
    return this.flow.window;
  }

  /**
   * Grows this connection's receive window to `bytes` (a smaller value
   * changes nothing: credit announced cannot be taken back). The peer hears
   * of it in the next packet (MAX_DATA) and may then send messages up to the
   * new window. For a server that keeps the window of connections it does
   * not trust yet small (what an unfinished message may make it hold) and
   * raises it once the peer has proved who it is.
   */
  raiseReceiveWindow(bytes: number): void {
    checkReceiveWindow(bytes);
    if (this.state === 'closed' || !this.flow.raiseReceiveWindow(bytes)) return;
    this.raisedAtPn = this.nextPn;
    this.reassembly.raiseWindow(bytes);
    this.host.wake(this);
  }

  /** What `maxMessageSize` is, in words for an error. */
  private windowTakes(): string {
    return `the ${this.maxMessageSize()} bytes the peer's receive window of ${this.flow.peerWindow} bytes takes`;
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
    this.host.wake(this);
  }

  /** Abrupt close: queued data is dropped and the peer is told at once. */
  destroy(now: number, code = 1, reason = 'closed'): void {
    this.lastActivity = Math.max(this.lastActivity, now);
    if (this.state === 'draining' || this.state === 'closed') return;
    this.host.wake(this);
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
    return !this.paused && this.reassembly.hasNext();
  }

  /** Channel of the message `readMessage` returns next (0 when there is none). */
  get nextMessageChannel(): number {
    return this.reassembly.nextChannel();
  }

  /** The next whole message, freeing its share of the receive window. */
  readMessage(): Uint8Array | undefined {
    if (this.paused) return undefined;
    const reliable = this.reassembly.nextIsReliable();
    const m = this.reassembly.pop();
    if (m === undefined) return undefined;
    this.stat.messagesReceived++;
    // A datagram took no credit (a lost one could never give it back), so reading one returns none.
    if (reliable) this.flow.onRead(creditOf(m.length));
    // Reading may let us announce more window to the sender.
    this.host.wake(this);
    return m;
  }

  /** Bytes of messages queued but not yet acknowledged by the peer. */
  get bufferedAmount(): number {
    return this.sendQueue.bufferedAmount;
  }

  /** Counters and estimates. */
  stats(): ConnectionStats {
    const { reassembly, sendQueue, repairReceiver, recovery, rtt, cc, pmtu } = this;
    return connectionStats(this.stat, { reassembly, sendQueue, repairReceiver, recovery, rtt, cc, pmtu });
  }

  // ---------------------------------------------------------------- endpoint calls: handshake

  /** Client: the server sent a RETRY with a cookie; send INITIAL again with it. */
  handleRetry(now: number, token: Uint8Array): void {
    if (this.state !== 'handshake' || this.connecting === undefined) return;
    if (this.connecting.timing.onRetry(now, token)) this.lastReceived = now;
  }

  /**
   * Client: the server accepted. Returns why the ACCEPT was dropped, if it
   * was: a server hello that does not authenticate (forged, or altered on
   * the path) changes nothing, and the genuine one still completes the
   * handshake.
   */
  handleAccept(now: number, accept: AcceptPayload): 'ok' | PacketDrop {
    const attempt = this.connecting;
    if (this.state !== 'handshake' || attempt === undefined) return 'ok';
    const a = attempt.check(accept, this.remote);
    switch (a.kind) {
      case 'ignored':
        return 'ok';
      case 'dropped':
        return a.why;
      case 'refused':
        if (a.mismatch !== undefined) this.keyMismatch = a.mismatch;
        this.finish('refused', 0, a.message, false);
        return 'ok';
      case 'accepted':
        break;
    }
    if (a.keys !== undefined) {
      this.protection = a.keys.protection;
      this.exporter = a.keys.exporter;
      this.peerStaticKey = a.serverKey;
    }
    this.connecting = undefined;
    this.remoteCid = a.remoteCid;
    this.flow.setPeerWindow(a.peerWindow);
    this.state = this.closeRequested ? 'closing' : 'established';
    this.lastReceived = now;
    attempt.seedEstimates(now, this.rtt, this.repairPolicy, this.stat.packetsLost > 0);
    this.host.emit({ type: 'connected', connection: this });
    // A message queued while our own window stood in for the server's, and larger than the server's
    // takes, would never leave and would hold up every message after it: the connection ends, saying why.
    const largest = this.sendQueue.largestWaiting();
    if (largest > this.maxMessageSize()) {
      this.destroy(now, 1, `rudp: a message of ${largest} bytes queued before the handshake exceeds ${this.windowTakes()}`);
    }
    return 'ok';
  }

  /** The peer's static public key once the handshake proved it (client: the server's identity), else `undefined`. */
  get peerKey(): Uint8Array | undefined {
    return this.peerStaticKey;
  }

  /** Whether packets are encrypted and authenticated (false only in the explicit plaintext mode). */
  get isEncrypted(): boolean {
    return this.encrypted;
  }

  /**
   * Keying material bound to this connection's handshake (RFC 5705 style):
   * both ends derive the same bytes for the same label and context, nobody
   * else can. Throws on a plaintext connection or before the handshake.
   */
  exportKeyingMaterial(label: string, context: Uint8Array, length: number): Uint8Array {
    if (this.exporter === undefined) throw new Error(`rudp: ${this.encrypted ? 'the handshake has not finished' : 'a plaintext connection has no keys'}: nothing to export`);
    return this.exporter.exportKeyingMaterial(label, context, length);
  }

  /**
   * Server: the client repeated its INITIAL, so our ACCEPT was lost. False once an authenticated packet
   * proved the client has the ACCEPT: a repeat is then a replay (anyone who saw the handshake can send it
   * until the cookie expires), which says nothing of the client and must not keep the connection alive.
   */
  handleInitialAgain(now: number): boolean {
    if (this.serverHandshake === undefined) return false;
    this.serverHandshake.onInitialAgain();
    this.lastReceived = now;
    return true;
  }

  // ---------------------------------------------------------------- endpoint calls: packets

  /**
   * A DATA or PROTECTED packet for this connection (header already parsed);
   * `size` is the datagram's. A protected packet is opened first: one that
   * fails is dropped and counted, never processed and never answered.
   */
  handlePacket(now: number, h: HeaderFields, size: number): 'ok' | PacketDrop {
    this.lastActivity = now;
    if (this.state === 'handshake' || this.state === 'closed') return 'ok';
    const pn = this.acks.expand(h.pn, h.pnBytes);
    if (this.acks.tooFarAhead(pn)) return 'malformed';
    const payload = openPayload(this.protection, this.encrypted, h, pn);
    if (payload === 'integrity-limit') {
      this.startClose(now, { kind: 'local', code: PROTOCOL_VIOLATION, message: 'too many forged packets' });
      return 'auth';
    }
    if (typeof payload === 'string') return payload;
    const frames = FRAMES;
    const count = parseFramesInto(payload, frames, FRAME_SCRATCH);
    if (count === undefined) {
      frames.fill(EMPTY_FRAME);
      FRAME_SCRATCH.release();
      return 'malformed';
    }
    try {
      return this.handleFrames(now, pn, size, frames, count);
    } finally {
      // The frames hold views of the datagram: the shared list must not keep it alive.
      // A loop, not `fill`: Array.prototype.fill is a call into V8's C++ runtime, on every packet.
      for (let i = 0; i < count; i++) frames[i] = EMPTY_FRAME;
      FRAME_SCRATCH.release();
      // Acknowledgements a frame's handler took before it threw are still reported, now.
      reportAckedRun();
    }
  }

  /** The frames of authenticated packet `pn` (`frames[0, count)`, parsed and valid). */
  private handleFrames(now: number, pn: number, size: number, frames: readonly Frame[], count: number): 'ok' {
    const acceptRtt = this.serverHandshake?.onClientPacket(now);
    if (acceptRtt !== undefined) this.rtt.seed(acceptRtt);
    // An authenticated packet proves the client has our ACCEPT: its copy and the server hello (some
    // 300 bytes a connection) are never needed again. In plaintext anyone could forge this packet.
    if (this.encrypted) this.serverHandshake = undefined;
    this.repairReceiver.expireIfIdle(now);
    this.stat.packetsReceived++;
    this.stat.bytesReceived += size;
    this.lastReceived = now;
    const previousLargest = this.acks.largest;
    if (!this.acks.record(pn)) {
      this.stat.duplicatePackets++;
      this.acks.onDuplicate(now, anyFrame(frames, count, isAckEliciting));
      return 'ok';
    }
    if (this.state === 'draining') {
      // Any packet but the peer's own CLOSE gets ours again (the peer missed it, and is still sending
      // data or acknowledging what came before it): two draining ends answering each other's CLOSEs
      // exchanged one a round trip until a drain ended, 877 datagrams (median) for each connection the
      // forum closed on loopback. A draining peer sends nothing but its CLOSE, so this ends.
      if (!anyFrame(frames, count, isClose)) this.closeSendDue = true;
      return 'ok';
    }
    let ackEliciting = false;
    const hasRepair = anyFrame(frames, count, isRepair);
    this.repairReceiver.prepare(hasRepair, previousLargest >= 0 && pn > previousLargest + 1 ? now : undefined);
    for (let i = 0; i < count; i++) {
      const f = frames[i] as Frame;
      if (isAckEliciting(f)) ackEliciting = true;
      this.handleFrame(now, pn, f);
      if (this.state !== 'established' && this.state !== 'closing') return 'ok';
    }
    this.acks.onPacket(now, pn, previousLargest, ackEliciting, hasRepair);
    return 'ok';
  }

  private handleFrame(now: number, pn: number, f: Frame): void {
    switch (f.type) {
      case 'ping':
        return;
      case 'ack': {
        // An ACK of a packet we never sent says the peer acknowledges what it did not receive, to
        // make us send faster than the path carries (see `LossDetection.ackViolation`).
        const violation = this.recovery.ackViolation(f.ranges, this.nextPn - 1, this.encrypted);
        if (violation !== undefined) {
          this.startClose(now, { kind: 'local', code: PROTOCOL_VIOLATION, message: `protocol violation: the peer ${violation}` });
          return;
        }
        this.pmtu.onAck(now, f.ranges);
        const progressed = this.recovery.onAck(now, f, this.nextPn - 1, pn >= this.acks.largest);
        reportAckedRun();
        if (progressed) {
          this.sendQueue.compact();
          this.repairPolicy.forgetAcknowledged();
        }
        return;
      }
      case 'fragment': {
        if (this.reassembly.accept(f) !== 'new') return;
        // Repairs cover default messages only (a rebuilt message has no CHANNEL frame to say otherwise).
        if (f.offset === 0 && f.data.length === f.messageLength && f.delivery === undefined) this.repairReceiver.onWholeMessage(f.messageId, f.data);
        if (this.hasMessage()) this.host.readable(this);
        return;
      }
      case 'datagram':
        if (this.reassembly.acceptDatagram(f.channel, f.data) && this.hasMessage()) this.host.readable(this);
        return;
      case 'repair':
        this.repairReceiver.onRepair(now, pn, f);
        if (this.hasMessage()) this.host.readable(this);
        return;
      case 'message-ack':
        this.sendQueue.ackBelow(f.next, (m) => noteMessageAcked(this, this.host, m.id));
        this.retransmits.noteAcked();
        reportAckedRun();
        // Messages a repair rebuilt are complete only now (the ACK frame came first in the packet).
        this.repairPolicy.forgetAcknowledged();
        return;
      case 'max-data':
        this.flow.onMaxData(f.limit, this.sendQueue.startedStreamEnd);
        return;
      case 'close':
        this.startClose(now, { kind: 'peer', code: f.code, message: f.reason || 'closed by peer' });
        return;
    }
  }

  /** @internal Loss detection's `PacketFate`: the peer has packet `p`. */
  acked(p: SentPacket): void {
    this.pmtu.onPacketAcked(this.lastActivity, p.pn, p.size);
    this.repairPolicy.onPacketAcked();
    this.acks.onAckAcknowledged(p.ackLargest);
    // Only a packet sent after the raise can have told the peer of it (an older credit update cannot).
    if (p.carriedMaxData && p.pn >= this.raisedAtPn) this.flow.onMaxDataAcked();
    // By index: `for of` here left an iterator result per chunk in the 64 KiB stream's profile.
    const chunks = p.chunks;
    for (let i = 0; i < chunks.length; i++) this.ackChunk(chunks[i] as ChunkRef);
    if (chunks.length > 0) this.retransmits.noteAcked();
  }

  /** @internal Loss detection's `PacketFate`: packet `p` was declared lost at `now`. */
  lost(now: number, p: SentPacket, silent = false, run = false): void {
    this.stat.packetsLost++;
    this.pmtu.onPacketLost(now, p.pn, p.size);
    this.repairPolicy.onPacketLost(p.pn);
    if (p.carriedMaxData) this.flow.onMaxDataLost();
    this.retransmits.requeueLost(now, p, !silent && !run, this.repairPolicy.resendCopies(this.config.redundantCopies, silent), this.repairPolicy.bursty());
  }

  /** @internal Loss detection's `PacketFate`: packet `p`, declared lost, arrived after all. */
  spurious(p: SentPacket): void {
    this.stat.spuriousRetransmissions++;
    this.repairPolicy.onLossUndone(p.pn);
    this.acked(p);
  }

  private ackChunk(c: ChunkRef): void {
    if (c.message.ack(c.index, c.piece)) noteMessageAcked(this, this.host, c.message.id);
  }

  // ---------------------------------------------------------------- endpoint calls: sending

  /** The next datagram to send, if any. */
  pollTransmit(now: number, scratch: DatagramScratch): Uint8Array | undefined {
    switch (this.state) {
      case 'handshake': {
        const initial = this.connecting?.timing.pollInitial(now, scratch.full);
        return initial === undefined ? undefined : this.account(initial.slice());
      }
      case 'established':
      case 'closing':
        if (this.serverHandshake?.acceptPending(now) === true) return this.account(this.serverHandshake.pollAccept(now, scratch.full, this.remoteCid, this.stat.packetsSent === 0).slice());
        if (this.state === 'closing' && this.sendQueue.allAcked()) {
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

  private pollData(now: number, scratch: DatagramScratch): Uint8Array | undefined {
    this.lastPollTime = now;
    this.lastActivity = now;
    this.pacer.refill(now);
    this.pmtu.checkProbeLost(now, this.rtt.pto(this.config.maxAckDelayMs));
    this.syncDatagramSize();
    const dataProbe = this.probesDue === 0 && now >= this.newDataProbeAt();
    const probe = this.probesDue > 0 || dataProbe;
    // Probe-timeout packets go at the base size while larger ones are in use: if the path black-holes
    // large datagrams, these still arrive, and their ACK shows the large ones lost.
    const mtu = probe ? this.config.mtu : this.datagramSize;
    const cwndOpen = probe || this.recovery.bytesInFlight + mtu <= this.cc.window();
    const canSendData = cwndOpen && (probe || this.pacer.open);
    // Drop what no longer needs sending first, so a stale entry cannot make an empty packet.
    const hasRetransmit = this.retransmits.pruneAndCheckReady(now);
    const hasNew = this.sendQueue.hasNewData();
    const wantData = canSendData && (hasRetransmit || hasNew || this.flow.due || this.pingDue || probe);
    const wantAck = this.acks.isDue(now);
    if (!wantData && !wantAck) {
      if (!canSendData && (hasRetransmit || hasNew)) this.pacer.block(now, cwndOpen);
      return undefined;
    }
    this.pacer.unblock();
    const probeSize = wantData && !probe ? this.pmtu.probeDue(now, this.filledPacket) : undefined;
    if (probeSize !== undefined && this.recovery.bytesInFlight + probeSize <= this.cc.window()) return this.pollMtuProbe(now, scratch, probeSize);

    const pn = this.takePn();
    const w = scratch.writer(mtu, dataPacketType(this.protection), this.remoteCid, pn, packetNumberLength(pn, this.recovery.largestAcked));
    const plan = PLAN;
    plan.ack = wantAck;
    plan.data = wantData;
    // Datagrams carry no repairs: tail copies stay wanted when only datagrams follow.
    plan.newData = hasNew && this.sendQueue.hasNewReliableData();
    plan.ping = this.pingDue || probe;
    // Resends wait for the window: the packet-threshold rule sends them once this packet's ACK comes.
    plan.resends = !dataProbe || this.recovery.bytesInFlight + mtu <= this.cc.window();
    const p = this.populate(now, pn, w, plan);
    if (wantData) {
      this.pingDue = false;
      if (this.probesDue > 0) this.probesDue--;
      else if (dataProbe) this.lastNewDataProbeAt = now;
    }
    if (p.repairSent) this.stat.repairsSent++;
    if (p.chunks.length > 0 && w.room() < FULL_PACKET_SLACK) this.filledPacket = true;
    const datagram = sealDatagram(this.protection, w, pn, scratch);
    this.stat.packetsSent++;
    this.stat.bytesSent += datagram.length;
    if (p.retransmission) this.stat.packetsRetransmitted++;
    if (p.ackEliciting) {
      const o = OUTGOING;
      o.pn = pn;
      o.timeSent = now;
      o.size = datagram.length;
      o.chunks = p.chunks;
      o.retransmission = p.retransmission;
      o.ackLargest = p.ackLargest;
      o.carriedMaxData = p.carriedMaxData;
      o.appLimited = !this.sendQueue.hasNewData() && !this.retransmits.hasResends();
      o.leftQueueEmpty = !this.sendQueue.hasNewData() && !this.retransmits.hasReady(now);
      this.recovery.onPacketSent(now, o);
      o.chunks = emptyArray();
      this.pacer.onSent(datagram.length);
      this.acks.onAckElicitingSent(now);
    }
    return datagram;
  }

  /** When new data may go as a probe past a full window and pacing (`Infinity`: not now); see new-data-probe.ts. */
  private newDataProbeAt(): number {
    return newDataProbeAt(this.lastNewDataProbeAt, this.recovery.ptoCount, this.rtt.srtt, this.sendQueue);
  }

  /**
   * The next packet number, leaving out the one loss detection chose to skip
   * (`LossDetection.skipAt`, RFC 9000 §21.4): the skipped number is never
   * sealed, so only a peer that acknowledges what it did not receive covers it.
   */
  private takePn(): number {
    const pn = this.nextPn++;
    if (pn !== this.recovery.skipAt) return pn;
    this.recovery.onSkipped(pn, this.host.drawRandom());
    return this.nextPn++;
  }

  /**
   * Packs packet `pn` from this connection's modules, lent to the shared
   * `SOURCES` for the one call: an object per packet was heap per message of
   * idle traffic, one per connection would be heap every idle connection
   * holds, and a shared one left pointing at them kept the last connection's
   * modules (and through them its endpoint) alive after it closed.
   */
  private populate(now: number, pn: number, w: PacketWriter, plan: PacketPlan): PacketContents {
    const s = SOURCES;
    s.acks = this.acks;
    s.repairReceiver = this.repairReceiver;
    s.flow = this.flow;
    s.retransmits = this.retransmits;
    s.sendQueue = this.sendQueue;
    s.repairPolicy = this.repairPolicy;
    try {
      return populateDataPacket(now, pn, w, s as PacketSources, plan);
    } finally {
      s.acks = undefined;
      s.repairReceiver = undefined;
      s.flow = undefined;
      s.retransmits = undefined;
      s.sendQueue = undefined;
      s.repairPolicy = undefined;
    }
  }

  /**
   * A path MTU probe of `size` bytes: a PING padded to the size. It carries
   * no data, so its loss costs no resend, and it stays out of loss detection
   * and congestion control (path-mtu.ts judges it); pacing counts its bytes.
   */
  private pollMtuProbe(now: number, scratch: DatagramScratch, size: number): Uint8Array {
    const pn = this.takePn();
    const w = scratch.writer(size, dataPacketType(this.protection), this.remoteCid, pn, packetNumberLength(pn, this.recovery.largestAcked));
    writeMtuProbe(w);
    const datagram = sealDatagram(this.protection, w, pn, scratch);
    this.pmtu.onProbeSent(now, pn, datagram.length);
    this.pacer.onSent(datagram.length);
    return this.account(datagram);
  }

  /** Tells the send queues of a datagram size path MTU discovery raised or a black hole lowered. */
  private syncDatagramSize(): void {
    const size = this.pmtu.current;
    if (size === this.datagramSize) return;
    this.datagramSize = size;
    const room = size - HEADER_SIZE - (this.encrypted ? TAG_SIZE : TRAILER_SIZE);
    this.sendQueue.setPacketRoom(room);
    this.retransmits.packetRoom = room;
  }

  private pollCloseFrame(now: number, scratch: DatagramScratch): Uint8Array | undefined {
    if (!this.closeSendDue || !this.closeFrame) return undefined;
    this.closeSendDue = false;
    const pn = this.takePn();
    const w = scratch.writer(this.config.mtu, dataPacketType(this.protection), this.remoteCid, pn, packetNumberLength(pn, this.recovery.largestAcked));
    // The ACK still owed goes first: alone, the CLOSE told a peer whose last messages we had read that they failed.
    if (this.acks.peerLacksAck()) this.acks.write(now, w, w.room() >> 1);
    writeCloseFitting(w, this.closeFrame.code, this.closeFrame.reason);
    return this.account(sealDatagram(this.protection, w, pn, scratch));
  }

  private account(datagram: Uint8Array): Uint8Array {
    this.stat.packetsSent++;
    this.stat.bytesSent += datagram.length;
    return datagram;
  }

  // ---------------------------------------------------------------- timers

  /** The earliest time something must happen, or `Infinity`. */
  nextTimeout(): number {
    let t = Number.POSITIVE_INFINITY;
    for (const kind of TIMER_ORDER) t = Math.min(t, this.deadline(kind));
    return t;
  }

  /** Runs whatever timers are due at `now`. */
  handleTimeout(now: number): void {
    this.lastActivity = now;
    for (const kind of TIMER_ORDER) {
      if (this.state === 'closed') return;
      if (now >= this.deadline(kind)) this.expire(now, kind);
    }
  }

  /** When timer `kind` fires in the current state (`Infinity`: not armed). */
  private deadline(kind: Timer): number {
    const live = this.state === 'established' || this.state === 'closing';
    switch (kind) {
      case Timer.Initial:
        if (this.serverHandshake !== undefined) return live ? this.serverHandshake.copyDeadline() : Number.POSITIVE_INFINITY;
        return this.state === 'handshake' ? (this.connecting?.timing.initialDeadline() ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY;
      case Timer.HandshakeTimeout:
        return this.state === 'handshake' ? (this.connecting?.timing.timeoutDeadline() ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY;
      case Timer.Drain:
        return this.state === 'draining' ? this.drainUntil : Number.POSITIVE_INFINITY;
      case Timer.Idle:
        return live ? this.lastReceived + this.config.idleTimeoutMs : Number.POSITIVE_INFINITY;
      case Timer.Ack:
        return live ? this.acks.deadline() : Number.POSITIVE_INFINITY;
      case Timer.Unacknowledged: {
        if (!live) return Number.POSITIVE_INFINITY;
        // A peer that went quiet soon after our oldest packet left is silent, not refusing to acknowledge:
        // the idle timer reports it (within 1.5 idle timeouts of that packet), so one partition gets one reason.
        const oldest = this.recovery.oldestInFlightSentAt();
        return this.lastReceived - oldest < this.config.idleTimeoutMs / 2 ? Number.POSITIVE_INFINITY : oldest + this.config.idleTimeoutMs;
      }
      case Timer.LossDetection:
        return live ? this.recovery.lossDeadline() : Number.POSITIVE_INFINITY;
      case Timer.Probe:
        return live ? this.recovery.ptoDeadline() : Number.POSITIVE_INFINITY;
      case Timer.KeepAlive:
        if (!live || this.pingDue) return Number.POSITIVE_INFINITY;
        return Math.max(this.recovery.lastAckElicitingSentAt, this.lastReceived) + keepAliveInterval(this.config);
      case Timer.Resend: {
        const r = live ? this.retransmits.earliest() : Number.POSITIVE_INFINITY;
        return r > this.lastPollTime ? r : Number.POSITIVE_INFINITY;
      }
      case Timer.Pacing: {
        if (!live) return Number.POSITIVE_INFINITY;
        const paced = this.pacer.deadline(this.lastPollTime);
        // Also when a new-data probe waits out its spacing (see new-data-probe.ts).
        const probeAt = this.newDataProbeAt();
        return Math.min(paced, probeAt > this.lastPollTime ? probeAt : Number.POSITIVE_INFINITY);
      }
    }
  }

  /** Timer `kind` fired at `now`. */
  private expire(now: number, kind: Timer): void {
    switch (kind) {
      case Timer.HandshakeTimeout:
        this.finish('unreachable', 0, `no answer from ${this.remote} within ${this.config.handshakeTimeoutMs} ms`, false);
        return;
      case Timer.Drain:
        this.finish(this.pendingClose?.kind ?? 'local', this.pendingClose?.code ?? 0, this.pendingClose?.message ?? 'closed', true);
        return;
      case Timer.Idle:
        this.finish('timeout', 0, `no packet from ${this.remote} for ${this.config.idleTimeoutMs} ms`, false);
        return;
      case Timer.Unacknowledged:
        this.finish('timeout', 0, `no acknowledgement from ${this.remote} for ${this.config.idleTimeoutMs} ms`, false);
        return;
      case Timer.LossDetection:
        this.recovery.detectLosses(now);
        return;
      case Timer.Probe:
        this.recovery.onPtoExpired();
        this.probesDue = PTO_PROBES;
        // Re-send the oldest unacknowledged data without declaring it lost; a PING if there is none.
        if (!this.retransmits.queueProbe(now, this.recovery.packets())) this.pingDue = true;
        return;
      case Timer.KeepAlive:
        this.pingDue = true;
        return;
      case Timer.Initial:
      case Timer.Ack:
      case Timer.Resend:
      case Timer.Pacing:
        // Due work that the poll after this timeout sends.
        return;
    }
  }

  // ---------------------------------------------------------------- closing

  private startClose(now: number, reason: CloseReason): void {
    if (this.state === 'draining' || this.state === 'closed') return;
    const bytes = encoder.encode(reason.message).subarray(0, MAX_CLOSE_REASON);
    this.closeFrame = { code: reason.code, reason: reason.kind === 'peer' ? new Uint8Array(0) : bytes };
    // Answer a peer's CLOSE once; send our own.
    this.closeSendDue = true;
    this.state = 'draining';
    this.pendingClose = reason;
    // Three probe timeouts (RFC 9000 §10.2), each at most maxPtoMs: a peer that inflates its round trip
    // (by holding its ACKs) would otherwise keep the closed connection, and its buffers, for as long.
    this.drainUntil = now + 3 * Math.min(this.rtt.pto(this.config.maxAckDelayMs), this.config.maxPtoMs);
    this.retransmits.clear();
    this.recovery.clear();
    this.host.emit({ type: 'closed', connection: this, reason });
    this.closeReason = reason;
  }

  /** Ends the connection without a goodbye (or after draining). */
  private finish(kind: CloseKind, code: number, message: string, alreadyReported: boolean): void {
    this.state = 'closed';
    this.recovery.clear();
    this.retransmits.clear();
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
