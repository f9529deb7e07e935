/**
 * An endpoint: every connection behind one UDP socket. It checks each
 * datagram (checksum, version, type), runs the stateless-cookie handshake,
 * routes packets to connections by connection id, keeps one timer heap for
 * all of them (a slot per connection) and hands their datagrams out one at a time.
 *
 * Address rule: a connection is bound to the address that proved itself in
 * the handshake. A packet naming its connection id from any other address is
 * dropped and counted (no migration), so a spoofer who learns a connection id
 * can neither take over nor kill the session.
 */
import { CookieJar, SpentCookies } from './cookie.js';
import { type ConnectionConfig, DEFAULT_CONNECTION_CONFIG, checkNumber, validateConnectionOptions } from './config.js';
import { Connection } from './connection.js';
import { ConnectionTable } from './connection-table.js';
import { MIN_RECEIVE_WINDOW } from './flow-control.js';
import { HANDSHAKE_COPIES } from './handshake.js';
import { checkConnectionIds, checkCryptoProvider, checkIdentity, checkServerKey } from './key-options.js';
import type { CloseReason, EndpointEvent } from './events.js';
import { type ConnectionSecurity, encodeServerParams, handshakePrologue } from './security.js';
import { type CryptoProvider, type KeyPair, answerClientHello, startClientHandshake } from '../crypto/index.js';
import type { PeerAddress, RandomSource, SansIoEndpoint, Transmit } from './sans-io.js';
import { DeadlineHeap } from './deadline-heap.js';
import { WorkList } from './work-list.js';
import { DatagramScratch } from './datagram-scratch.js';
import { hostLevels } from './host-key.js';
import { HostTally } from './host-tally.js';
import { smallArray, withRoomFor } from './small-array.js';
import { AcceptKind, BusyReason, MAX_DATAGRAM, MAX_PROBED_DATAGRAM, PacketType, decodeAccept, decodeInitial, decodeRetry, encodeAccept, encodeRetry, HeaderScratch, parseHeaderInto } from '../wire/packet.js';

/** Endpoint settings; connection settings may be given here too. */
export interface EndpointConfig extends Partial<ConnectionConfig> {
  /** Randomness for connection ids and the cookie key. */
  readonly random: RandomSource;
  /** Accept incoming connections (a server). Default false. */
  readonly acceptIncoming?: boolean;
  /** Most live connections; a client beyond is refused (a `Busy` ACCEPT: its connect fails as refused). Default 100,000. */
  readonly maxConnections?: number;
  /**
   * Most live connections from one client host (an IPv4 address, or an IPv6
   * /64: see `hostKey`), so one machine cannot take the whole
   * `maxConnections`; a client beyond is refused the same way. Default 1,024.
   * A global IPv6 client also counts against its /56, which may hold 4 times
   * this, and its /48, 16 times (`hostLevels`, `IPV6_PREFIX_MULTIPLE`): one
   * customer's delegation is not 256 or 65,536 hosts. A client of a full /56
   * or /48 is refused as at a full host (`hostFull`).
   */
  readonly maxConnectionsPerHost?: number;
  /** Most stateless replies (RETRY, a refusing ACCEPT) waiting to be sent; beyond, they are dropped. Default 1,024. */
  readonly maxStatelessQueue?: number;
  /** How long a handshake cookie stays valid, ms. Default 30,000. */
  readonly cookieLifetimeMs?: number;
  /**
   * The primitives of the handshake and packet protection (the Node API
   * passes `node:crypto`'s; the simulator a seeded one). Required unless
   * `plaintext`.
   */
  readonly crypto?: CryptoProvider;
  /** Server: its static key pair, proven to every client. Default: a fresh one (see `publicKey`). */
  readonly identity?: KeyPair;
  /**
   * No encryption, no authentication: every packet in clear with a checksum.
   * Only for peers that cannot encrypt and for side-by-side benchmarks; both
   * ends must agree. Default false.
   */
  readonly plaintext?: boolean;
  /**
   * Server: chooses each local connection id from the random source (e.g.
   * `quicLbCidGenerator`, so a connection-id-aware load balancer can route
   * by the server id inside it). Default: a random 32-bit id.
   */
  readonly connectionIds?: (random: RandomSource) => number;
  /**
   * How a received message is copied when it is not handed over as a view
   * of its datagram (a small message among others, which must not pin the
   * datagram). Default `bytes.slice()`. A driver that hands messages on as
   * a type of its own copies straight into it: the Node adapter into a
   * Buffer from Node's pool, one copy instead of two.
   */
  readonly copyMessage?: (bytes: Uint8Array) => Uint8Array;
}

/** Per-connection options of `Endpoint.connect` beyond `ConnectionConfig`. */
export interface ConnectOverrides extends Partial<ConnectionConfig> {
  /** The server's public key (32 bytes) to pin: any other refuses the connection. Without it the client learns the key (`Connection.peerKey`) and decides. */
  readonly serverKey?: Uint8Array;
}

/** Option names an `EndpointConfig` adds to the connection's. */
const ENDPOINT_KEYS: readonly string[] = ['random', 'acceptIncoming', 'maxConnections', 'maxConnectionsPerHost', 'maxStatelessQueue', 'cookieLifetimeMs', 'crypto', 'identity', 'plaintext', 'connectionIds', 'copyMessage'];
/** Draws of a new connection id before the endpoint counts itself full (a generator's id space can run out). */
const CID_ATTEMPTS = 64;

/** Why datagrams were dropped, with counts. */
export interface DropCounts {
  short: number;
  checksum: number;
  version: number;
  type: number;
  malformed: number;
  unknownConnection: number;
  addressMismatch: number;
  /** INITIALs whose cookie is forged, expired, bound to another address, or already spent on a connection. */
  badToken: number;
  unexpected: number;
  /** Protected packets that did not authenticate (forged, altered) and handshakes that failed. */
  auth: number;
  /** Protected packets already received (replays, network duplicates) or too old to tell, and an INITIAL repeated after the handshake was confirmed. */
  replay: number;
  /** Packets in clear where encryption is required (or a plaintext hello to an encrypting server). */
  unprotected: number;
  /** INITIALs refused at `maxConnections` (or with no free connection id). */
  full: number;
  /** INITIALs refused at `maxConnectionsPerHost` (of the host, or of its /56 or /48). */
  hostFull: number;
  statelessQueueFull: number;
}

/** Endpoint-wide counters. */
export interface EndpointStats {
  readonly datagramsReceived: number;
  readonly bytesReceived: number;
  readonly datagramsSent: number;
  readonly bytesSent: number;
  readonly retriesSent: number;
  readonly connectionsAccepted: number;
  readonly connections: number;
  readonly dropped: Readonly<DropCounts>;
  /** Sum of `dropped`. */
  readonly droppedTotal: number;
}

/** Many connections over one socket, as a sans-IO state machine. */
export class Endpoint implements SansIoEndpoint {
  private readonly config: ConnectionConfig;
  private readonly random: RandomSource;
  private readonly acceptIncoming: boolean;
  private readonly maxConnections: number;
  /** Live server connections per client host and coarser IPv6 prefix (`hostLevels`; see `Connection.hostCounted`). */
  private readonly hosts: HostTally;
  /**
   * Server connections draining, oldest first: no longer counted against their host, so at
   * `maxConnections` the oldest is ended early to make room. Else one host churning connections
   * (each close giving its place back) could fill the server with its draining ones.
   */
  private readonly drainingServed = new Set<Connection>();
  private readonly maxStatelessQueue: number;
  private readonly cookies: CookieJar;
  private readonly crypto: CryptoProvider | undefined;
  private readonly identity: KeyPair | undefined;
  private readonly connectionIds: ((random: RandomSource) => number) | undefined;
  /** @internal See `EndpointConfig.copyMessage` (read by each connection's reassembly). */
  readonly copyMessage: ((bytes: Uint8Array) => Uint8Array) | undefined;
  private readonly connections = new ConnectionTable<Connection>();
  private readonly byClient = new Map<string, Connection>();
  /** Cookies that opened a connection: a replay after it closed opens no other. */
  private readonly spentCookies: SpentCookies;
  private readonly timers = new DeadlineHeap();
  /** Timer slot → its connection; slots of removed connections are reused. */
  private bySlot = smallArray<Connection>();
  /** Slots handed out so far (`bySlot` is longer: it grows by hand, see `small-array.ts`). */
  private slotCount = 0;
  private readonly freeSlots: number[] = [];
  /**
   * Connections to poll, in the order they changed; `Connection.pollQueued`
   * says which are in it. A list and a flag rather than a `Set`: nearly
   * every datagram takes it from empty to one entry and back, which a hash
   * set pays for in inserts, deletes and (as it shrinks) rehashing.
   */
  private readonly dirty = new WorkList<Connection>();
  private stateless: Transmit[] = [];
  private events: EndpointEvent[] = [];
  private eventHead = 0;
  /** Connections that may have a message for the application, flagged by `Connection.readableQueued` (a list, as `dirty`). */
  private readonly readableList = new WorkList<Connection>();
  /** Room for the largest datagram path MTU discovery may use. */
  private readonly scratch = new DatagramScratch(MAX_PROBED_DATAGRAM);
  /** The header of the datagram being handled, overwritten by the next: nothing keeps it. */
  private readonly header = new HeaderScratch();
  private now = 0;
  private readonly counters = {
    datagramsReceived: 0,
    bytesReceived: 0,
    datagramsSent: 0,
    bytesSent: 0,
    retriesSent: 0,
    connectionsAccepted: 0,
  };
  private readonly drops: DropCounts = {
    short: 0,
    checksum: 0,
    version: 0,
    type: 0,
    malformed: 0,
    unknownConnection: 0,
    addressMismatch: 0,
    badToken: 0,
    unexpected: 0,
    auth: 0,
    replay: 0,
    unprotected: 0,
    full: 0,
    hostFull: 0,
    statelessQueueFull: 0,
  };

  /** Throws a `TypeError` or `RangeError` that names the field if any option is unknown or out of range. */
  constructor(config: EndpointConfig) {
    validateConnectionOptions(config, ENDPOINT_KEYS);
    const { random, acceptIncoming, maxConnections, maxConnectionsPerHost, maxStatelessQueue, cookieLifetimeMs, crypto, identity, plaintext, connectionIds, copyMessage, ...conn } = config;
    checkConnectionIds(connectionIds);
    this.connectionIds = connectionIds;
    if (copyMessage !== undefined && typeof copyMessage !== 'function') throw new TypeError(`rudp: option 'copyMessage' must be a function (bytes) => Uint8Array`);
    this.copyMessage = copyMessage;
    if (typeof random !== 'function') throw new TypeError('rudp: option \'random\' must be a function returning uniform 32-bit integers');
    if (acceptIncoming !== undefined && typeof acceptIncoming !== 'boolean') throw new TypeError(`rudp: option 'acceptIncoming' must be a boolean`);
    if (maxConnections !== undefined) checkNumber('maxConnections', maxConnections, { min: 1, max: 2 ** 31, integer: true });
    if (maxConnectionsPerHost !== undefined) checkNumber('maxConnectionsPerHost', maxConnectionsPerHost, { min: 1, max: 2 ** 31, integer: true });
    if (maxStatelessQueue !== undefined) checkNumber('maxStatelessQueue', maxStatelessQueue, { min: 0, max: 2 ** 20, integer: true });
    if (cookieLifetimeMs !== undefined) checkNumber('cookieLifetimeMs', cookieLifetimeMs, { min: 1, max: 86_400_000 });
    // Every option was checked above and the defaults are valid: the merge is too.
    this.config = { ...DEFAULT_CONNECTION_CONFIG, ...stripUndefined(conn) };
    this.random = random;
    this.acceptIncoming = acceptIncoming ?? false;
    this.maxConnections = maxConnections ?? 100_000;
    this.hosts = new HostTally(maxConnectionsPerHost ?? 1024);
    this.maxStatelessQueue = maxStatelessQueue ?? 1024;
    this.cookies = new CookieJar(random, cookieLifetimeMs);
    this.spentCookies = new SpentCookies(this.cookies.lifetimeMs);
    if (plaintext !== undefined && typeof plaintext !== 'boolean') throw new TypeError(`rudp: option 'plaintext' must be a boolean`);
    checkIdentity(identity, plaintext === true);
    checkCryptoProvider(crypto);
    if (plaintext !== true) {
      if (crypto === undefined) throw new TypeError(`rudp: option 'crypto' (a CryptoProvider) is required unless 'plaintext: true' (the Node API supplies node:crypto's)`);
      this.crypto = crypto;
      if (this.acceptIncoming) this.identity = identity ?? crypto.generateKeyPair();
    }
  }

  /** Server: the public key clients pin (`undefined` in plaintext mode or for a client endpoint). */
  get publicKey(): Uint8Array | undefined {
    return this.identity?.publicKey;
  }

  // ---------------------------------------------------------------- application calls

  /**
   * Starts a connection to `to`; a `connected` (or `closed`) event follows.
   * Throws a `TypeError` or `RangeError` that names the field if an override
   * is unknown or out of range.
   */
  connect(now: number, to: PeerAddress, overrides: ConnectOverrides = {}): Connection {
    this.now = Math.max(this.now, now);
    validateConnectionOptions(overrides, ['serverKey']);
    const { serverKey, ...rest } = overrides;
    checkServerKey(serverKey, this.crypto === undefined);
    const config = { ...this.config, ...stripUndefined(rest) };
    const cid = this.newCid();
    if (cid === undefined) throw new RangeError('rudp: no free connection id (too many connections on this endpoint)');
    const security: ConnectionSecurity =
      this.crypto === undefined
        ? { mode: 'plaintext' }
        : { mode: 'client', handshake: startClientHandshake(this.crypto, { prologue: handshakePrologue(cid), ...(serverKey !== undefined ? { serverKey } : {}) }) };
    const conn = new Connection(this, config, 'client', cid, 0, to, now, config.receiveWindow, security);
    this.add(conn);
    this.touch(conn);
    return conn;
  }

  /** The next event, or `undefined`. Drain `pollTransmit` afterwards: reading can free window credit. */
  pollEvent(): EndpointEvent | undefined {
    while (this.eventHead < this.events.length) {
      const e = this.events[this.eventHead] as EndpointEvent;
      // Messages that arrived before a close are still delivered before it.
      if (e.type === 'closed' && e.connection.hasMessage()) return this.messageEvent(e.connection);
      this.events[this.eventHead++] = undefined as unknown as EndpointEvent;
      if (this.eventHead === this.events.length) {
        this.events = [];
        this.eventHead = 0;
      }
      if (e.type === 'closed') this.forget(e.connection);
      return e;
    }
    for (let conn = this.readableList.peek(); conn !== undefined; conn = this.readableList.peek()) {
      if (conn.readableQueued && conn.hasMessage()) return this.messageEvent(conn);
      conn.readableQueued = false;
      this.readableList.shift();
    }
    return undefined;
  }

  /** Ends every connection abruptly (each peer is told once), e.g. before closing the socket. */
  destroyAll(now: number, reason = 'endpoint shutting down'): void {
    for (const c of this.connections.values()) c.destroy(now, 1, reason);
  }

  /** Drops all state at once, with no goodbyes; `closed` events follow for every live connection. */
  abortAll(): void {
    const reason: CloseReason = { kind: 'shutdown', code: 0, message: 'endpoint closed' };
    for (const c of [...this.connections.values()]) c.abort(reason);
  }

  /** A live connection by its local id. */
  connection(localCid: number): Connection | undefined {
    return this.connections.get(localCid);
  }

  /** Number of live connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Counters. */
  stats(): EndpointStats {
    let droppedTotal = 0;
    for (const v of Object.values(this.drops)) droppedTotal += v;
    return { ...this.counters, connections: this.connections.size, dropped: { ...this.drops }, droppedTotal };
  }

  // ---------------------------------------------------------------- SansIoEndpoint

  handleDatagram(now: number, data: Uint8Array, from: PeerAddress): void {
    this.now = Math.max(this.now, now);
    this.counters.datagramsReceived++;
    this.counters.bytesReceived += data.length;
    const h = this.header;
    const drop = parseHeaderInto(data, h);
    if (drop !== undefined) {
      this.drops[drop]++;
      return;
    }
    switch (h.type) {
      case PacketType.Initial:
        this.handleInitial(now, data.length, data.subarray(h.payloadStart, h.payloadEnd), from);
        return;
      case PacketType.Retry:
      case PacketType.Accept: {
        const conn = this.connections.get(h.dcid);
        if (!conn || conn.role !== 'client') {
          this.drops.unexpected++;
          return;
        }
        if (conn.remote !== from) {
          this.drops.addressMismatch++;
          return;
        }
        // A copy arriving after the handshake completed (handshake.ts sends each twice): expected, not a drop.
        if (conn.state !== 'handshake') return;
        const payload = data.subarray(h.payloadStart, h.payloadEnd);
        if (h.type === PacketType.Retry) {
          const token = decodeRetry(payload);
          if (!token) return void this.drops.malformed++;
          conn.handleRetry(now, token);
        } else {
          const a = decodeAccept(payload);
          // Only a refusal names no connection of the server's.
          if (!a || (a.scid === 0) !== (a.kind === AcceptKind.Busy)) return void this.drops.malformed++;
          const result = conn.handleAccept(now, a);
          if (result !== 'ok') this.drops[result]++;
        }
        this.touch(conn);
        return;
      }
      case PacketType.Data:
      case PacketType.Protected0:
      case PacketType.Protected1: {
        const conn = this.connections.get(h.dcid);
        if (!conn) return void this.drops.unknownConnection++;
        if (conn.remote !== from) return void this.drops.addressMismatch++;
        const result = conn.handlePacket(now, h, data.length);
        if (result !== 'ok') this.drops[result]++;
        this.touch(conn);
        return;
      }
    }
  }

  pollTransmit(now: number): Transmit | undefined {
    this.now = Math.max(this.now, now);
    if (this.stateless.length > 0) {
      const t = this.stateless.shift() as Transmit;
      this.countSent(t.data);
      return t;
    }
    for (let conn = this.dirty.peek(); conn !== undefined; conn = this.dirty.peek()) {
      // Not flagged: removed since it was queued (and possibly queued again further on).
      if (conn.pollQueued) {
        const data = conn.state === 'closed' ? undefined : conn.pollTransmit(now, this.scratch);
        if (data) {
          this.countSent(data);
          return { to: conn.remote, data };
        }
        conn.pollQueued = false;
        this.schedule(conn, now);
      }
      this.dirty.shift();
    }
    return undefined;
  }

  pollTimeout(): number | undefined {
    return this.timers.peek();
  }

  handleTimeout(now: number): void {
    this.now = Math.max(this.now, now);
    for (let slot = this.timers.popDue(now); slot !== undefined; slot = this.timers.popDue(now)) {
      const conn = this.bySlot[slot];
      if (!conn) continue;
      conn.handleTimeout(now);
      this.touch(conn);
    }
  }

  // ---------------------------------------------------------------- ConnectionHost

  /** @internal */
  emit(event: EndpointEvent): void {
    if (event.type === 'closed') {
      this.uncountHost(event.connection);
      if (event.connection.role === 'server' && event.connection.state === 'draining') this.drainingServed.add(event.connection);
    }
    this.events.push(event);
  }

  /** @internal */
  readable(connection: Connection): void {
    if (connection.readableQueued) return;
    connection.readableQueued = true;
    this.readableList.push(connection);
  }

  /** @internal */
  wake(connection: Connection): void {
    this.touch(connection);
  }

  /** @internal */
  drawRandom(): number {
    return this.random();
  }

  // ---------------------------------------------------------------- internals

  private handleInitial(now: number, size: number, payload: Uint8Array, from: PeerAddress): void {
    if (!this.acceptIncoming) return void this.drops.unexpected++;
    // A short INITIAL could make our reply an amplifier; the client pads to the full size.
    if (size < MAX_DATAGRAM) return void this.drops.short++;
    const init = decodeInitial(payload);
    // A window no message fits is no window: a broken or hostile client's.
    if (!init || init.scid === 0 || init.params.receiveWindow < MIN_RECEIVE_WINDOW) return void this.drops.malformed++;
    if (init.token.length === 0) {
      if (this.stateless.length >= this.maxStatelessQueue) return void this.drops.statelessQueueFull++;
      const token = this.cookies.mint(now, from, init.scid);
      const retry = encodeRetry(new Uint8Array(64), init.scid, token);
      // Copies as for every handshake packet (handshake.ts); together still a small fraction of the
      // padded INITIAL, so no amplifier.
      for (let i = 0; i <= HANDSHAKE_COPIES && this.stateless.length < this.maxStatelessQueue; i++) this.stateless.push({ to: from, data: retry.slice() });
      this.counters.retriesSent++;
      return;
    }
    if (!this.cookies.verify(now, from, init.scid, init.token)) return void this.drops.badToken++;
    const key = `${from}/${init.scid}`;
    const existing = this.byClient.get(key);
    if (existing) {
      if (!existing.handleInitialAgain(now)) return void this.drops.replay++;
      this.touch(existing);
      return;
    }
    if (this.spentCookies.has(now, key)) return void this.drops.badToken++;
    const levels = hostLevels(from);
    const serverFull = this.connections.size >= this.maxConnections;
    if (serverFull && this.drainingServed.size === 0) return this.refuseBusy(from, init.scid, BusyReason.ServerFull);
    // A full /56 or /48 is refused as a full host is: to its client it is one.
    if (this.hosts.full(levels) !== undefined) return this.refuseBusy(from, init.scid, BusyReason.HostFull);
    if (serverFull) this.endOldestDrain();
    const cid = this.newCid();
    if (cid === undefined) return this.refuseBusy(from, init.scid, BusyReason.ServerFull);
    const security = this.answerHello(from, init.scid, cid, init.hello);
    if (security === undefined) return;
    const conn = new Connection(this, this.config, 'server', cid, init.scid, from, now, init.params.receiveWindow, security);
    this.add(conn);
    this.hosts.add(levels);
    conn.hostCounted = true;
    this.byClient.set(key, conn);
    this.spentCookies.spend(now, key);
    this.counters.connectionsAccepted++;
    this.emit({ type: 'incoming', connection: conn });
    this.touch(conn);
  }

  /**
   * Server: refuses a client that proved its address, statelessly, so its
   * connect fails at once as refused instead of timing out. Counted.
   */
  private refuseBusy(to: PeerAddress, clientCid: number, reason: BusyReason): void {
    if (reason === BusyReason.HostFull) this.drops.hostFull++;
    else this.drops.full++;
    if (this.stateless.length >= this.maxStatelessQueue) return void this.drops.statelessQueueFull++;
    const accept = { scid: 0, params: { receiveWindow: 0 }, kind: AcceptKind.Busy, handshake: Uint8Array.of(reason) };
    this.stateless.push({ to, data: encodeAccept(new Uint8Array(64), clientCid, accept).slice() });
  }

  /**
   * Server: runs the handshake for a client that proved its address; the
   * connection's security, or `undefined` if the hello was refused (counted;
   * a hello pinned to another key gets our key back, statelessly).
   */
  private answerHello(from: PeerAddress, clientCid: number, localCid: number, hello: Uint8Array): ConnectionSecurity | undefined {
    if (this.crypto === undefined || this.identity === undefined) {
      if (hello.length > 0) return void this.drops.unexpected++;
      return { mode: 'plaintext' };
    }
    if (hello.length === 0) return void this.drops.unprotected++;
    const answer = answerClientHello(this.crypto, hello, {
      identity: this.identity,
      prologue: handshakePrologue(clientCid),
      payload: encodeServerParams({ scid: localCid, receiveWindow: this.config.receiveWindow }),
    });
    switch (answer.kind) {
      case 'accepted':
        return { mode: 'server', keys: answer.keys, serverHello: answer.serverHello };
      case 'wrong-key':
        if (this.stateless.length >= this.maxStatelessQueue) return void this.drops.statelessQueueFull++;
        this.stateless.push({
          to: from,
          data: encodeAccept(new Uint8Array(MAX_DATAGRAM), clientCid, { scid: localCid, params: { receiveWindow: 0 }, kind: AcceptKind.WrongKey, handshake: answer.wrongKey }).slice(),
        });
        return undefined;
      case 'rejected':
        return void this.drops.auth++;
    }
  }

  private messageEvent(conn: Connection): EndpointEvent {
    // Reading wakes the connection itself: it may announce more window to the sender.
    const channel = conn.nextMessageChannel;
    const data = conn.readMessage() as Uint8Array;
    return { type: 'message', connection: conn, data, channel };
  }

  /** `conn` changed: poll it on the next `pollTransmit`. */
  private touch(conn: Connection): void {
    if (conn.pollQueued) return;
    conn.pollQueued = true;
    this.dirty.push(conn);
  }

  private schedule(conn: Connection, now: number): void {
    if (conn.state === 'closed') {
      this.remove(conn);
      return;
    }
    const t = conn.nextTimeout();
    // A deadline in the past after a full poll would spin the driver; a millisecond later is always safe.
    this.timers.set(conn.timerSlot, Number.isFinite(t) ? Math.max(t, now + 1e-3) : t);
  }

  private forget(conn: Connection): void {
    if (conn.role === 'server' && this.byClient.get(`${conn.remote}/${conn.remoteCid}`) === conn) {
      this.byClient.delete(`${conn.remote}/${conn.remoteCid}`);
    }
    if (conn.state === 'closed') this.remove(conn);
  }

  /** Registers a new connection: by its id, and in a timer slot. */
  private add(conn: Connection): void {
    this.connections.set(conn.localCid, conn);
    const slot = this.freeSlots.pop() ?? this.slotCount++;
    conn.timerSlot = slot;
    this.bySlot = withRoomFor(this.bySlot, slot);
    this.bySlot[slot] = conn;
  }

  private remove(conn: Connection): void {
    // Called again for a connection already gone: its slot may belong to another one by now.
    if (this.connections.get(conn.localCid) === conn) {
      this.connections.delete(conn.localCid);
      this.uncountHost(conn);
      this.drainingServed.delete(conn);
      this.timers.delete(conn.timerSlot);
      this.bySlot[conn.timerSlot] = undefined;
      this.freeSlots.push(conn.timerSlot);
      // The slot may go to another connection: a stale one must not move that one's deadline.
      conn.timerSlot = -1;
    }
    conn.pollQueued = false;
    if (conn.role === 'server' && this.byClient.get(`${conn.remote}/${conn.remoteCid}`) === conn) {
      this.byClient.delete(`${conn.remote}/${conn.remoteCid}`);
    }
  }

  /** Ends the oldest drain early: its peer was told (its CLOSE sent), and a newcomer needs the place. */
  private endOldestDrain(): void {
    const oldest = this.drainingServed.values().next().value;
    if (oldest === undefined) return;
    oldest.abort({ kind: 'shutdown', code: 0, message: 'drain ended early for a new connection' });
    this.remove(oldest);
  }

  /** Stops counting `conn` against its host, once. */
  private uncountHost(conn: Connection): void {
    // The same levels as at admission: a connection's remote address never changes.
    if (!conn.hostCounted) return;
    conn.hostCounted = false;
    this.hosts.remove(hostLevels(conn.remote));
  }

  private countSent(data: Uint8Array): void {
    this.counters.datagramsSent++;
    this.counters.bytesSent += data.length;
  }

  /** A free local connection id, or `undefined` if `CID_ATTEMPTS` draws found none (the id space is full). */
  private newCid(): number | undefined {
    for (let i = 0; i < CID_ATTEMPTS; i++) {
      const cid = (this.connectionIds?.(this.random) ?? this.random()) >>> 0;
      if (cid !== 0 && !this.connections.has(cid)) return cid;
    }
    return undefined;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
