/**
 * The one error class of the Node API, with Node-style `code`s so callers can
 * branch on `err.code` exactly as they do for `net` and `dgram`.
 */
import { PROTOCOL_VIOLATION } from '../core/connection/close.js';
import type { CloseReason } from '../core/events.js';
import { brand } from './brand.js';

/**
 * Every `code` a `RudpError` carries.
 * - `ECONNREFUSED`: the peer's port is closed (ICMP port unreachable during the handshake), or the
 *   server refused the handshake (at a connection limit, or one end encrypts and the other not).
 * - `ECONNRESET`: the peer went away: it closed abruptly, its port closed on an established connection, or
 *   (close kind `'reset'`) the server no longer knows the connection (a stateless reset: it was restarted).
 * - `ETIMEDOUT`: no answer within `handshakeTimeoutMs`, or nothing heard for `idleTimeoutMs`.
 * - `EPROTO`: `connect` only: the server's authenticated answer to the handshake broke the protocol (an invalid
 *   receive window). No send gets it: `connect` hands a connection over only once its handshake completed.
 * - `ENOTFOUND`, `EAI_AGAIN`, …: the host name did not resolve (the code `dns.lookup` gave).
 * - `EADDRINUSE`, `EACCES`, …: the UDP socket could not be bound (the code `dgram` gave).
 * - `ABORT_ERR`: the `signal` was aborted (the error's `name` is then `'AbortError'`).
 * - `ERR_RUDP_CLOSED`: the connection was closed or destroyed locally, or its server shut down.
 * - `ERR_RUDP_PLUGIN_FAILED`: the application's own `congestion` controller or `crypto` provider threw while the
 *   connection worked, and the connection ended for it (the close reason's `cause`, a `PluginFault`, is the error's
 *   `cause` too, and names the method; its own `cause` is what was thrown).
 */
export type RudpErrorCode =
  | 'ECONNREFUSED'
  | 'ECONNRESET'
  | 'ETIMEDOUT'
  | 'EPROTO'
  | 'ENOTFOUND'
  | 'ABORT_ERR'
  | 'ERR_RUDP_CLOSED'
  | 'ERR_RUDP_PLUGIN_FAILED'
  // The server proved another key than the pinned one (a `ServerKeyMismatchError`).
  | 'ERR_RUDP_SERVER_KEY_MISMATCH'
  // Codes passed through from `dns.lookup` and `dgram` (EAI_AGAIN, EADDRINUSE, …).
  | (string & {});

/** Optional details of a `RudpError`. */
export interface RudpErrorDetails {
  /** Why the connection ended, when it did. */
  readonly reason?: CloseReason;
  /** The underlying error or abort reason. */
  readonly cause?: unknown;
  /**
   * The system call that failed, as on Node's system errors: `getaddrinfo`,
   * `bind`, `connect` for every error of `connect` (a refusal too, as
   * `net.connect` reports `ECONNREFUSED`), and for `ECONNRESET` the socket
   * call that reported it (`send` or `recvmsg`, as the `cause` says).
   */
  readonly syscall?: string;
  /** The host name being resolved or connected to (a name that did not resolve is here, not in `address`, as on `dns.lookup`'s errors). */
  readonly hostname?: string;
  /** The address involved: the server's, or the local one a failed bind names. */
  readonly address?: string;
  /** The port involved. */
  readonly port?: number;
  /** A `send`'s rejection because the connection ended (or is ending): whether any byte of its message left. */
  readonly sent?: boolean;
}

/**
 * An error of the Node API: branch on `code`. `instanceof RudpError` holds
 * for a `RudpError` of any copy of rudpx (its ESM and CommonJS builds both
 * loaded, see `brand.ts`).
 */
export class RudpError extends Error {
  /** A Node-style error code (see `RudpErrorCode`). */
  readonly code: RudpErrorCode;
  /** Why the connection ended, when the error is about an ended connection. */
  readonly reason: CloseReason | undefined;
  /** The failed system call, if any. */
  readonly syscall: string | undefined;
  /** The host name, if any. */
  readonly hostname: string | undefined;
  /** The address, if any. */
  readonly address: string | undefined;
  /** The port, if any. */
  readonly port: number | undefined;
  /**
   * Set on a `send`'s rejection because the connection ended or is ending (`ETIMEDOUT`, `ECONNRESET`,
   * `ERR_RUDP_CLOSED`): `false` when no byte of the message was ever sent (queued behind flow control, the
   * congestion window or earlier messages, or refused as the connection closed), so it cannot have reached
   * the peer and may be sent again on another connection without arriving twice; `true` when some was (one
   * fragment is enough), so it may or may not have arrived. `undefined` on every other error.
   */
  readonly sent: boolean | undefined;

  constructor(code: RudpErrorCode, message: string, details: RudpErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    // Node's own abort errors are named AbortError; code that checks `err.name` should see the same.
    this.name = code === 'ABORT_ERR' ? 'AbortError' : 'RudpError';
    this.code = code;
    this.reason = details.reason;
    this.syscall = details.syscall;
    this.hostname = details.hostname;
    this.address = details.address;
    this.port = details.port;
    this.sent = details.sent;
  }
}
brand(RudpError, 'RudpError');

/** `e` (the close's error) as a `send` pending at the close, or refused by it, rejects with: the same, and whether its message was `sent`. */
export function sendEndError(e: RudpError, sent: boolean): RudpError {
  const { reason, syscall, hostname, address, port } = e;
  const details: RudpErrorDetails = { reason, syscall, hostname, address, port, sent, ...(e.cause === undefined ? {} : { cause: e.cause }) };
  return new RudpError(e.code, e.message, details);
}

/** The error an aborted `signal` produces. */
export function abortError(signal: AbortSignal): RudpError {
  return new RudpError('ABORT_ERR', 'The operation was aborted', { cause: signal.reason });
}

/** The code an operation that was cut short by this close reports. */
export function closeCode(reason: CloseReason): RudpErrorCode {
  switch (reason.kind) {
    case 'timeout':
    case 'unreachable':
      return 'ETIMEDOUT';
    case 'peer':
    case 'reset':
      return 'ECONNRESET';
    case 'refused':
      // A server that answered but broke the protocol did not refuse: a caller that retries a busy server should not retry it.
      return reason.code === PROTOCOL_VIOLATION ? 'EPROTO' : 'ECONNREFUSED';
    case 'local':
      return reason.cause !== undefined ? 'ERR_RUDP_PLUGIN_FAILED' : 'ERR_RUDP_CLOSED';
    case 'shutdown':
      return 'ERR_RUDP_CLOSED';
  }
}

/** Wraps a Node system error (from `dns` or `dgram`) as a `RudpError` with the same code. */
export function fromSystemError(e: unknown, fallbackCode: string, message: string, details: RudpErrorDetails = {}): RudpError {
  const code = e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : fallbackCode;
  const syscall = e instanceof Error && 'syscall' in e && typeof e.syscall === 'string' ? e.syscall : details.syscall;
  const detail = e instanceof Error ? e.message : String(e);
  return new RudpError(code, `${message}: ${detail}`, { ...details, cause: e, ...(syscall !== undefined ? { syscall } : {}) });
}
