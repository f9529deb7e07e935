/**
 * `RudpConnection`: one reliable connection as Node code expects it — an
 * EventEmitter with promise sends, `bufferedAmount`, `writableLength` and `'drain'`, async
 * iteration, a byte-stream Duplex, and `ref()`/`unref()`.
 *
 * Its parts, functions of the wrapper's own fields (a server holds one
 * wrapper per connection: an object per part would be heap in each):
 * unacknowledged-sends.ts (what `send` waits for, `writableLength`,
 * `'drain'`), message-flow.ts (the core paused while nothing consumes),
 * connection-end.ts (the close as the wrapper's users see it);
 * connection-options.ts holds its option types.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Connection, ConnectionStats } from '../core/connection.js';
import type { CloseReason } from '../core/events.js';
import type { DeliveryOptions } from '../core/send/delivery-options.js';
import { checkKnownKeys, describeValue } from '../core/config.js';
import { MESSAGE_CREDIT } from '../core/credit.js';
import { parseAddress } from '../core/sans-io.js';
import { brand } from './brand.js';
import { PluginFault } from '../crypto/plugin-fault.js';
import { checkChannel, destroyReasonText, invalidArgType, withNodeCode } from './check-options.js';
import { ConnectionStream } from './connection-stream.js';
import { messageBytes, type MessageData } from './message-bytes.js';
import { iterateMessages, rewatchLeftovers } from './message-iterator.js';
import { RudpError, abortError, sendEndError } from './rudp-error.js';
import { whenAborted } from './shared-abort.js';
import { type PendingSend, holdUnacknowledged, settleAcknowledged, watchAbort } from './unacknowledged-sends.js';
import { reportClosed } from './connection-end.js';
import { type Hold, setMessageHold, updateFlow, watchListeners } from './message-flow.js';
import { type CloseOptions, type ConnectionOptions, DEFAULT_HIGH_WATER_MARK, DELIVERY_OPTIONS, SEND_OPTIONS, type SendOptions } from './connection-options.js';
import type { UdpEndpoint } from './udp-endpoint.js';

export { type CloseOptions, type ConnectionOptions, DEFAULT_HIGH_WATER_MARK, type SendOptions } from './connection-options.js';

/** The `destroy` reason of a close whose `signal` aborted (the peer sees it in the CLOSE). */
const CLOSE_ABORTED = 'close aborted';

/** The events of a `RudpConnection`. */
export interface RudpConnectionEvents {
  /** A whole message (in order within its channel unless sent unordered or unreliable), and its channel. Always a `Buffer`. */
  message: [data: Buffer, channel: number];
  /** `writableLength` fell to half the high-water mark after reaching it. */
  drain: [];
  /**
   * Server side: the client's packets now come from another address (a NAT
   * rebinding's new port, or a new IP address), which proved it receives;
   * `remoteAddress` and `remotePort` are the new ones from now on, `previous`
   * the address it left.
   */
  migrate: [previous: { readonly address: string; readonly port: number }];
  /** The connection ended (after any messages that arrived before the close). */
  close: [CloseReason];
  /** The connection failed (idle timeout, the peer's port closed, a stateless reset, a plug-in's fault); not when closed or destroyed here, closed by the peer, or ended by `server.close()`. Emitted only while someone listens. */
  error: [RudpError];
  /** EventEmitter's own: a listener is about to be added. */
  newListener: [event: string | symbol, listener: (...args: never[]) => unknown];
  /** EventEmitter's own: a listener was removed. */
  removeListener: [event: string | symbol, listener: (...args: never[]) => unknown];
}

/**
 * One reliable connection. Messages are not taken from the transport until
 * something consumes them (a `'message'` listener, iteration or `stream()`),
 * so none is lost between `connect()` resolving and a listener being added;
 * unread messages hold the peer back through the receive window.
 */
export class RudpConnection extends EventEmitter<RudpConnectionEvents> implements AsyncIterable<Buffer> {
  /** The `writableLength` at which `writableNeedDrain` turns true. */
  readonly writableHighWaterMark: number;
  /** @internal Unacknowledged sends by message id, from `pendingHead` on (see unacknowledged-sends.ts). */
  pending: (PendingSend | number | undefined)[] = [];
  /** @internal The first slot of `pending` not known to be settled. */
  pendingHead = 0;
  /** @internal The message id of slot 0 of `pending`. */
  pendingBase = 0;
  /** @internal `bufferedAmount`. */
  buffered = 0;
  /**
   * @internal Reliable messages not yet acknowledged. Each costs the peer `MESSAGE_CREDIT` of its window and us a
   * queue slot however short it is, so backpressure counts it: in bytes alone, empty writes never saw any.
   */
  unacknowledged = 0;
  /** @internal `writableNeedDrain`. */
  needDrain = false;
  /** @internal Reasons to stop taking messages (created at the first: most connections never pause). */
  holds: Set<Hold> | undefined;
  private refd = true;
  /** @internal Why the connection ended, once it has. */
  closedWith: CloseReason | undefined;
  /** @internal The error sends and iteration get once it ended. */
  closedError: RudpError | undefined;
  /** @internal Set before the core is destroyed for a reason the core has no kind for (an ICMP error). */
  failure: { readonly error: RudpError; readonly reason: CloseReason } | undefined;
  /**
   * @internal `destroy()` was called: no message is handed over from then on, of those the transport
   * had read, held back or an iterator read ahead (as a destroyed Node stream emits no more 'data').
   */
  destroyedHere = false;
  /** @internal `close()` and `whenClosed()` calls waiting for the end. */
  readonly closeWaiters: (() => void)[] = [];
  private duplex: Duplex | undefined;

  /** Made by `connect` and by a server, not by applications (its type stays published: without it `new RudpConnection()` would type-check). */
  constructor(
    /** @internal The endpoint driving the core: told when this wrapper changed the core (`changed`). */
    readonly io: UdpEndpoint,
    /** The sans-IO connection underneath. */
    readonly core: Connection,
    options: ConnectionOptions = {},
    /** @internal Told once the connection has closed, before 'close' is emitted (a server forgets it then). */
    readonly forgetClosed?: (conn: RudpConnection) => void,
  ) {
    super();
    this.writableHighWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    io.attach(core, this);
    watchListeners(this);
    updateFlow(this, 0);
  }

  /**
   * Removes listeners as `EventEmitter` does, but keeps the connection's own
   * watch on `'message'` listeners: without it a listener added afterwards
   * would find the transport paused, and its messages would wait for the close.
   * So is the watch that hands messages a left loop read ahead to the next
   * `'message'` listener.
   */
  override removeAllListeners(...event: Parameters<EventEmitter<RudpConnectionEvents>['removeAllListeners']>): this {
    super.removeAllListeners(...event);
    watchListeners(this);
    rewatchLeftovers(this);
    updateFlow(this, 0);
    return this;
  }

  /** The peer's address. */
  get remoteAddress(): string {
    return parseAddress(this.core.remote)?.host ?? this.core.remote;
  }

  /** The peer's port: on a server, the client's current one (it follows a NAT rebinding, see `'migrate'`). */
  get remotePort(): number {
    return parseAddress(this.core.remote)?.port ?? 0;
  }

  /** Whether the connection has ended. */
  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /**
   * The server's public key as the handshake proved it (client side; the
   * application may pin or trust it), or `undefined` on a server-side or
   * plaintext connection.
   */
  get serverKey(): Uint8Array | undefined {
    return this.core.role === 'client' ? this.core.peerKey : undefined;
  }

  /** Whether the connection is encrypted and authenticated (false only with `plaintext: true`). */
  get encrypted(): boolean {
    return this.core.isEncrypted;
  }

  /**
   * Keying material bound to this session (RFC 5705 style): both ends get
   * the same bytes for the same `label` and `context`, nobody else can.
   * Throws on a plaintext connection; a `TypeError` (`ERR_INVALID_ARG_TYPE`)
   * for a `label` that is not a string or a `context` that is not a
   * `Uint8Array`, a `RangeError` (`ERR_OUT_OF_RANGE`) for a `length` outside
   * 1 … 8,160 or a label over 249 bytes. If the application's `crypto`
   * provider throws, the connection ends for it (as for any plug-in's fault)
   * and this throws a `RudpError` `ERR_RUDP_PLUGIN_FAILED` whose `cause` is
   * the `PluginFault`.
   */
  exportKeyingMaterial(label: string, context: Uint8Array, length: number): Uint8Array {
    // Checked here: a string or a missing context would otherwise be hashed as whatever node:crypto makes of it.
    if (typeof label !== 'string') throw invalidArgType(`The "label" argument must be a string; received ${describeValue(label)}`);
    if (!(context instanceof Uint8Array)) throw invalidArgType(`The "context" argument must be a Uint8Array; received ${describeValue(context)}`);
    try {
      return this.core.exportKeyingMaterial(label, context, length, this.io.now());
    } catch (e) {
      if (!(e instanceof PluginFault)) throw withNodeCode(e);
      // The application's provider threw: the connection ended for it, as at any other call into it.
      this.io.changed(this.core);
      throw new RudpError('ERR_RUDP_PLUGIN_FAILED', `cannot export keying material: ${e.message}`, { cause: e });
    }
  }

  /** Largest unreliable message (`reliable: false`) `send` takes on `channel`: what one packet carries. Throws for a channel `send` refuses (`ERR_INVALID_ARG_TYPE`, `ERR_OUT_OF_RANGE`). */
  maxDatagramSize(channel = 0): number {
    checkChannel(channel);
    return this.core.maxDatagramSize(channel);
  }

  /** Largest reliable message `send` and `write` take: the peer's receive window less 256 bytes (see the README's Flow control). */
  maxMessageSize(): number {
    return this.core.maxMessageSize();
  }

  /** This connection's receive window, bytes: the endpoint's `receiveWindow`, or more after `raiseReceiveWindow`. */
  get receiveWindow(): number {
    return this.core.receiveWindow();
  }

  /**
   * Grants `bytes` at once: the connection's receive window grows to it if
   * smaller (the peer may then send messages up to it), and so does what it
   * grants of its window (1 MiB of the default 32 MiB until reading earns
   * more); a value at or below what it grants already changes nothing. A server
   * keeps the window of connections it does not trust yet small, since an
   * unfinished message may make it hold that much, and raises it once the
   * peer has proved who it is (the forum server does so at login). Throws as
   * the `receiveWindow` option would: a `RangeError` (`ERR_OUT_OF_RANGE`)
   * outside 1,024 … 2^40 or for a non-integer, a `TypeError`
   * (`ERR_INVALID_ARG_TYPE`) for a non-number.
   */
  raiseReceiveWindow(bytes: number): void {
    try {
      this.core.raiseReceiveWindow(bytes);
    } catch (e) {
      throw withNodeCode(e);
    }
    this.io.changed(this.core);
  }

  /** Bytes of messages sent through this wrapper and not yet acknowledged by the peer (their payload alone). */
  get bufferedAmount(): number {
    return this.buffered;
  }

  /**
   * What the unacknowledged messages cost, in the units of `writableHighWaterMark`: the window
   * credit they take of the peer's receive window (`creditOf`: each message's bytes and
   * `MESSAGE_CREDIT`, 256, more), that is `bufferedAmount` + 256 × messages. Backpressure is
   * measured in it, so a writer of empty or tiny messages is held back too.
   */
  get writableLength(): number {
    return this.buffered + this.unacknowledged * MESSAGE_CREDIT;
  }

  /** True once `writableLength` reached `writableHighWaterMark`, until `'drain'`. */
  get writableNeedDrain(): boolean {
    return this.needDrain;
  }

  /**
   * Sends one message: a string (UTF-8), any `ArrayBufferView` (its bytes) or an
   * `ArrayBuffer`. The bytes are not copied: do not change them until the promise settles.
   * `options.channel` (0 … 255, default 0), `options.ordered` (default true) and
   * `options.reliable` (default true) choose the delivery. Resolves once the peer has
   * acknowledged all of it; an unreliable message (no acknowledgement exists) resolves once
   * queued. Rejects with a `TypeError` (`ERR_INVALID_ARG_TYPE`) for any other input or a bad
   * option, a `RangeError` (`ERR_OUT_OF_RANGE`) for a message larger than `maxMessageSize()`
   * (the peer's receive window less 256 bytes), an unreliable one larger than a packet, or a channel out of range, a `RudpError`
   * if the connection ends first (its `code` says why: `ETIMEDOUT`, `ECONNRESET` or `ERR_RUDP_CLOSED`, never the
   * handshake's `ECONNREFUSED` or `EPROTO`, as `connect` hands the connection over once its handshake completed)
   * or the `signal` aborts (`ABORT_ERR`).
   */
  send(data: MessageData, options?: SendOptions): Promise<void> {
    const bytes = messageBytes(data);
    if (bytes instanceof TypeError) return Promise.reject(bytes);
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      return Promise.reject(invalidArgType('The "options.signal" property must be an AbortSignal'));
    }
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const id = this.queueMessage(bytes, options, 'send');
    // Refused because the connection ended or is ending: it never left, and its error says so (`sent: false`).
    if (id instanceof Error) return Promise.reject(id instanceof RudpError ? sendEndError(id, false) : id);
    if (id < 0) {
      // A datagram: nothing will acknowledge it, so there is nothing to wait for.
      this.io.changed(this.core);
      return Promise.resolve();
    }
    const entry: PendingSend = { bytes: bytes.length, resolve: undefined, reject: undefined, unwatch: undefined };
    const p = new Promise<void>((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    if (signal !== undefined) watchAbort(signal, entry);
    holdUnacknowledged(this, id, entry);
    this.io.changed(this.core);
    return p;
  }

  /** Stops delivering `'message'` events; the sender stalls once the receive window fills. */
  pause(): this {
    this.setHold('user', true);
    return this;
  }

  /** Resumes delivering messages after `pause()`. */
  resume(): this {
    this.setHold('user', false);
    return this;
  }

  /** Whether `pause()` is in effect. */
  isPaused(): boolean {
    return this.holds?.has('user') === true;
  }

  /** Keeps the process alive while this connection is open (the default). */
  ref(): this {
    this.refd = true;
    this.io.setConnectionRef(this.core, true);
    return this;
  }

  /** Lets the process exit while this connection is open (unacknowledged sends are then lost). */
  unref(): this {
    this.refd = false;
    this.io.setConnectionRef(this.core, false);
    return this;
  }

  /** Whether this connection keeps the process alive. */
  hasRef(): boolean {
    return this.refd && !this.closed;
  }

  /**
   * Iterates over messages until the connection closes. Ends after a local or
   * peer close; throws the `RudpError` of a failure (timeout, …). Messages wait
   * in the transport while the loop body runs, holding the peer back.
   * Breaking out of the loop leaves the connection open.
   */
  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return iterateMessages(this);
  }

  /**
   * A byte-stream `Duplex` over this connection, for `pipeline()`: each write is
   * sent as a message, `end()` sends an empty message that ends the peer's
   * readable side. Writes wait for `'drain'` (backpressure); reads hold the
   * peer back. The stream ends with the connection; destroying it with an
   * error destroys the connection. The same stream is returned on every call.
   */
  stream(): Duplex {
    this.duplex ??= new ConnectionStream(this);
    return this.duplex;
  }

  /**
   * Graceful close: queued messages are delivered first. Resolves when closed,
   * and never rejects but for a bad argument (a `TypeError`,
   * `ERR_INVALID_ARG_TYPE`, before anything is done). `options.signal` bounds
   * the wait: aborted before the close finished, it destroys the connection
   * (see `CloseOptions`).
   */
  close(options?: CloseOptions): Promise<void> {
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      return Promise.reject(invalidArgType(`The "options" argument must be an object; received ${describeValue(options)}`));
    }
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      return Promise.reject(invalidArgType(`The "options.signal" property must be an AbortSignal; received ${describeValue(signal)}`));
    }
    if (this.closedWith) return Promise.resolve();
    if (signal?.aborted) {
      this.destroy(CLOSE_ABORTED);
      return this.whenClosed();
    }
    this.core.close(this.io.now());
    this.io.changed(this.core);
    if (signal === undefined || this.closedWith) return this.whenClosed();
    const unwatch = whenAborted(signal, () => this.destroy(CLOSE_ABORTED));
    return new Promise((resolve) =>
      this.closeWaiters.push(() => {
        unwatch();
        resolve();
      }),
    );
  }

  /**
   * `await using conn = await connect(…)`: the connection is closed as
   * `close()` closes it when the scope ends (queued messages are still
   * delivered, bounded by `idleTimeoutMs` if the peer vanished), as
   * `net.Server` and `dgram.Socket` dispose with their `close()`. To bound the
   * wait or drop what is queued, call `close({ signal })` or `destroy()` in the
   * scope; disposing a closed connection does nothing.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Abrupt close: drops queued data and tells the peer `reason` (a string, or
   * an `Error`'s message; anything else: `ERR_INVALID_ARG_TYPE`). A reason
   * over what a CLOSE carries (256 UTF-8 bytes; less with an `mtu` under
   * 544) is cut at a character boundary, and the `'close'` reason here
   * is that same cut text: both ends see one reason.
   */
  destroy(reason: string | Error = 'destroyed'): void {
    const text = destroyReasonText(reason);
    // Set even once the close was reported: its hand-over of held messages, or a loop's read-ahead, may still be going.
    this.destroyedHere = true;
    if (this.closedWith) return;
    this.core.destroy(this.io.now(), 1, text);
    this.io.changed(this.core);
  }

  /** Counters and estimates. */
  stats(): ConnectionStats {
    const before = this.core.state;
    const stats = this.core.stats(this.io.now());
    // The application's controller threw when asked for its window, and the connection ended: its 'close' and its
    // CLOSE go out now, not at its next timer (the keep-alive's, seconds away on an idle connection).
    if (this.core.state !== before) this.io.changed(this.core);
    return stats;
  }

  /**
   * @internal The error the close was, or `undefined` for a local or peer close. A local close a plug-in's fault
   * made is a failure (`ERR_RUDP_PLUGIN_FAILED`, as its `'error'` says): a connect it ends rejects with it, and a
   * stream or a message loop ends with it, not as after a `destroy()`.
   */
  get closeError(): RudpError | undefined {
    const r = this.closedWith;
    return r && ((r.kind !== 'local' && r.kind !== 'peer') || r.cause !== undefined) ? this.closedError : undefined;
  }

  /** @internal Why the connection ended, once it has. */
  get closeReason(): CloseReason | undefined {
    return this.closedWith;
  }

  /** @internal The error a write after the close gets (a send gets it marked `sent: false`). */
  errorAfterClose(): RudpError {
    return this.closedError ?? new RudpError('ERR_RUDP_CLOSED', 'connection closed');
  }

  /**
   * @internal Why a message written now would not be taken: the close's error once closed, `ERR_RUDP_CLOSED`
   * while a `close()` drains (the core refuses sends then), or `undefined`: it would be queued.
   */
  writesRefused(): RudpError | undefined {
    if (this.closedWith) return this.errorAfterClose();
    const state = this.core.state;
    return state === 'handshake' || state === 'established' ? undefined : new RudpError('ERR_RUDP_CLOSED', `rudp: cannot send on a ${state} connection`);
  }

  /** @internal Takes (`on`) or releases a reason to stop taking messages from the transport. */
  setHold(key: Hold, on: boolean): void {
    setMessageHold(this, key, on);
  }

  /** @internal Ends the connection with `error` (the socket reported what the core cannot see). */
  fail(error: RudpError, reason: CloseReason): void {
    if (this.closedWith) return;
    this.failure = { error, reason };
    this.core.destroy(this.io.now(), 1, reason.message);
    this.io.changed(this.core);
  }

  /**
   * Queues one message as `send` does, for a writer that does not wait for each
   * acknowledgement: no promise, so nothing is allocated per message beyond the
   * message itself (64-byte messages on loopback: 0.81 × the CPU per byte of a
   * window of 256 awaited sends, about half that of `send(…).catch(…)` in the
   * same loop, whose promises kept the collector busy). Returns false once `writableLength`
   * (bytes and 256 per message, unacknowledged) reached `writableHighWaterMark`: stop and wait for `'drain'`, as with a Node
   * `Writable`. Throws, as `Writable.write` does, for input it cannot take: a
   * `TypeError` (`ERR_INVALID_ARG_TYPE`) or a `RangeError` (`ERR_OUT_OF_RANGE`).
   * Once the connection is closing or closed it queues nothing and returns false:
   * `'close'` (and `'error'`) tell the writer why, and a `'message'` handler that
   * answers with `write` while the close hands over the last messages does not throw.
   */
  write(data: MessageData, options?: DeliveryOptions): boolean {
    const bytes = messageBytes(data);
    if (bytes instanceof TypeError) throw bytes;
    const id = this.queueMessage(bytes, options, 'write');
    if (typeof id !== 'number') {
      if (id instanceof RudpError) return false;
      throw id;
    }
    // The byte count alone: a small integer in the slot, no object.
    if (id >= 0) holdUnacknowledged(this, id, bytes.length);
    this.io.changed(this.core);
    return !this.needDrain;
  }

  /**
   * Hands `bytes` to the core: its message id (negative for an unreliable message), or the error to report
   * (an option name `call` does not take among them: a misspelt `chanel` would otherwise go to channel 0 unnoticed).
   */
  private queueMessage(bytes: Uint8Array, options: DeliveryOptions | undefined, call: 'send' | 'write'): number | Error {
    if (this.closedWith) return this.errorAfterClose();
    // Checked here, not left to the core: `null` would fail there as a property read of null.
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      return invalidArgType(`The "options" argument must be an object; received ${describeValue(options)}`);
    }
    if (options !== undefined) {
      try {
        checkKnownKeys(options, call === 'send' ? SEND_OPTIONS : DELIVERY_OPTIONS, call);
      } catch (e) {
        return withNodeCode(e) as Error;
      }
    }
    try {
      // No delivery field given (nearly every send): the core's default, without checking an options object.
      return this.core.send(bytes, options === undefined || (options.channel === undefined && options.ordered === undefined && options.reliable === undefined) ? undefined : options);
    } catch (e) {
      if (e instanceof RangeError) return Object.assign(new RangeError(e.message), { code: 'ERR_OUT_OF_RANGE' });
      if (e instanceof TypeError) return invalidArgType(e.message);
      // The core refuses sends once a close started (close() was called and is still draining).
      return new RudpError('ERR_RUDP_CLOSED', e instanceof Error ? e.message : String(e));
    }
  }

  /** @internal */
  whenClosed(): Promise<void> {
    if (this.closedWith) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  /** @internal */
  onMessage(data: Buffer, channel: number): void {
    // Read in the same batch as a message whose listener destroyed the connection: not to be handed over.
    if (this.destroyedHere) return;
    this.emit('message', data, channel);
  }

  /** @internal Messages `id` … `id + count − 1` were acknowledged. */
  onAcked(id: number, count: number): void {
    settleAcknowledged(this, id, count);
  }

  /** @internal The client moved from `previous` to `core.remote` (another port of its host, or another host). */
  onMigrated(previous: string): void {
    const at = parseAddress(previous);
    this.emit('migrate', { address: at?.host ?? previous, port: at?.port ?? 0 });
  }

  /** @internal The core reported the close (messages from id `unsentFrom` on never left): see connection-end.ts. */
  onClosed(coreReason: CloseReason, unsentFrom: number): void {
    reportClosed(this, coreReason, unsentFrom);
  }
}
brand(RudpConnection, 'RudpConnection');
