/**
 * The public Node API: `listen` for servers, `connect` for clients.
 */
import { EventEmitter } from 'node:events';
import { isIP, isIPv6 } from 'node:net';
import type { KeyPair } from '../crypto/crypto-provider.js';
import { PluginFault } from '../crypto/plugin-fault.js';
import { DEFAULT_CONNECTION_CONFIG, describeValue } from '../core/config.js';
import type { CloseReason } from '../core/events.js';
import { formatAddress } from '../core/sans-io.js';
import { brand } from './brand.js';
import { checkTransportOptions, invalidArgType } from './check-options.js';
import { withFamilyCeiling } from './datagram-ceiling.js';
import { type LookupFunction, type ResolvedAddress, resolveHost } from './resolve-host.js';
import { type ConnectionOptions, RudpConnection } from './rudp-connection.js';
import { RudpError, type RudpErrorDetails, abortError, closeCode, fromSystemError } from './rudp-error.js';
import type { DatagramSocket } from './datagram-socket.js';
import { openDatagramSocket } from './open-datagram-socket.js';
import { type NodeEndpointStats, type TransportOptions, UdpEndpoint } from './udp-endpoint.js';
import { withoutNeedlessZone } from './ip-zone.js';

/** How long one address of a host name gets before the next is tried alongside it (RFC 8305's 250 ms). */
const NEXT_ADDRESS_DELAY_MS = 250;

/** Options of `listen`. */
export interface ListenOptions extends TransportOptions, ConnectionOptions {
  /**
   * UDP port, 0–65535 (0 picks a free one; see `server.address().port`): a
   * number, or a string of one (`process.env.PORT`), as `dgram`'s `bind` takes.
   */
  readonly port: number | string;
  /** Address or host name to bind. Default `127.0.0.1`; `0.0.0.0` or `::` for every interface. */
  readonly host?: string | undefined;
  /** Most live connections; at the limit a newcomer first ends the oldest connection still draining after its close, and with none draining it is refused: its `connect` rejects with `ECONNREFUSED`. Default 100,000. */
  readonly maxConnections?: number | undefined;
  /**
   * Most live connections from one client host (an IPv4 address, or an IPv6
   * /64), so one machine cannot take them all; a client beyond is refused
   * the same way. Default 1,024. A global IPv6 client also counts against
   * its /56, which may hold 4 times this, and its /48, 16 times: a customer's
   * delegation (a /56 is 256 /64s, a /48 65,536) is not that many hosts. A
   * client of a full /56 or /48 is refused as at a full host.
   */
  readonly maxConnectionsPerHost?: number | undefined;
  /**
   * Most handshakes a second one client host may make the server start,
   * sustained; an IPv6 client's /56 and /48 may make 4 and 16 times this.
   * Counted only for clients that proved their address (echoed the
   * cookie), before the key exchange; a client past it is refused
   * (`ECONNREFUSED`, "too many new connections from this address"). 0: no
   * limit. Default 64.
   */
  readonly handshakesPerHostPerSecond?: number | undefined;
  /** Handshakes one client host may start at once before `handshakesPerHostPerSecond` holds it back (4 and 16 times for a /56 and /48). Default `maxConnectionsPerHost`, at least 256. */
  readonly handshakeBurstPerHost?: number | undefined;
  /**
   * Most bytes all connections together may let their peers make the
   * server hold, unfinished and unread messages alike: the sum of the
   * credit the connections grant, each at most its `receiveWindow`. While
   * it is short, new connections start with smaller windows (their peers'
   * `maxMessageSize()` is smaller) and raises wait until the application
   * reads. Every connection still grants 4 KiB, counted here too, so none
   * starves. Credit granted is held until the application reads, so
   * connections that sit on their windows (idle ones too) shrink the windows
   * of those that come later. Default 1 GiB (2^30: what one address's
   * 1,024 connections could hold at their first grant, now the bound for
   * all); any integer from 0 to 2^50 (no budget in practice).
   */
  readonly maxReceiveBufferBytes?: number | undefined;
  /**
   * The server's static X25519 key pair, proven to every client in the
   * handshake (clients pin its public key). Default: a fresh pair for this
   * server (`server.publicKey`), which clients can only trust on first use.
   */
  readonly identity?: KeyPair | undefined;
  /**
   * Chooses each connection id this server hands out, from a uniform 32-bit
   * random source: e.g. `quicLbCidGenerator(config, serverId)` from
   * `rudpx/core`, so a connection-id-aware load balancer routes by the
   * server id inside (QUIC-LB layout). Default: random ids.
   */
  readonly connectionIds?: ((random: () => number) => number) | undefined;
}

/** Options of `connect`. */
export interface ConnectOptions extends TransportOptions, ConnectionOptions {
  /** The server's UDP port, 1–65535: a number, or a string of one (`process.env.PORT`), as `net.connect` takes. */
  readonly port: number | string;
  /** The server's IP address or host name (resolved with `dns.lookup`, both families). Default `127.0.0.1`. */
  readonly host?: string | undefined;
  /** The local address to send from (e.g. `127.0.0.2`, to look like another host to an address-hashing balancer). Default: any address of the target's family. */
  readonly localAddress?: string | undefined;
  /** Aborts the lookup or handshake: `connect` rejects with an `AbortError` (`code` `ABORT_ERR`). */
  readonly signal?: AbortSignal | undefined;
  /** Resolves `host` instead of `dns.lookup` (called with `{ all: true }`), as `net.connect`'s `lookup`. */
  readonly lookup?: LookupFunction | undefined;
  /**
   * The server's public key (32 bytes) to pin. A server that proves another
   * key is refused (`ServerKeyMismatchError`, code
   * `ERR_RUDP_SERVER_KEY_MISMATCH`) before anything is sent on the
   * connection. Without it the connection learns the key
   * (`conn.serverKey`) and the application decides whether to trust it.
   */
  readonly serverKey?: Uint8Array | undefined;
}

/** `connect` refused: the server proved another key than the pinned `serverKey`. Nothing was sent. */
export class ServerKeyMismatchError extends RudpError {
  constructor(
    /** The pinned key. */
    readonly expected: Uint8Array,
    /** The key the server presented. */
    readonly offered: Uint8Array,
    message: string,
    /** The refused connection's `reason` (kind `'refused'`), the server's `address` and `port`, the `hostname` asked for: as on every connect error. */
    details: RudpErrorDetails = {},
  ) {
    super('ERR_RUDP_SERVER_KEY_MISMATCH', message, details);
    this.name = 'ServerKeyMismatchError';
  }
}
brand(ServerKeyMismatchError, 'ServerKeyMismatchError');

/** The events of a `RudpServer`. */
export interface RudpServerEvents {
  /** A client echoed its cookie and was answered: open from the server's side (its first packet may still be on the way; one that never comes ends it at `idleTimeoutMs`). */
  connection: [RudpConnection];
  /** The server closed. */
  close: [];
}

/** A listening endpoint. */
export class RudpServer extends EventEmitter<RudpServerEvents> {
  private readonly live = new Set<RudpConnection>();
  /** Whether `close()` was called (a connection's `'close'` listener may call it again while the first call runs). */
  private closeCalled = false;
  /** One function for every connection: a `once('close')` each would cost a closure and a wrapper per connection. */
  private readonly forget = (conn: RudpConnection): void => void this.live.delete(conn);

  /** Made by `listen`, not by applications (its type stays published: without it `new RudpServer()` would type-check as an EventEmitter). */
  constructor(
    private readonly io: UdpEndpoint,
    connectionOptions: ConnectionOptions,
  ) {
    super();
    io.onEvent = (e) => {
      if (e.type === 'incoming') {
        const conn = new RudpConnection(io, e.connection, connectionOptions, this.forget);
        this.live.add(conn);
        this.emit('connection', conn);
      }
    };
  }

  /**
   * The server's static public key (32 bytes): the `identity` it was given,
   * or the fresh one made for it. Clients pin it as `serverKey`. `undefined`
   * in plaintext mode.
   */
  get publicKey(): Uint8Array | undefined {
    return this.io.endpoint.publicKey;
  }

  /** The bound address. */
  address(): { address: string; port: number; family: string } {
    const a = this.io.socket.address();
    return { address: a.address, port: a.port, family: a.family };
  }

  /** Live connections. */
  get connections(): ReadonlySet<RudpConnection> {
    return this.live;
  }

  /** Endpoint counters (datagrams dropped by reason, handshakes, …). */
  stats(): NodeEndpointStats {
    return this.io.stats();
  }

  /** Keeps the process alive while listening (the default). */
  ref(): this {
    this.io.setOwnerRef(true);
    return this;
  }

  /** Lets the process exit while listening; live connections still keep it alive unless unref'd. */
  unref(): this {
    this.io.setOwnerRef(false);
    return this;
  }

  /**
   * Closes every connection abruptly (peers are told) and the socket; emits
   * `'close'` once, however often it is called. Rejects with the error of a
   * connection's listener that threw meanwhile (after closing everything; an
   * `AggregateError` of every one, in order, if several threw).
   */
  close(): Promise<void> {
    const first = !this.closeCalled;
    this.closeCalled = true;
    const done = this.io.shutdown();
    return first ? done.finally(() => void this.emit('close')) : done;
  }

  /** `await using server = await listen(…)`: `close()` when the scope ends, as `net.Server` disposes. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
brand(RudpServer, 'RudpServer');

/** Starts a server on UDP `port`. Rejects with a `RudpError` (`EADDRINUSE`, `EACCES`, …) if the port cannot be bound. */
export async function listen(options: ListenOptions): Promise<RudpServer> {
  checkOptions(options, 'listen');
  const { port: portGiven, host = '127.0.0.1', maxConnections, maxConnectionsPerHost, handshakesPerHostPerSecond, handshakeBurstPerHost, maxReceiveBufferBytes, highWaterMark, identity, ...transport } = options;
  const port = portOf(portGiven, 0);
  if (typeof host !== 'string' || host === '') throw invalidArgType('The "options.host" property must be a non-empty string');
  checkTransportOptions({ ...transport, maxConnections, maxConnectionsPerHost, handshakesPerHostPerSecond, handshakeBurstPerHost, maxReceiveBufferBytes, highWaterMark, identity });
  const socket = openDatagramSocket(isIPv6(host) ? 6 : 4, host, transport.socketBatching, undefined, transport.segmentOffload);
  try {
    await socket.bind(port, host);
  } catch (e) {
    await socket.close();
    throw fromSystemError(e, 'EINVAL', `cannot listen on ${formatAddress(host, port)}`, { syscall: 'bind', ...bindDetails(e, host, port) });
  }
  const io = endpointOn(socket, () => new UdpEndpoint(socket, true, { ...withFamilyCeiling(transport, isIPv6(host) ? 6 : 4), ...(maxConnections !== undefined ? { maxConnections } : {}), ...(maxConnectionsPerHost !== undefined ? { maxConnectionsPerHost } : {}), ...(handshakesPerHostPerSecond !== undefined ? { handshakesPerHostPerSecond } : {}), ...(handshakeBurstPerHost !== undefined ? { handshakeBurstPerHost } : {}), ...(maxReceiveBufferBytes !== undefined ? { maxReceiveBufferBytes } : {}), ...(identity !== undefined ? { identity } : {}) }));
  return new RudpServer(io, highWaterMark !== undefined ? { highWaterMark } : {});
}

/**
 * Connects to a server. Resolves once the handshake completes. A host name is
 * resolved to every address of both families, tried in order, each next one
 * 250 ms after the last (or at once when it fails); the first to answer wins.
 * Rejects with a `RudpError`: `ECONNREFUSED` at once if the port is closed
 * or the server refused (at a connection limit or its host's handshake
 * rate, or because it encrypts and this client has `plaintext: true` or the
 * other way round), `EPROTO` at once if the server speaks another protocol
 * version or its authenticated answer announced an invalid receive window,
 * `ENOTFOUND` for an unknown name, `ETIMEDOUT` after `handshakeTimeoutMs`,
 * `ABORT_ERR` when `signal` aborts, `ERR_RUDP_SERVER_KEY_MISMATCH` (a
 * `ServerKeyMismatchError`) when the server proves another key than
 * `serverKey`. The connection owns its socket and closes it when it ends.
 */
export async function connect(options: ConnectOptions): Promise<RudpConnection> {
  checkOptions(options, 'connect');
  const { port: portGiven, host = '127.0.0.1', localAddress, signal, lookup, highWaterMark, serverKey, ...transport } = options;
  const port = portOf(portGiven, 1);
  if (lookup !== undefined && typeof lookup !== 'function') throw invalidArgType('The "options.lookup" property must be a function');
  if (typeof host !== 'string' || host === '') throw invalidArgType('The "options.host" property must be a non-empty string');
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType('The "options.signal" property must be an AbortSignal');
  if (localAddress !== undefined && (typeof localAddress !== 'string' || isIP(localAddress) === 0)) throw invalidArgType('The "options.localAddress" property must be an IP address');
  checkTransportOptions({ ...transport, highWaterMark }, serverKey);
  if (signal?.aborted) throw abortError(signal);
  const addresses = await resolveHost(host, signal, lookup, transport.handshakeTimeoutMs ?? DEFAULT_CONNECTION_CONFIG.handshakeTimeoutMs);
  const connOptions = highWaterMark !== undefined ? { highWaterMark } : {};
  return race(
    addresses.map((a) => () => attempt(a, port, host, transport, connOptions, serverKey, localAddress)),
    signal,
  );
}

/** One handshake to one address. */
interface Attempt {
  readonly result: Promise<RudpConnection>;
  cancel(): void;
}

function attempt(
  target: ResolvedAddress,
  port: number,
  hostname: string,
  transport: TransportOptions,
  connOptions: ConnectionOptions,
  serverKey: Uint8Array | undefined,
  localAddress: string | undefined,
): Attempt {
  const bindTo = localAddress ?? (target.family === 6 ? '::' : '0.0.0.0');
  // As replies will name it: `::1%lo` answers as `::1`.
  const address = withoutNeedlessZone(target.address);
  const socket = openDatagramSocket(target.family, bindTo, transport.socketBatching, address, transport.segmentOffload);
  const remote = formatAddress(address, port);
  const named = hostname === address ? remote : `${remote} (${hostname})`;
  const details = { address, port, ...(hostname !== address ? { hostname } : {}) };
  let conn: RudpConnection | undefined;
  let cancelled = false;
  const result = (async (): Promise<RudpConnection> => {
    try {
      await socket.bind(0, bindTo);
    } catch (e) {
      void socket.close();
      // The local address is what failed, as net.connect names a localAddress it cannot bind.
      throw fromSystemError(e, 'EINVAL', `cannot connect to ${named}`, { syscall: 'bind', ...bindDetails(e, bindTo, 0) });
    }
    try {
      // Connected, the socket hears the ICMP "port unreachable" a closed port answers with (as
      // ECONNREFUSED), each send skips the address lookup and the kernel's route lookup, and
      // datagrams from anyone else are filtered out by the kernel.
      await socket.connect(port, address);
    } catch (e) {
      void socket.close();
      throw fromSystemError(e, 'EINVAL', `cannot connect to ${named}`, { syscall: 'connect', ...details });
    }
    if (cancelled) {
      void socket.close();
      throw new RudpError('ABORT_ERR', 'cancelled');
    }
    const io = endpointOn(socket, () => new UdpEndpoint(socket, false, withFamilyCeiling(transport, target.family)));
    let core: ReturnType<UdpEndpoint['endpoint']['connect']>;
    try {
      core = io.endpoint.connect(io.now(), remote, serverKey !== undefined ? { serverKey } : {});
    } catch (e) {
      // The application's crypto provider threw as the handshake began (its first key pair): no connection, so
      // nothing else would close this attempt's socket; named as a connection its plug-in ended is.
      void io.shutdown();
      if (e instanceof PluginFault) throw new RudpError('ERR_RUDP_PLUGIN_FAILED', `cannot connect to ${named}: ${e.message}`, { cause: e, syscall: 'connect', ...details });
      throw e;
    }
    // The socket is closed from the connection's internal hook, not from a 'close' listener: an
    // application that calls removeAllListeners() would have taken that one away and leaked the socket.
    // After the close is handled: a shutdown in the middle of it would dispatch events re-entrantly.
    const c = new RudpConnection(io, core, connOptions, () => queueMicrotask(() => void io.shutdown()));
    conn = c;
    let established = false;
    io.onSocketError = (e) => {
      if (!('code' in e) || e.code !== 'ECONNREFUSED') return;
      // The kernel matched the ICMP error to this socket's peer: nothing listens on that port (any more).
      const reason: CloseReason = { kind: 'unreachable', code: 1, message: established ? 'the peer port closed' : 'port unreachable' };
      // Named as Node names them: a refused connect as net.connect's (syscall 'connect', like every
      // other connect error here); a reset by the socket call that reported it, as dgram does, which is
      // the cause's ('send' or 'recvmsg': the kernel tells whichever call comes first).
      const error = established
        ? new RudpError('ECONNRESET', `connection to ${named} reset: the peer's port is closed`, { reason, cause: e, syscall: syscallOf(e), ...details })
        : new RudpError('ECONNREFUSED', `cannot connect to ${named}: connection refused (port unreachable)`, { reason, cause: e, syscall: 'connect', ...details });
      if (!established) {
        c.fail(error, reason);
        return;
      }
      // The kernel tells a queued ICMP error before the datagrams queued ahead of it: a server that closed
      // sent its CLOSE first, and the connection ends as the peer closed it if that is there (its 'close'
      // may not be dispatched yet: the core drains), not as a reset.
      io.afterWaitingDatagrams(() => {
        if (core.state !== 'draining' && core.state !== 'closed') c.fail(error, reason);
      });
    };
    return new Promise<RudpConnection>((resolve, reject) => {
      io.onEvent = (e) => {
        if (e.type === 'connected') {
          established = true;
          resolve(c);
        } else if (e.type === 'closed' && !established) {
          const mismatch = e.connection.keyMismatch;
          if (mismatch !== undefined) {
            reject(new ServerKeyMismatchError(mismatch.expected, mismatch.offered, `cannot connect to ${named}: ${e.reason.message}`, { reason: e.reason, syscall: 'connect', ...details }));
            return;
          }
          const err = c.closeError;
          // A timeout, or the server's refusal at a connection limit, is named like the other connect errors, with the target.
          const refused = e.reason.kind === 'refused';
          if (err && err.code !== 'ETIMEDOUT' && !refused) reject(err);
          else reject(new RudpError(refused ? closeCode(e.reason) : (err?.code ?? 'ERR_RUDP_CLOSED'), `cannot connect to ${named}: ${e.reason.message}`, { reason: e.reason, syscall: 'connect', ...details }));
        }
      };
      io.changed(core);
    });
  })();
  return {
    result,
    cancel: () => {
      cancelled = true;
      conn?.destroy('connect cancelled');
    },
  };
}

/**
 * Runs the attempts Happy-Eyeballs style (RFC 8305): the next starts after
 * `NEXT_ADDRESS_DELAY_MS` or as soon as every running one failed; the first
 * connection wins and the others are cancelled. All failing rejects with the
 * most telling error: a server's own refusal (it is at a connection limit,
 * and says so) first, then a timeout that heard something (its reason's
 * `note`), then a timeout or other failure, then a closed port.
 */
function race(starters: readonly (() => Attempt)[], signal: AbortSignal | undefined): Promise<RudpConnection> {
  return new Promise((resolve, reject) => {
    const running: Attempt[] = [];
    const errors: RudpError[] = [];
    let started = 0;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      if (settled) return;
      finish();
      for (const a of running) a.cancel();
      reject(abortError(signal as AbortSignal));
    };
    const startNext = (): void => {
      clearTimeout(timer);
      const start = starters[started++];
      if (settled || start === undefined) return;
      const a = start();
      running.push(a);
      if (started < starters.length) timer = setTimeout(startNext, NEXT_ADDRESS_DELAY_MS);
      a.result.then(
        (conn) => {
          if (settled) return conn.destroy('another address answered first');
          finish();
          for (const other of running) if (other !== a) other.cancel();
          resolve(conn);
        },
        (e: unknown) => {
          if (settled) return;
          errors.push(e instanceof RudpError ? e : fromSystemError(e, 'ERR_RUDP_CLOSED', 'cannot connect'));
          if (errors.length === starters.length) {
            finish();
            // A timeout whose attempt heard a RETRY or an ACCEPT it could not use says more than a silent address
            // tried before it: the first to fail won, and forum-client lost the note (`CloseReason.note`).
            reject(errors.find((x) => x.reason?.kind === 'refused') ?? errors.find((x) => x.reason?.note !== undefined) ?? errors.find((x) => x.code !== 'ECONNREFUSED') ?? errors[0]);
          } else if (errors.length === started) {
            startNext();
          }
        },
      );
    };
    // Aborted while the host was resolved (an IP address too: its answer still comes a microtask later, after an
    // `abort()` in the caller's tick), the signal fires no more: without this check the handshake went on regardless.
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    startNext();
  });
}

/**
 * The endpoint `make` builds on the bound `socket`, or, if it throws (an
 * option the checks above let through), the error with the socket closed:
 * a bound socket left open would keep the port and the process alive.
 */
function endpointOn(socket: DatagramSocket, make: () => UdpEndpoint): UdpEndpoint {
  try {
    return make();
  } catch (e) {
    void socket.close();
    throw e;
  }
}

/**
 * Where a bind of `host`:`port` failed, in the fields Node's errors use: a
 * name that did not resolve is the `hostname` alone (as `dns.lookup`'s
 * `ENOTFOUND`, no address or port); else the `address` bound (the one the
 * name resolved to, when the socket's error says), the `port` unless 0 (as
 * Node leaves it out), and the `hostname` when `host` was a name.
 */
function bindDetails(e: unknown, host: string, port: number): RudpErrorDetails {
  const own = e instanceof Error ? (e as Partial<Record<'syscall' | 'address' | 'port', unknown>>) : {};
  const name = isIP(host) === 0 ? { hostname: host } : {};
  if (own.syscall === 'getaddrinfo') return name;
  const address = typeof own.address === 'string' ? own.address : isIP(host) !== 0 ? host : undefined;
  return { ...name, ...(address !== undefined ? { address } : {}), ...(port > 0 ? { port } : {}) };
}

/** The system call a socket error names (`send`, `recvmsg`). */
function syscallOf(e: Error): string | undefined {
  return 'syscall' in e && typeof e.syscall === 'string' ? e.syscall : undefined;
}

function checkOptions(options: unknown, fn: string): void {
  if (typeof options !== 'object' || options === null) throw invalidArgType(`The "options" argument of ${fn}() must be an object`);
}

/**
 * `port` as a number, taken as Node's `validatePort` takes the port of
 * `net.connect` and `dgram`'s `bind`: a number, or a string (as
 * `process.env.PORT`) that `Number()` reads as one, blanks around it, `0x`
 * and exponents included ('' and blanks alone are refused, not read as 0);
 * either an integer from `min` to 65535. (Node lets the string '0' through
 * where it refuses the number 0; `connect` refuses both.)
 */
function portOf(port: unknown, min: number): number {
  const value = typeof port === 'number' ? port : typeof port === 'string' && port.trim() !== '' ? Number(port) : Number.NaN;
  if (!Number.isInteger(value) || value < min || value > 65535) {
    throw Object.assign(new RangeError(`The "options.port" property must be an integer from ${min} to 65535 (a number or a string of one); received ${describeValue(port)}`), {
      code: 'ERR_SOCKET_BAD_PORT',
    });
  }
  // -0 (from '-0' too) as 0, as Node's `port | 0`: a bound port is never reported as -0.
  return value | 0;
}
