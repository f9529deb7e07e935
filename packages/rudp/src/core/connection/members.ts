/**
 * What one connection holds: the mechanisms it wires at its construction and
 * the state the functions in connection/ act on, every field of the
 * connection and nothing else. The entry points, which the application and
 * the endpoint call, are `Connection`'s (connection.ts), a subclass of this:
 * the split is one of files alone. Every connection is a `Connection` with
 * the same fields as before, and every method is on `Connection`'s own
 * prototype, none a step further down the chain.
 */
import type { ConnectionConfig } from '../config.js';
import type { CongestionController } from '../congestion/controller.js';
import { newController } from '../congestion/guarded-controller.js';
import type { CloseReason } from '../events.js';
import { partyOf, windowWithin } from '../credit.js';
import { FlowControl } from '../flow-control.js';
import { ConnectAttempt, type KeyMismatch } from '../connect-attempt.js';
import { AcceptAnswer, FIRST_PACKET_NUMBER, HANDSHAKE_COPIES, ServerHandshake } from '../handshake.js';
import type { PeerAddress } from '../sans-io.js';
import { AckTracker } from '../receive/ack-generation.js';
import { Reassembly } from '../receive/reassembly.js';
import { LossDetection } from '../recovery/loss-detection.js';
import type { SentPacket } from '../recovery/sent-packet.js';
import { RttEstimator } from '../recovery/rtt.js';
import { RepairPolicy } from '../repair/repair-policy.js';
import { RepairReceiver } from '../repair/repair-receiver.js';
import { Pacer } from '../send/pacer.js';
import { PathMtu } from '../send/path-mtu.js';
import { type ConnectionCounters, newCounters } from '../connection-stats.js';
import { RetransmitQueue } from '../send/retransmit-queue.js';
import { SendQueue } from '../send/send-queue.js';
import type { ConnectionSecurity } from '../security.js';
import type { ConnectionHost } from './host.js';
import type { Closing } from './close.js';
import type { OvercommitTimer } from './timeouts.js';
import type { PathValidation } from '../path-validation.js';
import type { KeyingMaterialExporter, PacketProtection } from '../../crypto/index.js';
import { MAX_SMALL_MESSAGE } from '../../wire/frame.js';
import { HEADER_SIZE, TAG_SIZE, TRAILER_SIZE, type TransportParams } from '../../wire/packet.js';

/** Lifecycle of a connection. */
export type ConnectionState = 'handshake' | 'established' | 'closing' | 'draining' | 'closed';

/**
 * What one connection holds (the `Connection` the application and the endpoint call is this and its
 * entry points). Abstract: the entry points its mechanisms call back (loss detection's `PacketFate`,
 * the receive budget's `CreditWaiter`) are the connection's own, in connection.ts. (No `implements`
 * clause: those members are internal, and the published types would declare a class without them.)
 */
export abstract class ConnectionMembers {
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
  /** @internal Whether the endpoint's receive budget lists this connection as waiting for credit (`ReceivePool.wait`). */
  creditWaiting = false;

  // The members below marked internal are the state the functions in connection/ act on (see connection.ts).

  /** @internal */
  readonly rtt = new RttEstimator();
  /** @internal Replaced by a new one when the client moves to another host (connection/migration.ts). */
  cc: CongestionController;
  /** @internal Client: the handshake, until established (an established connection does not keep it). */
  connecting: ConnectAttempt | undefined;
  /** @internal Server: the ACCEPT's state, dropped once the client's first authenticated packet arrives. */
  serverHandshake: ServerHandshake | undefined;
  /** @internal */
  readonly acks: AckTracker;
  /** @internal */
  readonly reassembly: Reassembly;
  /** @internal */
  readonly repairReceiver: RepairReceiver;
  /** @internal */
  readonly flow: FlowControl;
  /** @internal */
  readonly sendQueue: SendQueue;
  /** @internal */
  readonly retransmits: RetransmitQueue;
  /** @internal */
  readonly repairPolicy: RepairPolicy;
  /** @internal */
  readonly recovery: LossDetection;
  /** @internal */
  readonly pacer: Pacer;
  /** @internal */
  readonly pmtu: PathMtu;
  /** @internal The datagram size the send queues were last told of. */
  datagramSize: number;
  /** @internal A data packet left full: the application's data would fill larger datagrams (path MTU discovery may begin). */
  filledPacket = false;
  /** @internal Seals and opens DATA packets once keys exist (`undefined`: plaintext mode, or before the handshake). */
  protection: PacketProtection | undefined;
  /**
   * @internal When the previous key phase's receive keys go (connection/old-keys.ts); `undefined`: none
   * held, or already gone. A time only for three probe timeouts after each key update.
   */
  oldKeysUntil: number | undefined = undefined;
  /** @internal Derives keying material from the handshake (`exportKeyingMaterial`), once keys exist. */
  exporter: KeyingMaterialExporter | undefined;
  /** @internal The peer's static key (client: the server's proven identity). */
  peerStaticKey: Uint8Array | undefined;
  /** @internal Client: the reset token its server's hello sealed, as a one-byte string (reset-tokens.ts); else none. */
  resetToken: string | undefined = undefined;
  /** @internal */
  readonly encrypted: boolean;

  /** @internal The next packet number to send. */
  nextPn = FIRST_PACKET_NUMBER;
  /**
   * @internal When the last new-data probe was sent (see `newDataProbeAt`; `undefined`: never, read as
   * `-Infinity`). Not `-Infinity` itself: a field that holds one is a 16-byte HeapNumber in every connection.
   */
  lastNewDataProbeAt: number | undefined = undefined;
  /** @internal The first packet number sent after the last `raiseReceiveWindow` (see `FlowControl.onMaxDataAcked`). */
  raisedAtPn = 0;
  /** @internal Probe packets still owed since the probe timer fired. */
  probesDue = 0;
  /** @internal A PING is owed (keep-alive or a probe with no data to resend). */
  pingDue = false;
  /**
   * @internal Client: where its answer to the ACCEPT stands (`AcceptAnswer`): due once a poll after the ACCEPT
   * and then a timer turn went by with nothing sent (handshake.ts, connection/timeouts.ts). One field, not two
   * booleans: every connection holds it.
   */
  acceptAnswer = AcceptAnswer.Unpolled;
  /** @internal When the last authenticated packet arrived. */
  lastReceived: number;
  /**
   * @internal Plaintext only: bytes our ACK-only packets may still take (connection/transmit.ts): 3x the bytes
   * of the new packets received (`ANSWER_FACTOR`), at most `ACK_CREDIT_CAP`, less what ACK-only packets took.
   * Nothing authenticates a plaintext packet, and every one that arrives out of order is acknowledged at once
   * with up to 32 ranges: 14-byte PINGs forged from the peer's address, numbered 2 apart, drew 78-byte ACKs to
   * it (5.6x, attack round 24). An integer from 0 to `ACK_CREDIT_CAP`, and so a small one to V8.
   */
  ackCredit = 0;
  /**
   * @internal When the peer was heard again after a silence of half the idle timeout or more (0: never):
   * it could acknowledge nothing of ours during it, so the unacknowledged timer counts from here
   * (connection/timeouts.ts). Declared bare and set in the constructor, not `= 0`: V8 would type the
   * field a small integer, and the first fractional time (the Node adapter's clock gives fractions)
   * stored in any connection would make it a boxed number in every connection of the process
   * (test/unit/connection-time-boxing.test.ts).
   */
  heardAgainAt: number;
  /** @internal When `pollTransmit` last looked for data (resend and pacing timers earlier than it are spent); set in the constructor, see `heardAgainAt`. */
  lastPollTime: number;
  /**
   * @internal The last window the controller gave (0 before its first): what `stats()` reports once the
   * connection ended, when its controller is asked nothing more (connection/close.ts); set in the
   * constructor, see `heardAgainAt`.
   */
  windowSeen: number;
  /**
   * @internal The overcommit answer whose time to begin is counted (connection/timeouts.ts): made when
   * the first leaves, so the many connections that never take one hold one empty field, not four
   * numbers (one boxed).
   */
  overcommitTimer: OvercommitTimer | undefined = undefined;
  /** @internal Latest `now` seen, for calls that carry no time (destroy). */
  lastActivity: number;
  /** @internal The goodbye, from when the drain begins (connection/close.ts). */
  closing: Closing | undefined;
  /** @internal Whether reading is paused (`pause`, `resume`). */
  protected paused = false;
  /** @internal `close` was called during the handshake: the connection closes once established. */
  closeRequested = false;

  /** @internal */
  readonly stat: ConnectionCounters = newCounters();
  /** @internal The peer's validated address (`remote`); changed only by `moveTo`. */
  protected peerAddress: PeerAddress;
  /** @internal Server: the validation of a new address the client's packets came from (see connection/migration.ts), if one runs. */
  path: PathValidation | undefined = undefined;
  /**
   * @internal Server: until when a new address is validated before the connection moves there (a validation
   * failed; connection/migration.ts). `undefined`: never, not `-Infinity`, which would box a HeapNumber per connection.
   */
  cautiousUntil: number | undefined = undefined;
  /** @internal Server: the last new host refused for want of room, and until when its packets are refused without asking the tally again (connection/migration.ts). */
  refusedHost: { readonly from: PeerAddress; readonly until: number } | undefined = undefined;
  /** @internal The data of the latest PATH_CHALLENGE received, to echo (connection/path-response.ts); allocated at the first. */
  pathResponse: Uint8Array | undefined = undefined;
  /** @internal A PATH_RESPONSE echoing `pathResponse` is owed. */
  pathResponseDue = false;
  /** @internal Where the datagram `pollTransmit` returned last goes: `remote`, a path validation's candidate, or (a PING) the address it left. */
  destination: PeerAddress;

  constructor(
    /** @internal */
    readonly host: ConnectionHost,
    /** @internal */
    readonly config: ConnectionConfig,
    /** Which side of the handshake this is. */
    readonly role: 'client' | 'server',
    /** The connection id the peer puts in packets to us. */
    readonly localCid: number,
    /** The connection id we put in packets to the peer (0 until the client learns it). */
    public remoteCid: number,
    remote: PeerAddress,
    now: number,
    /** The peer's window and first limit (its INITIAL); a client, before the ACCEPT tells it, passes its own window. */
    peer: TransportParams | number,
    security: ConnectionSecurity = { mode: 'plaintext' },
  ) {
    this.peerAddress = remote;
    this.destination = remote;
    this.encrypted = security.mode !== 'plaintext';
    if (security.mode === 'server') {
      this.protection = security.keys.protection;
      this.exporter = security.keys.exporter;
    }
    this.cc = newController(config);
    const pool = host.receivePool;
    const peerWindow = typeof peer === 'number' ? peer : peer.receiveWindow;
    const window = windowWithin(config.receiveWindow, pool);
    this.flow = new FlowControl(window, peerWindow, pool, typeof peer === 'number' ? peerWindow : peer.initialLimit, role === 'server' ? partyOf(remote) : undefined);
    this.flow.waiter = this;
    // The handshake announces the window (the largest message) and the credit granted at first: the
    // first grant, or less while the endpoint's budget is short.
    const handshake = { localCid, receiveWindow: window, initialLimit: this.flow.limit, mtu: config.mtu, handshakeTimeoutMs: config.handshakeTimeoutMs, copies: HANDSHAKE_COPIES, copySpacingMs: config.redundantSpacingMs };
    if (role === 'client') this.connecting = new ConnectAttempt(handshake, now, security.mode === 'client' ? security.begin(handshake) : undefined);
    else this.serverHandshake = new ServerHandshake(handshake, security.mode === 'server' ? security.serverHello : undefined);
    this.acks = new AckTracker(config);
    this.reassembly = new Reassembly(window, host.copyMessage, this.flow);
    this.repairReceiver = new RepairReceiver(this.reassembly);
    if (pool !== undefined && this.flow.credit < this.flow.grant) pool.wait(this);
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
    this.heardAgainAt = 0;
    // Times set here, not as `= 0` initializers: see `heardAgainAt` (a box in every connection, else).
    this.lastPollTime = 0;
    this.windowSeen = 0;
    this.lastActivity = now;
    this.state = role === 'client' ? 'handshake' : 'established';
  }

  /** @internal Loss detection's `PacketFate`: the peer has packet `p`. */
  abstract acked(p: SentPacket): void;
  /** @internal Loss detection's `PacketFate`: packet `p` was declared lost at `now`. */
  abstract lost(now: number, p: SentPacket, silent?: boolean, run?: boolean): void;
  /** @internal Loss detection's `PacketFate`: packet `p`, declared lost, arrived after all. */
  abstract spurious(p: SentPacket): void;
  /** @internal The endpoint's receive budget has credit again (`ReceivePool.serve`); whether more is still wanted. */
  abstract topUpCredit(): boolean;
}
