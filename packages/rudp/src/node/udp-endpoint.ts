/**
 * The Node adapter: with the sockets (`DatagramSocket`), the only code that
 * touches UDP and a real clock. It feeds an `Endpoint` from one socket,
 * sends what it polls, keeps one timer for its next deadline, and turns
 * endpoint events into calls to each connection's wrapper (a `ConnectionSink`).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ConnectionConfig } from '../core/config.js';
import type { Connection } from '../core/connection.js';
import { defaultCryptoProvider } from './crypto-provider.js';
import type { CryptoProvider, KeyPair } from '../crypto/crypto-provider.js';
import { Endpoint, type EndpointStats } from '../core/endpoint.js';
import type { CloseReason, EndpointEvent } from '../core/events.js';
import type { PeerAddress, RandomSource } from '../core/sans-io.js';
import type { DatagramSocket } from './datagram-socket.js';
import { keepError, type ListenerErrors, rethrowErrors } from './listener-errors.js';
import { RECV_BUFFER_BYTES } from './udp-socket.js';

/** `setTimeout` cannot wait less than this, ms. */
const TIMER_GRANULARITY_MS = 1;
/**
 * Deadlines closer than this, ms, are met on the next event-loop turn with
 * `setImmediate` (something is due about now); later ones by a timer, even
 * below `TIMER_GRANULARITY_MS`.
 */
const IMMEDIATE_WITHIN_MS = 0.1;
/**
 * A wake-up (timer, immediate, end of a burst) this late past when it was
 * due, ms, finds that the process was paused (its event loop blocked, a
 * SIGSTOP, a starved CPU): datagrams that came meanwhile may wait in the
 * socket, so its timeouts are acted on after the next poll phase reads
 * them. Timers fire up to a millisecond late on an idle machine.
 */
const STALL_MS = 5;
/**
 * Most datagrams read after a pause before its timeouts are acted on even if
 * the socket may hold more: as many as its receive buffer can (8 MiB, as
 * `RECV_BUFFER_BYTES` doubled by the kernel, at 768 bytes of kernel accounting
 * for the smallest datagram). Read in order, they include every datagram that
 * waited when the pause ended, however slowly a loaded machine reads them; a
 * flood that never lets a read come up short puts the timeouts off that long,
 * not for ever.
 */
const DRAIN_DATAGRAMS_MAX = (2 * RECV_BUFFER_BYTES) / 768;

/** Options common to `listen` and `connect`: any connection setting may be overridden. */
/**
 * Every field optional, and `undefined` as good as left out (what `Partial`
 * says, kept under a consumer's `exactOptionalPropertyTypes`): an option read
 * from a configuration that may lack it is passed as it is.
 */
export type OptionalFields<T> = { [K in keyof T]?: T[K] | undefined };

export interface TransportOptions extends OptionalFields<ConnectionConfig> {
  /** No encryption: both ends must say so. Only for peers that cannot encrypt, and benchmarks. Default false. */
  readonly plaintext?: boolean | undefined;
  /**
   * The cryptographic primitives. Default {@link defaultCryptoProvider}:
   * ChaCha20-Poly1305 on the fastest library that loads (OpenSSL through
   * rudp's addon, libsodium, `node:crypto`; the same cipher: peers
   * interoperate whichever each end uses).
   */
  readonly crypto?: CryptoProvider | undefined;
  /** @internal The server's key pair (see `ListenOptions.identity`). */
  readonly identity?: KeyPair | undefined;
  /** @internal The server's connection-id generator (see `ListenOptions.connectionIds`). */
  readonly connectionIds?: ((random: () => number) => number) | undefined;
  /**
   * Moves datagrams in batches (`recvmmsg`/`sendmmsg`, one JavaScript call
   * per batch) through rudp's native UDP addon where it is built (Linux with
   * a C compiler at install) and the address is an IP literal without a
   * zone (`fe80::1%eth0` uses `node:dgram`). Default
   * true; false uses `node:dgram`, which costs about 3 µs more CPU per
   * datagram received. Either way the wire is the same.
   */
  readonly socketBatching?: boolean | undefined;
  /**
   * With `socketBatching`, a run of datagrams to one peer leaves as one UDP
   * GSO send and arrives as one GRO buffer where the kernel has them (Linux
   * 4.18 and 5.0 on): the stack is walked once per run instead of once per
   * datagram (about 0.83 × the CPU per byte on loopback). The datagrams on
   * the wire are the same. A path that refuses a GSO send gets its datagrams
   * one by one. Default true; false sends and receives each datagram on its own.
   */
  readonly segmentOffload?: boolean | undefined;
}

/** Endpoint-wide counters of the Node adapter: the core's, and what its socket did with them. */
export interface NodeEndpointStats extends EndpointStats {
  /** Datagrams the socket dropped on their way out (see `DatagramSocket.datagramsNotSent`); `datagramsSent` counts them. */
  readonly datagramsNotSent: number;
  /** Socket errors (an ICMP error on a connected socket arrives as one). */
  readonly socketErrors: number;
}

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

/** What the adapter tells the wrapper of one connection (not part of the public API). */
export interface ConnectionSink {
  /** A whole message, in order within its channel (always a Buffer), and its channel. */
  onMessage(data: Buffer, channel: number): void;
  /** The peer acknowledged all of messages `id` … `id + count − 1`. */
  onAcked(id: number, count: number): void;
  /** The connection ended; reliable messages from id `unsentFrom` on never left (the core's `closed` event). */
  onClosed(reason: CloseReason, unsentFrom: number): void;
  /** Server side: the client moved to another address (NAT rebinding, an IP address change); `previous` is the address it left. */
  onMigrated(previous: PeerAddress): void;
}

/** Drives one Endpoint from one socket (not part of the public API). */
export class UdpEndpoint {
  readonly endpoint: Endpoint;
  /** Live connections that keep the socket (and so the process) alive. */
  private readonly refd = new Set<Connection>();
  /** Whether the owner (a server) keeps the socket alive by itself. */
  private ownerRefd: boolean;
  private socketRefd = true;
  private timer: NodeJS.Timeout | undefined;
  /** The deadline `timer` was set for (it may be earlier than the endpoint's current one). */
  private timerAt = Number.POSITIVE_INFINITY;
  private immediate: NodeJS.Immediate | undefined;
  /** When `immediate` was set. */
  private immediateAt = 0;
  /** When the last datagram was handed over (a burst's end is due right after it). */
  private lastDatagramAt = 0;
  /** After a pause, the turn-by-turn read-out of the socket that the timeouts wait for (`wakeDue`). */
  private drain: NodeJS.Immediate | undefined;
  /** Datagrams the current drain has read in its past turns. */
  private drained = 0;
  /** Datagrams handed over since the drain's last turn. */
  private drainedThisTurn = 0;
  /** A listener held the event loop for more than `STALL_MS` (the socket has not been read since). */
  private listenerPaused = false;
  /** When the current run of `setImmediate` wake-ups without any datagram in or out began. */
  private idleSpinSince: number | undefined;
  private pumpQueued = false;
  private closed = false;
  /** Resolves once the socket is closed, after `shutdown()` was called. */
  private stopping: Promise<void> | undefined;
  /** Called for each event the adapter does not handle itself. */
  onEvent: ((e: EndpointEvent) => void) | undefined;
  /** Socket errors, counted rather than thrown. */
  socketErrors = 0;
  /** Told of each socket error (an ICMP error on a connected socket arrives as one). */
  onSocketError: ((e: Error) => void) | undefined;

  constructor(
    readonly socket: DatagramSocket,
    acceptIncoming: boolean,
    options: TransportOptions,
  ) {
    // A server's socket keeps the process alive while it listens; a client's only while its connection is ref'd.
    this.ownerRefd = acceptIncoming;
    // Encrypted unless the caller asked for plaintext explicitly.
    const { socketBatching: _, segmentOffload: __, ...endpointOptions } = options;
    // Messages the core copies out of their datagrams are copied into Buffers: asBuffer then has nothing to do.
    this.endpoint = new Endpoint({ ...(options.plaintext === true ? {} : { crypto: defaultCryptoProvider }), ...endpointOptions, random: cryptoRandom(), acceptIncoming, copyMessage: copyToBuffer });
    socket.onDatagram = (data, from) => {
      if (this.closed) return;
      const now = this.now();
      this.lastDatagramAt = now;
      this.drainedThisTurn++;
      this.endpoint.handleDatagram(now, data, from);
      this.idleSpinSince = undefined;
    };
    // One pump per burst the socket hands over, after all of its datagrams: the ACKs for the burst
    // go out as one, and the sender answers a burst of ACKs with one round of sends.
    // A burst read after a pause may come before the wake-up that was due in it (libuv runs a timer against the
    // time it read before the pause, so the poll phase comes first): the burst's wake-up is as late as that one.
    socket.onBurstEnd = () => this.wakeDue(Math.min(this.lastDatagramAt, this.pendingWakeAt()), true);
    socket.onError = (e) => {
      this.socketErrors++;
      this.onSocketError?.(e);
    };
    this.updateRef();
  }

  /** Routes `conn`'s events to `sink` (ref'd: it keeps the process alive). */
  attach(conn: Connection, sink: ConnectionSink): void {
    conn.driverSink = sink;
    this.refd.add(conn);
    this.updateRef();
  }

  /** Whether the owner keeps the socket alive (`server.ref()`/`unref()`). */
  setOwnerRef(on: boolean): void {
    this.ownerRefd = on;
    this.updateRef();
  }

  /** Whether `conn` keeps the socket alive (`conn.ref()`/`unref()`). */
  setConnectionRef(conn: Connection, on: boolean): void {
    if (on && conn.driverSink !== undefined) this.refd.add(conn);
    else this.refd.delete(conn);
    this.updateRef();
  }

  private updateRef(): void {
    if (this.closed) return;
    const want = this.ownerRefd || this.refd.size > 0;
    if (want === this.socketRefd) return;
    this.socketRefd = want;
    this.socket.setRef(want);
  }

  /** Monotonic milliseconds. */
  now(): number {
    return performance.now();
  }

  /** The application changed `conn` (which marked itself for polling): pump soon, batched to the end of this tick. */
  changed(_conn: Connection | undefined): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /**
   * Delivers events, sends datagrams and re-arms the timer. A listener that
   * throws (an application bug the process survives with an
   * `uncaughtException` handler) does not hold back the events after it,
   * the datagrams or the timer: every connection of the endpoint would stall
   * until a datagram arrived. What listeners threw is rethrown once the pump is done (`listener-errors.ts`).
   */
  pump(): void {
    if (this.closed) return;
    const now = this.now();
    const errors = this.dispatchAll();
    // A listener that held the loop paused the process as a blocked loop does: the next wake-up reads first.
    if (this.now() - now > STALL_MS) this.listenerPaused = true;
    // A listener may have shut the endpoint down (`server.close()`): nothing is left to send or time.
    if (!this.closed) {
      for (let t = this.endpoint.pollTransmit(now); t; t = this.endpoint.pollTransmit(now)) {
        this.socket.send(t.to, t.data);
        this.idleSpinSince = undefined;
      }
      this.socket.flush();
      // Dispatching may have made more to do (a handler that sends); the microtask pump catches it. So
      // does a connection that ended as it was polled (its message's bytes detached, a plug-in of the
      // application's threw): its 'close' must not wait for a datagram or a timer that may never come.
      if (this.endpoint.hasPendingEvent) this.changed(undefined);
      this.arm();
    }
    rethrowErrors(errors);
  }

  /**
   * Ends everything: tells peers, closes the socket. A listener that throws
   * meanwhile does not keep the socket open (the port bound, the process
   * alive): the first call's promise rejects with its error (an
   * `AggregateError` if several threw) once the socket is closed. Later
   * calls, and calls from a listener while the first one dispatches (a
   * `'close'` listener calling `server.close()`), resolve once the socket is
   * closed.
   */
  shutdown(): Promise<void> {
    if (this.stopping !== undefined) return this.stopping;
    let settle: (closed: Promise<void>) => void = () => {};
    // Set before anything is dispatched, so a listener calling shutdown() again gets this promise.
    this.stopping = new Promise<void>((resolve) => (settle = resolve));
    const done = this.stop();
    settle(done.catch(() => undefined));
    return done;
  }

  private async stop(): Promise<void> {
    let errors: ListenerErrors;
    try {
      this.endpoint.destroyAll(this.now());
      for (let t = this.endpoint.pollTransmit(this.now()); t; t = this.endpoint.pollTransmit(this.now())) this.socket.send(t.to, t.data);
      this.socket.flush();
      this.endpoint.abortAll();
      errors = this.dispatchAll();
    } finally {
      this.closed = true;
      this.cancelTimer();
      if (this.immediate) clearImmediate(this.immediate);
      this.immediate = undefined;
      if (this.drain) clearImmediate(this.drain);
      this.drain = undefined;
    }
    await this.socket.close();
    rethrowErrors(errors);
  }

  /** Dispatches every pending event, even past a listener that throws; returns what listeners threw. */
  private dispatchAll(): ListenerErrors {
    let errors: ListenerErrors;
    for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) {
      try {
        this.dispatch(e);
      } catch (error) {
        errors = keepError(errors, error);
      }
    }
    return errors;
  }

  /** Endpoint-wide counters. */
  stats(): NodeEndpointStats {
    return { ...this.endpoint.stats(), datagramsNotSent: this.socket.datagramsNotSent, socketErrors: this.socketErrors };
  }

  private dispatch(e: EndpointEvent): void {
    // Only `attach` sets it, to a sink.
    const sink = e.connection.driverSink as ConnectionSink | undefined;
    switch (e.type) {
      case 'message':
        sink?.onMessage(asBuffer(e.data), e.channel);
        return;
      case 'acked':
        sink?.onAcked(e.messageId, e.count);
        return;
      case 'migrated':
        sink?.onMigrated(e.previous);
        return;
      case 'closed':
        e.connection.driverSink = undefined;
        this.refd.delete(e.connection);
        sink?.onClosed(e.reason, e.unsentFrom);
        this.onEvent?.(e);
        this.updateRef();
        return;
      default:
        this.onEvent?.(e);
    }
  }

  /**
   * Wakes the endpoint at its next deadline. A deadline that is due about now
   * is met on the next event-loop turn with `setImmediate` (I/O is still
   * polled in between); any other by a timer, which has a 1 ms floor and may
   * fire up to a millisecond late. Waking on every turn until a
   * sub-millisecond deadline arrives would spin the event loop: a paced
   * sender at 50 Mbit/s would make millions of empty wake-ups a second. The
   * core does not need it: its pacer waits at least a tick and then sends
   * what the rate earned meanwhile, and no other timer is that tight.
   * A timer set for an earlier deadline is left alone when the deadline moves
   * later (most polls move the ACK or loss deadline a little): waking early
   * costs one empty `handleTimeout`, re-creating a timer on every datagram
   * costs far more.
   */
  private arm(): void {
    // A drain ends with a wake-up of its own; a timer for a deadline that passed would only wake it early.
    if (this.drain !== undefined) return;
    const at = this.endpoint.pollTimeout();
    if (at === undefined || !Number.isFinite(at)) {
      this.idleSpinSince = undefined;
      this.cancelTimer();
      return;
    }
    const now = this.now();
    const delay = at - now;
    if (delay < IMMEDIATE_WITHIN_MS) {
      if (!this.spunTooLong(now)) {
        // Not unref'd: an unref'd immediate does not stop the loop from blocking in its I/O poll.
        if (this.immediate === undefined) {
          this.immediateAt = now;
          this.immediate = setImmediate(this.onImmediate);
        }
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
    const due = this.timerAt;
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.wakeDue(due);
  };

  private readonly onImmediate = (): void => {
    this.immediate = undefined;
    this.wakeDue(this.immediateAt);
  };

  /** When the wake-up already set was due (a timer's deadline, or when an immediate was asked); infinity if none is. */
  private pendingWakeAt(): number {
    const timerAt = this.timer === undefined ? Number.POSITIVE_INFINITY : this.timerAt;
    return this.immediate === undefined ? timerAt : Math.min(timerAt, this.immediateAt);
  }

  /**
   * A wake-up that was due at `due`. Later than `STALL_MS`, the process was
   * paused, and peers' datagrams may wait in the socket: the timeouts that
   * came due meanwhile are handled once they were read (a drain, `onDrainTurn`).
   * Acted on first, a peer that kept sending through a pause past the idle
   * timeout was given up with its packets unread, and a probe or loss
   * declared whose ACK was there. A listener that held the loop in the last
   * pump (`listenerPaused`) is such a pause too, though the wake-up it is
   * followed by was set after it. During a drain a wake-up only pumps: what
   * was read is answered and delivered, the timeouts wait. `inBurst`: called
   * at the end of a burst, whose turn's read may be only partly counted.
   */
  private wakeDue(due: number, inBurst = false): void {
    if (this.closed) return;
    if (this.drain !== undefined) {
      this.pump();
      return;
    }
    if (this.listenerPaused || this.now() - due > STALL_MS) {
      this.listenerPaused = false;
      this.drained = 0;
      // A burst's end may come after part of its turn's read was handed over: its turn counts as full.
      this.drainedThisTurn = inBurst ? this.socket.datagramsPerTurn : 0;
      this.drain = setImmediate(this.onDrainTurn);
      return;
    }
    this.wake();
  }

  /**
   * One turn of a drain, after a poll phase (an immediate set in the timers,
   * poll or check phase runs after the next one). A turn that read a full
   * read may have left datagrams in the socket, and a listener that held the
   * loop meanwhile let more come: the drain goes on for another turn. So the
   * whole backlog is read first, as Linux's TCP, which runs a timer that fires
   * while a socket is busy only once the packets queued meanwhile were
   * processed (`tcp_release_cb`). Without it, a server paused past the idle
   * timeout read one turn's datagrams (32 on node:dgram) and gave up every
   * client whose datagrams came later in the queue.
   */
  private readonly onDrainTurn = (): void => {
    this.drain = undefined;
    const more = this.drainedThisTurn >= this.socket.datagramsPerTurn || this.listenerPaused;
    this.drained += this.drainedThisTurn;
    this.drainedThisTurn = 0;
    this.listenerPaused = false;
    if (more && this.drained < DRAIN_DATAGRAMS_MAX && !this.closed) {
      this.drain = setImmediate(this.onDrainTurn);
      return;
    }
    this.wake();
  };

  /**
   * Runs `action` once the datagrams already waiting in the socket were
   * handed over: after the next poll phase (two immediates: an error comes
   * in a poll phase, and an immediate set there runs before the next one).
   */
  afterWaitingDatagrams(action: () => void): void {
    setImmediate(() => setImmediate(action));
  }

  private wake(): void {
    if (this.closed) return;
    this.endpoint.handleTimeout(this.now());
    this.pump();
  }
}

/**
 * A `Buffer` over `length` bytes of `buffer` from `byteOffset`, without a
 * copy. Node's own Buffer class (what `Buffer[Symbol.species]` names) makes
 * one about five times faster than `Buffer.from(arrayBuffer, …)`, which
 * checks its arguments, and three times faster than a pooled copy of a
 * 64-byte message; a runtime without it gets `Buffer.from`.
 */
const bufferView: (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer = (() => {
  const species: unknown = (Buffer as unknown as { readonly [Symbol.species]?: unknown })[Symbol.species];
  if (typeof species === 'function' && species.prototype === Buffer.prototype) {
    const NodeBuffer = species as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer;
    if (Buffer.isBuffer(new NodeBuffer(new ArrayBuffer(1), 0, 1))) return (buffer, byteOffset, length) => new NodeBuffer(buffer, byteOffset, length);
  }
  return (buffer, byteOffset, length) => Buffer.from(buffer, byteOffset, length);
})();

/**
 * V8 keeps the bytes of a typed array this small inside the object itself
 * (a message rebuilt from a repair): asking for its `buffer` moves them out
 * to a new ArrayBuffer, several times dearer than copying them into Node's
 * Buffer pool. Such an array starts at offset 0; a message cut from its
 * datagram never does (the packet header comes first).
 */
const ON_HEAP_MAX = 64;

/** `data` as a Buffer over the same bytes (a pooled copy if it may be kept on the heap): every message reaches the application as one type. */
export function asBuffer(data: Uint8Array): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data.byteOffset === 0 && data.length <= ON_HEAP_MAX) return copyToBuffer(data);
  return bufferView(data.buffer, data.byteOffset, data.byteLength);
}

/** A copy of `bytes` in a Buffer (from Node's pool when small: no allocation of its own). */
export function copyToBuffer(bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafe(bytes.length);
  copy.set(bytes);
  return copy;
}
