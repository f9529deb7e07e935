/**
 * The checks of the options `listen` and `connect` take, so a typo fails at
 * the call with Node's codes (`ERR_INVALID_ARG_TYPE`, `ERR_OUT_OF_RANGE`)
 * instead of as a connection that silently misbehaves. The ranges of the
 * connection options are the core's (`core/config.ts`, one table): this
 * file only adds the Node API's own options and Node's error codes.
 */
import { checkNumber, describeValue, validateConnectionOptions } from '../core/config.js';
import { checkHandshakeRate, checkMaxReceiveBufferBytes } from '../core/endpoint/endpoint-config.js';
import { checkConnectionIds, checkCryptoProvider, checkIdentity, checkServerKey } from '../core/key-options.js';
import { checkDelivery } from '../core/send/delivery-options.js';

/** setTimeout's longest delay: a longer timeout would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Options the Node API passes to the endpoint besides `ConnectionConfig`. */
const ENDPOINT_OPTIONS: readonly string[] = ['maxConnections', 'maxConnectionsPerHost', 'handshakesPerHostPerSecond', 'handshakeBurstPerHost', 'maxReceiveBufferBytes', 'highWaterMark', 'plaintext', 'crypto', 'identity', 'connectionIds', 'socketBatching', 'segmentOffload'];

/** Timers the Node adapter arms with setTimeout: no longer than it can wait. */
const TIMER_OPTIONS: readonly string[] = ['idleTimeoutMs', 'keepAliveMs', 'handshakeTimeoutMs', 'maxPtoMs'];

/**
 * Throws a TypeError (`ERR_INVALID_ARG_TYPE`) or RangeError
 * (`ERR_OUT_OF_RANGE`) for the first option that is unknown or out of range
 * (`serverKey`: `connect`'s pinned key, kept apart from the options the
 * endpoint takes).
 */
export function checkTransportOptions(options: object, serverKey?: unknown): void {
  try {
    validateConnectionOptions(options, ENDPOINT_OPTIONS);
    const o = options as Record<string, unknown>;
    for (const key of TIMER_OPTIONS) if (o[key] !== undefined) checkNumber(key, o[key], { min: 0, max: MAX_TIMER_MS });
    for (const key of ['maxConnections', 'maxConnectionsPerHost']) if (o[key] !== undefined) checkNumber(key, o[key], { min: 1, max: 2 ** 31, integer: true });
    checkHandshakeRate(o['handshakesPerHostPerSecond'], o['handshakeBurstPerHost']);
    if (o['maxReceiveBufferBytes'] !== undefined) checkMaxReceiveBufferBytes(o['maxReceiveBufferBytes']);
    if (o['highWaterMark'] !== undefined) checkNumber('highWaterMark', o['highWaterMark'], { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
    for (const key of ['plaintext', 'socketBatching', 'segmentOffload']) {
      if (o[key] !== undefined && typeof o[key] !== 'boolean') throw new TypeError(`rudp: option '${key}' must be a boolean`);
    }
    // Checked here, before a socket is bound: the endpoint's own checks would throw with the socket open.
    const plaintext = o['plaintext'] === true;
    checkCryptoProvider(o['crypto']);
    checkIdentity(o['identity'], plaintext);
    checkServerKey(serverKey, plaintext);
    checkConnectionIds(o['connectionIds']);
  } catch (e) {
    throw withNodeCode(e);
  }
}

/** A `TypeError` with Node's code for an argument of the wrong type (`ERR_INVALID_ARG_TYPE`). */
export function invalidArgType(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_TYPE' });
}

/** `e` with Node's code for an argument check's error: `ERR_OUT_OF_RANGE` on a RangeError, `ERR_INVALID_ARG_TYPE` on a TypeError. */
export function withNodeCode(e: unknown): unknown {
  if (e instanceof RangeError) return Object.assign(e, { code: 'ERR_OUT_OF_RANGE' });
  if (e instanceof TypeError) return Object.assign(e, { code: 'ERR_INVALID_ARG_TYPE' });
  return e;
}

/**
 * The text a `destroy(reason)` sends in its CLOSE and reports as the close
 * reason's `message`: a string as given, an `Error`'s message (as Node's
 * `socket.destroy(error)` takes one). Anything else is a `TypeError`
 * (`ERR_INVALID_ARG_TYPE`): it used to become the `message` as it was, an
 * object where the type promises a string.
 */
export function destroyReasonText(reason: unknown): string {
  if (typeof reason === 'string') return reason;
  if (reason instanceof Error) return reason.message;
  throw invalidArgType(`The "reason" argument must be a string or an Error; received ${describeValue(reason)}`);
}

/**
 * Throws, with Node's codes, for a `channel` argument `send` would refuse: a
 * `TypeError` (`ERR_INVALID_ARG_TYPE`) for a non-integer, a `RangeError`
 * (`ERR_OUT_OF_RANGE`) outside 0 … 255.
 */
export function checkChannel(channel: unknown): void {
  try {
    checkDelivery({ channel: channel as number });
  } catch (e) {
    throw withNodeCode(e);
  }
}
