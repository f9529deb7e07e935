/**
 * The Node adapter: the only code that touches `node:dgram` and a real
 * clock. It feeds an `Endpoint` from one UDP socket, sends what it polls,
 * keeps one timer for its next deadline, and turns endpoint events into
 * `EventEmitter` events and promises.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { ConnectionConfig } from '../core/config.js';
import type { Connection, ConnectionStats } from '../core/connection.js';
import { Endpoint, type EndpointStats } from '../core/endpoint.js';
import type { CloseReason, EndpointEvent } from '../core/events.js';
import { type PeerAddress, type RandomSource, formatAddress, parseAddress } from '../core/sans-io.js';

/** Deadlines closer than this are met with `setImmediate`: `setTimeout` cannot wait less than 1 ms. */
const TIMER_GRANULARITY_MS = 1;

/** Options common to `listen` and `connect`: any connection setting may be overridden. */
export type TransportOptions = Partial<ConnectionConfig>;

/** A RandomSource backed by the OS CSPRNG (connection ids and cookie keys must be unguessable). */
export function cryptoRandom(): RandomSource {
  let pool = randomBytes(1024);
  let pos = 0;
  return () => {
    if (pos + 4 > pool.length) {
      pool = randomBytes(1024);
      pos = 0;
    }
    const v = pool.readUInt32BE(pos);
    pos += 4;
    return v;
  };
}

/** The error a failed connection reports. */
export class RudpError extends Error {
  constructor(
    message: string,
    /** Why the connection ended. */
    readonly reason: CloseReason,
  ) {
    super(message);
    this.name = 'RudpError';
  }
}

interface PendingSend {
  resolve(): void;
  reject(e: Error): void;
}

/**
 * One reliable connection. Events: `'message'` (Uint8Array), `'close'`
 * (CloseReason), and `'error'` (RudpError, only emitted when someone listens,
 * so a vanished peer can never crash a process that forgot a handler).
 */
export class RudpConnection extends EventEmitter<{ message: [Uint8Array]; close: [CloseReason]; error: [RudpError] }> {
  /**
   * Unacknowledged sends by message id: slot `id - pendingBase`. Ids are
   * consecutive and acknowledged roughly in order, so an array with its
   * settled front trimmed beats a Map's insert and delete per message.
   */
  private pending: (PendingSend | undefined)[] = [];
  private pendingHead = 0;
  private pendingBase = 0;
  private closedWith: CloseReason | undefined;
  private readonly closeWaiters: (() => void)[] = [];

  /** @internal */
  constructor(
    private readonly io: UdpEndpoint,
    /** The sans-IO connection underneath. */
    readonly core: Connection,
  ) {
    super();
    core.userData = this;
  }

  /** The peer's address. */
  get remoteAddress(): string {
    return parseAddress(this.core.remote)?.host ?? this.core.remote;
  }

  /** The peer's port. */
  get remotePort(): number {
    return parseAddress(this.core.remote)?.port ?? 0;
  }

  /** Whether the connection has ended. */
  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Sends one message; resolves once the peer has acknowledged all of it, rejects if the connection dies first. */
  send(data: Uint8Array | string): Promise<void> {
    if (this.closedWith) return Promise.reject(new RudpError(`connection closed: ${this.closedWith.message}`, this.closedWith));
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    let id: number;
    try {
      id = this.core.send(bytes);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    const p = new Promise<void>((resolve, reject) => this.addPending(id, { resolve, reject }));
    this.io.changed(this.core);
    return p;
  }

  /** Stops delivering `'message'` events; the sender stalls once the receive window fills. */
  pause(): void {
    this.core.pause();
  }

  /** Resumes delivering messages. */
  resume(): void {
    this.core.resume();
    this.io.changed(this.core);
  }

  /** Graceful close: queued messages are delivered first. Resolves when closed. */
  close(): Promise<void> {
    if (!this.closedWith) {
      this.core.close(this.io.now());
      this.io.changed(this.core);
    }
    return this.whenClosed();
  }

  /** Abrupt close: drops queued data and tells the peer. */
  destroy(reason = 'destroyed'): void {
    if (this.closedWith) return;
    this.core.destroy(this.io.now(), 1, reason);
    this.io.changed(this.core);
  }

  /** Counters and estimates. */
  stats(): ConnectionStats {
    return this.core.stats();
  }

  /** @internal */
  whenClosed(): Promise<void> {
    if (this.closedWith) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  /** @internal */
  onAcked(id: number): void {
    const i = id - this.pendingBase;
    const p = this.pending[i];
    if (p === undefined) return;
    this.pending[i] = undefined;
    while (this.pendingHead < this.pending.length && this.pending[this.pendingHead] === undefined) this.pendingHead++;
    if (this.pendingHead === this.pending.length) {
      // All settled: start over at the next id.
      this.pendingBase += this.pending.length;
      this.pending = [];
      this.pendingHead = 0;
    } else if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
      this.pending.splice(0, this.pendingHead);
      this.pendingBase += this.pendingHead;
      this.pendingHead = 0;
    }
    p.resolve();
  }

  private addPending(id: number, p: PendingSend): void {
    if (this.pending.length === 0) this.pendingBase = id;
    const i = id - this.pendingBase;
    // Ids the core gave to sends made around this wrapper leave holes.
    while (this.pending.length < i) this.pending.push(undefined);
    this.pending[i] = p;
  }

  /** @internal */
  onClosed(reason: CloseReason): void {
    if (this.closedWith) return;
    this.closedWith = reason;
    const err = new RudpError(`connection closed (${reason.kind}): ${reason.message}`, reason);
    const pending = this.pending;
    this.pending = [];
    this.pendingHead = 0;
    for (const p of pending) p?.reject(err);
    if (reason.kind !== 'local' && reason.kind !== 'peer' && this.listenerCount('error') > 0) this.emit('error', err);
    this.emit('close', reason);
    for (const w of this.closeWaiters.splice(0)) w();
  }
}

/** @internal Drives one Endpoint from one socket. */
export class UdpEndpoint {
  readonly endpoint: Endpoint;
  private timer: NodeJS.Timeout | undefined;
  /** The deadline `timer` was set for (it may be earlier than the endpoint's current one). */
  private timerAt = Number.POSITIVE_INFINITY;
  private immediate: NodeJS.Immediate | undefined;
  /** When the current run of `setImmediate` wake-ups without any datagram in or out began. */
  private idleSpinSince: number | undefined;
  private pumpQueued = false;
  private closed = false;
  private readonly addressCache = new Map<PeerAddress, { host: string; port: number }>();
  /** Called for each event the adapter does not handle itself. */
  onEvent: ((e: EndpointEvent) => void) | undefined;
  /** Socket `'error'` events, counted rather than thrown. */
  socketErrors = 0;
  /**
   * The peer the socket is `connect()`ed to, if any: sends to it skip Node's
   * per-datagram address lookup and the kernel's per-send route lookup.
   */
  connectedPeer: PeerAddress | undefined;
  /** The last sender's host, port and formatted address: one peer sends runs of datagrams. */
  private lastFromHost = '';
  private lastFromPort = -1;
  private lastFrom: PeerAddress = '';

  constructor(
    readonly socket: dgram.Socket,
    acceptIncoming: boolean,
    options: TransportOptions,
  ) {
    this.endpoint = new Endpoint({ ...options, random: cryptoRandom(), acceptIncoming });
    socket.on('message', (msg, rinfo) => {
      if (this.closed) return;
      this.endpoint.handleDatagram(this.now(), msg, this.fromAddress(rinfo.address, rinfo.port));
      this.idleSpinSince = undefined;
      // One pump per event-loop turn, after every datagram this turn read (libuv hands over a burst
      // per poll): the ACKs for the burst go out as one, and the sender answers a burst of ACKs
      // with one round of sends, instead of a full poll per datagram.
      this.immediate ??= setImmediate(this.onImmediate);
    });
    socket.on('error', () => {
      this.socketErrors++;
    });
  }

  /** Monotonic milliseconds. */
  now(): number {
    return performance.now();
  }

  /** The application changed `conn` (which marked itself for polling): pump soon, batched to the end of this tick. */
  changed(_conn: Connection): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** Delivers events, sends datagrams and re-arms the timer. */
  pump(): void {
    if (this.closed) return;
    const now = this.now();
    for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) this.dispatch(e);
    for (let t = this.endpoint.pollTransmit(now); t; t = this.endpoint.pollTransmit(now)) {
      this.sendDatagram(t.to, t.data);
      this.idleSpinSince = undefined;
    }
    // Dispatching may have made more to do (a handler that sends); the microtask pump catches it.
    this.arm();
  }

  /** Ends everything: tells peers, closes the socket. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.endpoint.destroyAll(this.now());
    for (let t = this.endpoint.pollTransmit(this.now()); t; t = this.endpoint.pollTransmit(this.now())) this.sendDatagram(t.to, t.data);
    this.endpoint.abortAll();
    for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) this.dispatch(e);
    this.closed = true;
    this.cancelTimer();
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  /** Endpoint-wide counters. */
  stats(): EndpointStats {
    return this.endpoint.stats();
  }

  private dispatch(e: EndpointEvent): void {
    const wrapper = e.connection.userData instanceof RudpConnection ? e.connection.userData : undefined;
    switch (e.type) {
      case 'message':
        wrapper?.emit('message', e.data);
        return;
      case 'acked':
        wrapper?.onAcked(e.messageId);
        return;
      case 'closed':
        wrapper?.onClosed(e.reason);
        this.onEvent?.(e);
        return;
      default:
        this.onEvent?.(e);
    }
  }

  /** `formatAddress(host, port)`, without building (and later flattening) a new string per datagram. */
  private fromAddress(host: string, port: number): PeerAddress {
    if (port !== this.lastFromPort || host !== this.lastFromHost) {
      this.lastFromHost = host;
      this.lastFromPort = port;
      this.lastFrom = formatAddress(host, port);
    }
    return this.lastFrom;
  }

  /**
   * Sends without a callback: Node answers the callback of every send that
   * completes at once (nearly all UDP sends) with a `process.nextTick`, a tick
   * per datagram. A send that fails is a lost datagram, which loss recovery
   * handles like any other.
   */
  private sendDatagram(to: PeerAddress, data: Uint8Array): void {
    if (to === this.connectedPeer) {
      this.socket.send(data);
      return;
    }
    let addr = this.addressCache.get(to);
    if (!addr) {
      addr = parseAddress(to);
      if (!addr) return;
      if (this.addressCache.size > 10_000) this.addressCache.clear();
      this.addressCache.set(to, addr);
    }
    this.socket.send(data, addr.port, addr.host);
  }

  /**
   * Wakes the endpoint at its next deadline. Node timers have a 1 ms floor and
   * fire another millisecond late on average, so a deadline closer than that
   * (a pacing gap on a fast path) is met on the next event-loop turn with
   * `setImmediate` instead: I/O is still polled in between, and the wait never
   * stretches a sub-millisecond gap into two milliseconds of silence.
   * A timer set for an earlier deadline is left alone when the deadline moves
   * later (most polls move the ACK or loss deadline a little): waking early
   * costs one empty `handleTimeout`, re-creating a timer on every datagram
   * costs far more.
   */
  private arm(): void {
    const at = this.endpoint.pollTimeout();
    if (at === undefined || !Number.isFinite(at)) {
      this.idleSpinSince = undefined;
      this.cancelTimer();
      return;
    }
    const now = this.now();
    const delay = at - now;
    if (delay < TIMER_GRANULARITY_MS) {
      if (!this.spunTooLong(now)) {
        // Not unref'd: an unref'd immediate does not stop the loop from blocking in its I/O poll.
        this.immediate ??= setImmediate(this.onImmediate);
        return;
      }
    } else {
      this.idleSpinSince = undefined;
    }
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(delay)));
    this.timer.unref();
  }

  /**
   * A deadline a core keeps answering with "now" without sending anything
   * would turn the `setImmediate` path into a busy loop. No honest
   * sub-millisecond wait lasts longer than a millisecond, so after that
   * without a datagram in or out the 1 ms timer takes over.
   */
  private spunTooLong(now: number): boolean {
    if (this.idleSpinSince === undefined) {
      this.idleSpinSince = now;
      return false;
    }
    return now - this.idleSpinSince > TIMER_GRANULARITY_MS;
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.wake();
  };

  private readonly onImmediate = (): void => {
    this.immediate = undefined;
    this.wake();
  };

  private wake(): void {
    if (this.closed) return;
    this.endpoint.handleTimeout(this.now());
    this.pump();
  }
}
