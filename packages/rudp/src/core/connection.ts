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
 * - flow-control.ts: credit in both directions (with credit.ts, peer-limit.ts, announced-limit.ts,
 *   blocked-answer.ts)
 * - repair/: the repair code, the sender's redundancy policy, the receiver's decoder
 * - timers.ts: the typed timer table
 *
 * and what the connection itself does with them, in connection/:
 *
 * - connection/accept.ts: the client's ACCEPT acted on
 * - connection/host.ts: what the connection needs of its endpoint
 * - connection/frame-dispatch.ts: an incoming packet opened, each frame to its mechanism
 * - connection/packet-fate.ts: a sent packet acknowledged or lost, told to each mechanism
 * - connection/transmit.ts: the next datagram to send, and its record once sent
 * - connection/timeouts.ts: each timer's deadline, and what its expiry does
 * - connection/close.ts: the CLOSE, the drain, and the `closed` event
 * - connection/migration.ts: a server following its client to a new address (path-validation.ts)
 * - connection/receive-credit.ts: the credit the connection grants, raised, topped up, or answering a BLOCKED
 *
 * Those are functions that take the connection and read the members it
 * marks internal, not objects of their own: a server holds 10,000 idle
 * connections, and an object per part would be heap in every one of them.
 * The mark keeps those members out of the published types, as `private`
 * would. (The tag is not spelled out here: in this comment it would strip
 * the import below it from the published types.)
 *
 * The fields, those members among them, and the constructor that wires the
 * mechanisms are in connection/members.ts (`ConnectionMembers`, which
 * `Connection` extends); this file holds the entry points, what the
 * application and the endpoint call.
 *
 * Pure: `now` is always passed in and datagrams are polled out; the
 * `Endpoint` routes datagrams and timers to it.
 */
import type { CloseReason } from './events.js';
import { MESSAGE_CREDIT, creditOf } from './credit.js';
import type { PeerAddress } from './sans-io.js';
import type { SentPacket } from './recovery/sent-packet.js';
import type { DatagramScratch } from './datagram-scratch.js';
import type { PacketDrop } from './packet-sealing.js';
import { type ConnectionStats, connectionStats } from './connection-stats.js';
import { DetachedBytesError } from './send/outgoing-message.js';
import { PluginFault } from '../crypto/plugin-fault.js';
import { endForFault, goodbyeAfterFault } from './connection/plugin-fault-close.js';
import { type DeliveryOptions, checkDelivery } from './send/delivery-options.js';
import { applyAccept } from './connection/accept.js';
import { closeReasonOf, finish, startClose } from './connection/close.js';
import { receivePacket } from './connection/frame-dispatch.js';
import { ConnectionMembers } from './connection/members.js';
import { packetAcked, packetLost, packetSpurious } from './connection/packet-fate.js';
import { earliestDeadline, runDueTimers } from './connection/timeouts.js';
import { nextDatagram } from './connection/transmit.js';
import { answerBlocked, raiseWindow, topUpCredit } from './connection/receive-credit.js';
import type { AcceptPayload, HeaderFields } from '../wire/packet.js';

export type { PacketDrop } from './packet-sealing.js';
export type { KeyMismatch } from './connect-attempt.js';
export type { ConnectionStats } from './connection-stats.js';
export type { ConnectionHost } from './connection/host.js';
export type { ConnectionState } from './connection/members.js';

/** A connection to one peer. Create through `Endpoint.connect` or accept via `Endpoint` events. */
export class Connection extends ConnectionMembers {
  /**
   * The peer's validated address. A server connection follows its client to
   * a new address (NAT rebinding, or another IP address: Wi-Fi to cellular)
   * once the new address proved itself (see connection/migration.ts); it
   * never changes otherwise. While the new address is being validated,
   * datagrams already go there.
   */
  get remote(): PeerAddress {
    return this.peerAddress;
  }

  /** @internal Where datagrams go: a candidate the connection moved to (connection/migration.ts), else `remote`. */
  get sendAddress(): PeerAddress {
    const path = this.path;
    return path !== undefined && path.moved ? path.candidate : this.peerAddress;
  }

  /** @internal The client was validated at `address` (connection/migration.ts): every datagram goes there from now on. */
  moveTo(address: PeerAddress): void {
    this.peerAddress = address;
    this.destination = address;
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
   * Grants `bytes` at once, growing this connection's receive window to it
   * if it is smaller (a larger value than the endpoint's budget could ever
   * grant one connection is that: see `windowWithin`). A value within the
   * window but above what the connection grants now (credit is granted
   * lazily: 1 MiB of the default 32 MiB at first) grows the grant alone; one
   * at or below the grant changes nothing (credit announced cannot be taken
   * back). The peer hears of it in the next packet (MAX_DATA) and may then
   * send messages up to the new window. For a server that keeps the window of
   * connections it does not trust yet small (what an unfinished message may
   * make it hold) and raises it once the peer has proved who it is, or one
   * that knows a peer will send fast and grants at once what reading would
   * earn in a few round trips.
   */
  raiseReceiveWindow(bytes: number): void {
    raiseWindow(this, bytes);
  }

  /** @internal The endpoint's receive budget has credit again (`ReceivePool.serve`); whether more is still wanted. */
  override topUpCredit(): boolean {
    return topUpCredit(this);
  }

  /** @internal What `maxMessageSize` is, in words for an error. */
  windowTakes(): string {
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

  /**
   * Abrupt close: queued data is dropped and the peer is told at once.
   * `reason` is cut, at a character boundary, to what a CLOSE carries (256
   * UTF-8 bytes, less with a small `mtu`), and the close reason here is the
   * same cut text the peer gets (also when no CLOSE is sent, during the
   * handshake).
   */
  destroy(now: number, code = 1, reason = 'closed'): void {
    this.lastActivity = Math.max(this.lastActivity, now);
    if (this.state === 'draining' || this.state === 'closed') return;
    this.host.wake(this);
    if (this.state === 'handshake') {
      finish(this, 'local', code, closeReasonOf(this, code, reason).text, false);
      return;
    }
    startClose(this, this.lastActivity, { kind: 'local', code, message: reason });
  }

  /** Stops releasing messages to the application (they count against the receive window, so the sender stalls). */
  pause(): void {
    this.paused = true;
  }

  /** Resumes releasing messages. */
  resume(): void {
    this.paused = false;
    if (this.hasMessage()) this.host.readable(this);
    else this.answerBlocked();
  }

  /** @internal The peer waits for a limit past ours (BLOCKED): the grant grows to fit it if the application keeps up. */
  answerBlocked(): void {
    answerBlocked(this);
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
    // Credit the endpoint's budget had no room for is granted as it returns.
    if (reliable) {
      const credit = creditOf(m.length);
      this.flow.growByRate(credit, this.lastActivity, this.rtt.srtt);
      if (this.flow.onRead(credit)) this.host.receivePool?.wait(this);
    }
    // After a datagram too: one left unread kept a BLOCKED unanswered, and the peer says it only once.
    if (this.flow.peerWaiting) this.answerBlocked();
    // Reading may let us announce more window to the sender.
    this.host.wake(this);
    return m;
  }

  /** Bytes of messages queued but not yet acknowledged by the peer. */
  get bufferedAmount(): number {
    return this.sendQueue.bufferedAmount;
  }

  /**
   * Counters and estimates. If the application's congestion controller throws when asked for its window, the
   * connection ends for it (see `endForFault`), its drain counted from `now` (by default its last activity).
   * Once the connection ended (draining or closed) its controller is not asked: `cwndBytes` is the last
   * window it gave (0 if none was asked before the end).
   */
  stats(now = this.lastActivity): ConnectionStats {
    try {
      return this.statsNow();
    } catch (e) {
      // Ended as it would have been at its next poll (left running, it would send with the guard's inert
      // stand-in, uncontrolled).
      this.endForFault(now, e);
      return this.statsNow();
    }
  }

  private statsNow(): ConnectionStats {
    const { reassembly, sendQueue, repairReceiver, recovery, rtt, pmtu, protection } = this;
    // Ended, its controller is asked nothing more, by stats() either (it may have ended the connection itself, or
    // thrown: the guard's inert stand-in would answer a window of 2^53): the last window it gave stands.
    if (this.state !== 'draining' && this.state !== 'closed') this.windowSeen = this.cc.window();
    return connectionStats(this.stat, { reassembly, sendQueue, repairReceiver, recovery, rtt, window: this.windowSeen, controller: this.cc.name, pmtu, protection });
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
    try {
      return applyAccept(this, now, accept);
    } catch (e) {
      this.endForFault(now, e);
      return 'ok';
    }
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
   * else can. Throws on a plaintext connection or before the handshake. If
   * the application's crypto provider throws, the connection ends for it as
   * for any plug-in's fault (its drain counted from `now`, by default the
   * connection's last activity) and the `PluginFault` is thrown.
   */
  exportKeyingMaterial(label: string, context: Uint8Array, length: number, now = this.lastActivity): Uint8Array {
    if (this.exporter === undefined) throw new Error(`rudp: ${this.encrypted ? 'the handshake has not finished' : 'a plaintext connection has no keys'}: nothing to export`);
    try {
      return this.exporter.exportKeyingMaterial(label, context, length);
    } catch (e) {
      // Thrown to the caller too (it gets no bytes); ended, so the provider that failed is not used again.
      if (e instanceof PluginFault) this.endForFault(now, e);
      throw e;
    }
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
   * `size` is the datagram's, `from` where it came from (the endpoint passes
   * another address than `remote` only where `mayComeFrom` allows it). A
   * protected packet is opened first: one that fails is dropped and counted,
   * never processed and never answered.
   */
  handlePacket(now: number, h: HeaderFields, size: number, from: PeerAddress = this.peerAddress): 'ok' | PacketDrop {
    this.lastActivity = now;
    if (this.state === 'handshake' || this.state === 'closed') return 'ok';
    try {
      return receivePacket(this, now, h, size, from);
    } catch (e) {
      this.endForFault(now, e);
      return 'ok';
    }
  }

  /** @internal Loss detection's `PacketFate`: the peer has packet `p`. */
  override acked(p: SentPacket): void {
    packetAcked(this, p);
  }

  /** @internal Loss detection's `PacketFate`: packet `p` was declared lost at `now`. */
  override lost(now: number, p: SentPacket, silent = false, run = false): void {
    packetLost(this, now, p, silent, run);
  }

  /** @internal Loss detection's `PacketFate`: packet `p`, declared lost, arrived after all. */
  override spurious(p: SentPacket): void {
    packetSpurious(this, p);
  }

  // ---------------------------------------------------------------- endpoint calls: sending and timers

  /** The next datagram to send, if any; it goes to `destination` (`remote`, or while a path validation runs its candidate). */
  pollTransmit(now: number, scratch: DatagramScratch): Uint8Array | undefined {
    this.destination = this.sendAddress;
    let datagram: Uint8Array | undefined;
    try {
      datagram = nextDatagram(this, now, scratch);
    } catch (e) {
      // The application transferred the buffer of a message still queued (that message can never be sent),
      // or a plug-in of its own threw: the connection ends (its queues let go) and tells the peer, as a
      // destroy() would. The packet it was writing never left, nor the messages begun in it.
      this.sendQueue.packetLost();
      if (e instanceof DetachedBytesError) startClose(this, now, { kind: 'local', code: 1, message: e.message });
      else this.endForFault(now, e);
      datagram = goodbyeAfterFault(this, now, scratch);
    }
    // Every byte to an unvalidated address counts against its amplification limit.
    if (datagram !== undefined && this.path !== undefined && this.destination === this.path.candidate) this.path.onSent(datagram.length);
    return datagram;
  }

  /** The earliest time something must happen, or `Infinity`. */
  nextTimeout(): number {
    return earliestDeadline(this);
  }

  /** Runs whatever timers are due at `now`. */
  handleTimeout(now: number): void {
    this.lastActivity = now;
    try {
      runDueTimers(this, now);
    } catch (e) {
      this.endForFault(now, e);
    }
  }

  /**
   * @internal `e` was thrown while the connection worked: a plug-in's fault ends this connection alone
   * (`connection/plugin-fault-close.ts`); anything else is a bug of rudp's own and propagates.
   */
  endForFault(now: number, e: unknown): void {
    endForFault(this, now, e);
  }

  /** Endpoint shutdown: end at once. */
  abort(reason: CloseReason): void {
    if (this.state === 'closed') return;
    const reported = this.state === 'draining';
    finish(this, reason.kind, reason.code, reason.message, reported);
  }
}
