/**
 * An endpoint: every connection behind one UDP socket. It checks each
 * datagram (checksum, version, type), runs the stateless-cookie handshake,
 * routes packets to connections by connection id, keeps one timer heap for
 * all of them (a slot per connection) and hands their datagrams out one at a time.
 *
 * Address rule: a connection is bound to the address that proved itself in
 * the handshake. A packet naming its connection id from any other address is
 * dropped unopened and counted (`addressMismatch`), so a spoofer who learns a
 * connection id can neither take over nor kill the session. One exception,
 * for migration (NAT rebinding, an IP address change): an encrypted server
 * connection opens a packet its connection id names from any address, and
 * moves there once that address proved it receives (connection/migration.ts,
 * path-validation.ts); the maps keyed by address and the per-host tally
 * follow (`migrated`). A client never moves, nor does a plaintext connection.
 *
 * In endpoint/: admission.ts (what a server does with an INITIAL: RETRY,
 * limits, a new connection), stateless-reset.ts (a packet for a connection
 * a server does not know, and a client ended by the answer),
 * version-negotiation.ts (peers of other versions), endpoint-config.ts (the
 * options), endpoint-stats.ts (the counters).
 */
import { CookieJar, SpentCookies } from './cookie.js';
import { type ConnectionConfig, DEFAULT_CONNECTION_CONFIG, checkNumber, validateConnectionOptions } from './config.js';
import { Connection } from './connection.js';
import { ConnectionTable } from './connection-table.js';
import { checkConnectionIds, checkCryptoProvider, checkIdentity, checkServerKey } from './key-options.js';
import type { CloseReason, EndpointEvent } from './events.js';
import { type ConnectionSecurity, clientSecurity } from './security.js';
import { type CryptoProvider, type KeyPair, PluginFault, guardProvider, resetSecret } from '../crypto/index.js';
import type { PeerAddress, RandomSource, SansIoEndpoint, Transmit } from './sans-io.js';
import { DeadlineHeap } from './deadline-heap.js';
import { WorkList } from './work-list.js';
import { DatagramScratch } from './datagram-scratch.js';
import { DEFAULT_MAX_RECEIVE_BUFFER_BYTES, ReceivePool } from './receive/receive-pool.js';
import { HostTally } from './host-tally.js';
import { HandshakeRate } from './handshake-rate.js';
import { smallArray, withRoomFor } from './small-array.js';
import { handleInitial, uncountHost } from './endpoint/admission.js';
import { answerOtherVersion, handleVersionPacket } from './endpoint/version-negotiation.js';
import { ResetRate, answerUnknownConnection, takeStatelessReset } from './endpoint/stateless-reset.js';
import { ResetBudget } from './endpoint/reset-budget.js';
import { ResetTokens } from './reset-tokens.js';
import { mayComeFrom } from './connection/migration.js';
import { sameHost } from './path-validation.js';
import { hostLevels } from './host-key.js';
import { type ConnectOverrides, DEFAULT_HANDSHAKES_PER_HOST_PER_SECOND, ENDPOINT_KEYS, MIN_DEFAULT_HANDSHAKE_BURST, type EndpointConfig, checkHandshakeRate, checkMaxReceiveBufferBytes, stripUndefined } from './endpoint/endpoint-config.js';
import { type DropCounts, type EndpointStats, newDropCounts } from './endpoint/endpoint-stats.js';
import { AcceptKind, MAX_PROBED_DATAGRAM, PacketType, decodeAccept, decodeRetry, HeaderScratch, parseHeaderInto } from '../wire/packet.js';
import { VERSION_PACKET_BYTE } from '../wire/version-packet.js';

export type { ConnectOverrides, EndpointConfig } from './endpoint/endpoint-config.js';
export type { DropCounts, EndpointStats, ReceiveBufferStats } from './endpoint/endpoint-stats.js';

/** Draws of a new connection id before the endpoint counts itself full (a generator's id space can run out). */
const CID_ATTEMPTS = 64;

/** Many connections over one socket, as a sans-IO state machine. */
export class Endpoint implements SansIoEndpoint {
  /** @internal */
  readonly config: ConnectionConfig;
  private readonly random: RandomSource;
  /** @internal */
  readonly acceptIncoming: boolean;
  /** @internal */
  readonly maxConnections: number;
  /** @internal Live server connections per client host and coarser IPv6 prefix (`hostLevels`; see `Connection.hostCounted`). */
  readonly hosts: HostTally;
  /** @internal Handshakes per client host per second (`handshakesPerHostPerSecond`); `undefined`: no limit. */
  readonly handshakeRate: HandshakeRate | undefined;
  /**
   * @internal Server connections draining, oldest first: no longer counted against their host, so at
   * `maxConnections` the oldest is ended early to make room. Else one host churning connections
   * (each close giving its place back) could fill the server with its draining ones.
   */
  readonly drainingServed = new Set<Connection>();
  /** @internal */
  readonly maxStatelessQueue: number;
  /** @internal */
  readonly cookies: CookieJar;
  /** @internal */
  readonly crypto: CryptoProvider | undefined;
  /** @internal */
  readonly identity: KeyPair | undefined;
  /** @internal Server: the secret of its stateless reset tokens, derived from `identity` (none in plaintext mode). */
  readonly resetSecret: Uint8Array | undefined;
  /** @internal Server: how many stateless resets it may send now (endpoint/stateless-reset.ts); a client endpoint has none to send. */
  readonly resetRate: ResetRate | undefined;
  /** @internal Server: the resets each client host may still have this minute (endpoint/reset-budget.ts). */
  readonly resetBudget: ResetBudget | undefined;
  /** @internal Client: its connections' stateless reset tokens, once their handshakes gave them. */
  readonly resetTokens: ResetTokens;
  private readonly connectionIds: ((random: RandomSource) => number) | undefined;
  /** @internal See `EndpointConfig.copyMessage` (read by each connection's reassembly). */
  readonly copyMessage: ((bytes: Uint8Array) => Uint8Array) | undefined;
  /** @internal The budget of receive credit every connection's grants come from (`maxReceiveBufferBytes`). */
  readonly receivePool: ReceivePool;
  /** @internal */
  readonly connections = new ConnectionTable<Connection>();
  /** @internal */
  readonly byClient = new Map<string, Connection>();
  /** @internal Cookies that opened a connection: a replay after it closed opens no other. */
  readonly spentCookies: SpentCookies;
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
  /** @internal Stateless replies (RETRY, a refusing ACCEPT) waiting to be sent, first out first. */
  stateless: Transmit[] = [];
  private events: EndpointEvent[] = [];
  private eventHead = 0;
  /** Connections that may have a message for the application, flagged by `Connection.readableQueued` (a list, as `dirty`). */
  private readonly readableList = new WorkList<Connection>();
  /** Room for the largest datagram path MTU discovery may use. */
  private readonly scratch = new DatagramScratch(MAX_PROBED_DATAGRAM);
  /** The header of the datagram being handled, overwritten by the next: nothing keeps it. */
  private readonly header = new HeaderScratch();
  private now = 0;
  /** @internal */
  readonly counters = {
    datagramsReceived: 0,
    bytesReceived: 0,
    datagramsSent: 0,
    bytesSent: 0,
    retriesSent: 0,
    connectionsAccepted: 0,
    pathValidations: 0,
    pathValidationsAbandoned: 0,
    pathValidationsRefused: 0,
    migrations: 0,
    hostMigrations: 0,
    statelessResetsSent: 0,
    statelessResetsReceived: 0,
    statelessResetsLimited: 0,
    statelessResetsHostLimited: 0,
  };
  /** @internal */
  readonly drops: DropCounts = newDropCounts();

  /** Throws a `TypeError` or `RangeError` that names the field if any option is unknown or out of range. */
  constructor(config: EndpointConfig) {
    validateConnectionOptions(config, ENDPOINT_KEYS);
    const { random, acceptIncoming, maxConnections, maxConnectionsPerHost, handshakesPerHostPerSecond, handshakeBurstPerHost, maxStatelessQueue, cookieLifetimeMs, crypto, identity, plaintext, connectionIds, copyMessage, maxReceiveBufferBytes, ...conn } = config;
    checkConnectionIds(connectionIds);
    this.connectionIds = connectionIds;
    if (copyMessage !== undefined && typeof copyMessage !== 'function') throw new TypeError(`rudp: option 'copyMessage' must be a function (bytes) => Uint8Array`);
    this.copyMessage = copyMessage;
    if (typeof random !== 'function') throw new TypeError('rudp: option \'random\' must be a function returning uniform 32-bit integers');
    if (acceptIncoming !== undefined && typeof acceptIncoming !== 'boolean') throw new TypeError(`rudp: option 'acceptIncoming' must be a boolean`);
    if (maxConnections !== undefined) checkNumber('maxConnections', maxConnections, { min: 1, max: 2 ** 31, integer: true });
    if (maxConnectionsPerHost !== undefined) checkNumber('maxConnectionsPerHost', maxConnectionsPerHost, { min: 1, max: 2 ** 31, integer: true });
    checkHandshakeRate(handshakesPerHostPerSecond, handshakeBurstPerHost);
    if (maxStatelessQueue !== undefined) checkNumber('maxStatelessQueue', maxStatelessQueue, { min: 0, max: 2 ** 20, integer: true });
    if (cookieLifetimeMs !== undefined) checkNumber('cookieLifetimeMs', cookieLifetimeMs, { min: 1, max: 86_400_000 });
    if (maxReceiveBufferBytes !== undefined) checkMaxReceiveBufferBytes(maxReceiveBufferBytes);
    // Every option was checked above and the defaults are valid: the merge is too.
    this.config = { ...DEFAULT_CONNECTION_CONFIG, ...stripUndefined(conn) };
    this.random = random;
    this.acceptIncoming = acceptIncoming ?? false;
    this.maxConnections = maxConnections ?? 100_000;
    this.hosts = new HostTally(maxConnectionsPerHost ?? 1024);
    const perSecond = handshakesPerHostPerSecond ?? DEFAULT_HANDSHAKES_PER_HOST_PER_SECOND;
    const burst = handshakeBurstPerHost ?? Math.max(maxConnectionsPerHost ?? 1024, MIN_DEFAULT_HANDSHAKE_BURST);
    this.handshakeRate = perSecond > 0 ? new HandshakeRate(perSecond, burst) : undefined;
    this.maxStatelessQueue = maxStatelessQueue ?? 1024;
    this.receivePool = new ReceivePool(maxReceiveBufferBytes ?? DEFAULT_MAX_RECEIVE_BUFFER_BYTES);
    this.cookies = new CookieJar(random, cookieLifetimeMs);
    this.spentCookies = new SpentCookies(this.cookies.lifetimeMs);
    if (plaintext !== undefined && typeof plaintext !== 'boolean') throw new TypeError(`rudp: option 'plaintext' must be a boolean`);
    checkIdentity(identity, plaintext === true);
    checkCryptoProvider(crypto);
    if (plaintext !== true) {
      if (crypto === undefined) throw new TypeError(`rudp: option 'crypto' (a CryptoProvider) is required unless 'plaintext: true' (the Node API supplies one, built on Node's crypto module)`);
      // Guarded: a throw of the provider's is told from a bug of rudp's (plugin-fault.ts).
      this.crypto = guardProvider(crypto);
      if (this.acceptIncoming) this.identity = identity ?? crypto.generateKeyPair();
      // From the identity key alone, so a process restarted with the same key answers for the old one's connections.
      if (this.identity !== undefined) {
        this.resetSecret = resetSecret(crypto, this.identity);
        this.resetRate = new ResetRate();
        this.resetBudget = new ResetBudget();
      }
    }
    this.resetTokens = new ResetTokens(this.crypto);
  }

  /** Server: the public key clients pin (`undefined` in plaintext mode or for a client endpoint). */
  get publicKey(): Uint8Array | undefined {
    return this.identity?.publicKey;
  }

  // ---------------------------------------------------------------- application calls

  /**
   * Starts a connection to `to`; a `connected` (or `closed`) event follows.
   * Throws a `TypeError` or `RangeError` that names the field if an override
   * is unknown or out of range, and the `PluginFault` if the application's
   * crypto provider throws as the handshake begins (its key pair): no
   * connection is made then, so none could end for it.
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
        : clientSecurity(this.crypto, cid, serverKey, config);
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

  /**
   * Whether an event other than a message waits for `pollEvent` (a connection's close: `pollTransmit` emits one
   * when a connection ends as it is polled). A driver that polls events before transmitting polls again if so.
   */
  get hasPendingEvent(): boolean {
    return this.eventHead < this.events.length;
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
    const pool = this.receivePool;
    const receiveBuffer = { budget: pool.budget, granted: pool.committed, waiting: pool.waitingConnections };
    return { ...this.counters, connections: this.connections.size, receiveBuffer, dropped: { ...this.drops }, droppedTotal };
  }

  // ---------------------------------------------------------------- SansIoEndpoint

  handleDatagram(now: number, data: Uint8Array, from: PeerAddress): void {
    try {
      this.takeDatagram(now, data, from);
    } catch (e) {
      // A connection's own work contains its plug-ins' faults (`Connection.endForFault`); what is left is the
      // endpoint's: answering an INITIAL, checking or sending a stateless reset. The datagram is dropped.
      if (!(e instanceof PluginFault)) throw e;
      this.drops.pluginFault++;
    }
  }

  private takeDatagram(now: number, data: Uint8Array, from: PeerAddress): void {
    this.now = Math.max(this.now, now);
    this.counters.datagramsReceived++;
    this.counters.bytesReceived += data.length;
    // No version's packet starts with this byte: a VERSION packet, the answer of a server of another version.
    if (data[0] === VERSION_PACKET_BYTE) return handleVersionPacket(this, data, from);
    const h = this.header;
    const drop = parseHeaderInto(data, h);
    if (drop !== undefined) {
      this.drops[drop]++;
      if (drop === 'version') answerOtherVersion(this, data, from);
      return;
    }
    switch (h.type) {
      case PacketType.Initial:
        handleInitial(this, now, data.length, data.subarray(h.payloadStart, h.payloadEnd), from);
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
        // A copy arriving after the handshake completed, or ended in our CLOSE (an authenticated ACCEPT with an
        // invalid window: the connection drains): handshake.ts sends each twice, so expected, not a drop.
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
          try {
            this.resetTokens.add(conn);
          } catch (e) {
            // The provider's randomness for the token index threw: this connection ends (and is still touched below).
            conn.endForFault(now, e);
          }
        }
        this.touch(conn);
        return;
      }
      case PacketType.Data:
      case PacketType.Protected0:
      case PacketType.Protected1: {
        const conn = this.connections.get(h.dcid);
        // A reset's connection id is random (its sender forgot ours): it names no connection, or one it does not open for.
        if (!conn) {
          if (h.type === PacketType.Data || !takeStatelessReset(this, data, from)) {
            this.drops.unknownConnection++;
            if (h.type !== PacketType.Data) answerUnknownConnection(this, now, h.dcid, data.length, from);
          }
          return;
        }
        if (conn.remote !== from && !mayComeFrom(conn, from)) return void this.drops.addressMismatch++;
        const result = conn.handlePacket(now, h, data.length, from);
        this.touch(conn);
        if (result === 'auth' && takeStatelessReset(this, data, from)) return;
        if (result !== 'ok') this.drops[result]++;
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
          return { to: conn.destination, data };
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
      uncountHost(this, event.connection);
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

  /**
   * @internal The client of `conn` moved to `conn.remote` from `previous`: the handshake's dedupe entry
   * follows it, so `forget`/`remove` find it, and so does its count in the per-host tally when the host
   * changed (`hostRoom` said the new one has room; `uncountHost` then uncounts it there). The spent cookie
   * stays spent under the old address: a cookie is bound to the address it was minted for, so it opens
   * nothing at the new one.
   */
  migrated(conn: Connection, previous: PeerAddress): void {
    const old = `${previous}/${conn.remoteCid}`;
    if (this.byClient.get(old) === conn) {
      this.byClient.delete(old);
      // Another connection's entry (its client chose the same id at that address) is left alone.
      const key = `${conn.remote}/${conn.remoteCid}`;
      if (!this.byClient.has(key)) this.byClient.set(key, conn);
    }
    if (!sameHost(previous, conn.remote)) {
      this.counters.hostMigrations++;
      if (conn.hostCounted) {
        this.hosts.remove(hostLevels(previous));
        this.hosts.add(hostLevels(conn.remote));
      }
    }
    this.counters.migrations++;
    this.emit({ type: 'migrated', connection: conn, previous });
  }

  /** @internal */
  hostRoom(conn: Connection, to: PeerAddress): boolean {
    // A connection no longer counted (closed) holds no place to move.
    return !conn.hostCounted || this.hosts.fullForMove(hostLevels(conn.remote), hostLevels(to)) === undefined;
  }

  /** @internal */
  pathValidation(outcome: 'started' | 'abandoned' | 'refused'): void {
    if (outcome === 'started') this.counters.pathValidations++;
    else if (outcome === 'abandoned') this.counters.pathValidationsAbandoned++;
    else this.counters.pathValidationsRefused++;
  }

  // ---------------------------------------------------------------- internals

  private messageEvent(conn: Connection): EndpointEvent {
    // Reading wakes the connection itself: it may announce more window to the sender.
    const channel = conn.nextMessageChannel;
    const data = conn.readMessage() as Uint8Array;
    return { type: 'message', connection: conn, data, channel };
  }

  /** @internal `conn` changed: poll it on the next `pollTransmit`. */
  touch(conn: Connection): void {
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

  /** @internal Registers a new connection: by its id, and in a timer slot. */
  add(conn: Connection): void {
    this.connections.set(conn.localCid, conn);
    const slot = this.freeSlots.pop() ?? this.slotCount++;
    conn.timerSlot = slot;
    this.bySlot = withRoomFor(this.bySlot, slot);
    this.bySlot[slot] = conn;
  }

  /** @internal Forgets `conn` for good: its id, its timer slot, its place in the per-host tally and among the draining. */
  remove(conn: Connection): void {
    // Called again for a connection already gone: its slot may belong to another one by now.
    if (this.connections.get(conn.localCid) === conn) {
      this.connections.delete(conn.localCid);
      this.resetTokens.delete(conn);
      uncountHost(this, conn);
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

  private countSent(data: Uint8Array): void {
    this.counters.datagramsSent++;
    this.counters.bytesSent += data.length;
  }

  /** @internal A free local connection id, or `undefined` if `CID_ATTEMPTS` draws found none (the id space is full). */
  newCid(): number | undefined {
    for (let i = 0; i < CID_ATTEMPTS; i++) {
      const cid = (this.connectionIds?.(this.random) ?? this.random()) >>> 0;
      if (cid !== 0 && !this.connections.has(cid)) return cid;
    }
    return undefined;
  }
}
