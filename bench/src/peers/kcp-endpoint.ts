import type { PeerAddress, RandomSource, Transmit } from '../lib/rudp-imports.js';
import { DeadlineHeap } from './deadline-heap.js';
import { NativeKCP, type NativeKcp } from './kcp-native.js';
import type { KcpProfile } from './kcp-profile.js';
import type { MessageConnection, MessageEndpoint, MessageEvent } from './message-endpoint.js';

/** Options for a `KcpEndpoint`. */
export interface KcpEndpointOptions {
  readonly profile: KcpProfile;
  /** Draws the conversation id of each outgoing connection. */
  readonly random: RandomSource;
  /** Whether a datagram from an unknown address opens a connection (server side). */
  readonly acceptIncoming: boolean;
}

/** One KCP conversation with one peer. */
class KcpConnection implements MessageConnection {
  constructor(
    readonly remote: PeerAddress,
    readonly kcp: NativeKcp,
    private readonly afterSend: (conn: KcpConnection) => void,
  ) {}

  send(data: Uint8Array): void {
    const rc = this.kcp.send(asBuffer(data));
    // A refusal means a scenario asked for a message too large for KCP: a bench bug, not a result.
    if (rc < 0) throw new Error(`ikcp_send refused a ${data.byteLength}-byte message (code ${rc})`);
    this.afterSend(this);
  }
}

/**
 * KCP (the C library via node-kcp) as a `SansIoEndpoint` with the same
 * message API as rudp's `Endpoint`, so the simulator drives both alike.
 *
 * Connections are told apart by remote address; KCP has no handshake, so a
 * client is `connected` at once and the server learns of it from its first
 * datagram. `ikcp_update` runs at the times `ikcp_check` gives; with the
 * `flushed` drive (kcp-go's) a send and an input also flush at once.
 */
export class KcpEndpoint implements MessageEndpoint {
  private readonly connections = new Map<PeerAddress, KcpConnection>();
  private readonly timers = new DeadlineHeap<KcpConnection>();
  private readonly outbox: Transmit[] = [];
  private outboxHead = 0;
  private readonly events: MessageEvent[] = [];
  private eventsHead = 0;
  private now = 0;

  private readonly flushed: boolean;
  private readonly sentTo = new Set<KcpConnection>();

  constructor(private readonly options: KcpEndpointOptions) {
    this.flushed = options.profile.drive === 'flushed';
  }

  /** Number of open conversations. */
  get connectionCount(): number {
    return this.connections.size;
  }

  connect(now: number, to: PeerAddress): MessageConnection {
    this.now = now;
    const existing = this.connections.get(to);
    if (existing) return existing;
    const conn = this.open(to, this.options.random() >>> 0);
    this.events.push({ type: 'connected', connection: conn });
    return conn;
  }

  handleDatagram(now: number, data: Uint8Array, from: PeerAddress): void {
    this.now = now;
    let conn = this.connections.get(from);
    let fresh = false;
    if (!conn) {
      if (!this.options.acceptIncoming || data.byteLength < 24) return;
      const conv = new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true);
      conn = this.open(from, conv);
      fresh = true;
    }
    const rc = conn.kcp.input(asBuffer(data));
    if (rc < 0) {
      if (fresh) this.drop(conn);
      return;
    }
    if (fresh) this.events.push({ type: 'incoming', connection: conn });
    for (let msg = conn.kcp.recv(); msg !== undefined; msg = conn.kcp.recv()) {
      this.events.push({ type: 'message', connection: conn, data: msg });
    }
    if (this.flushed) this.flushNow(conn);
  }

  /** A send has no clock, so its flush waits for the `pollTransmit(now)` the app's wake-up brings, at the same instant. */
  private readonly afterSend = (conn: KcpConnection): void => {
    if (this.flushed) this.sentTo.add(conn);
  };

  /**
   * kcp-go's immediate flush: the clock is brought to now first (kcp-go reads
   * the wall clock in input and flush; the C library only learns the time in
   * `ikcp_update`), then ACKs, data the window allows and due resends leave.
   */
  private flushNow(conn: KcpConnection): void {
    const tick = Math.floor(this.now);
    conn.kcp.update(tick);
    conn.kcp.flush();
    this.timers.set(conn, tick + Math.max(1, conn.kcp.check(tick)));
  }

  pollTransmit(now: number): Transmit | undefined {
    if (this.sentTo.size > 0) {
      this.now = now;
      for (const conn of this.sentTo) if (this.connections.get(conn.remote) === conn) this.flushNow(conn);
      this.sentTo.clear();
    }
    if (this.outboxHead >= this.outbox.length) {
      if (this.outbox.length > 0) {
        this.outbox.length = 0;
        this.outboxHead = 0;
      }
      return undefined;
    }
    return this.outbox[this.outboxHead++];
  }

  pollTimeout(): number | undefined {
    return this.timers.peek();
  }

  handleTimeout(now: number): void {
    this.now = now;
    const tick = Math.floor(now);
    for (let conn = this.timers.popDue(now); conn; conn = this.timers.popDue(now)) {
      this.tick(conn, tick);
    }
  }

  pollEvent(): MessageEvent | undefined {
    if (this.eventsHead >= this.events.length) {
      if (this.events.length > 0) {
        this.events.length = 0;
        this.eventsHead = 0;
      }
      return undefined;
    }
    return this.events[this.eventsHead++];
  }

  private open(remote: PeerAddress, conv: number): KcpConnection {
    const p = this.options.profile;
    const kcp = new NativeKCP(conv, { remote });
    kcp.nodelay(p.nodelay, p.intervalMs, p.resend, p.noCongestionWindow);
    kcp.wndsize(p.sendWindow, p.receiveWindow);
    kcp.setmtu(p.mtu);
    const conn = new KcpConnection(remote, kcp, this.afterSend);
    kcp.output((data: Buffer, size: number) => {
      this.outbox.push({ to: remote, data: size === data.byteLength ? data : data.subarray(0, size) });
    });
    this.connections.set(remote, conn);
    this.tick(conn, Math.floor(this.now));
    return conn;
  }

  private tick(conn: KcpConnection, tick: number): void {
    conn.kcp.update(tick);
    this.timers.set(conn, tick + Math.max(1, conn.kcp.check(tick)));
  }

  private drop(conn: KcpConnection): void {
    this.connections.delete(conn.remote);
    this.timers.delete(conn);
    conn.kcp.release();
  }
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
