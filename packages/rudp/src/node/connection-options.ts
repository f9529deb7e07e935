/**
 * The options a `RudpConnection` takes: of the wrapper itself (its
 * high-water mark), of one `send`, and of `close`.
 */
import type { DeliveryOptions } from '../core/send/delivery-options.js';

/** Default `highWaterMark`: 1 MiB of unacknowledged window credit, a few round trips of a fast path. */
export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;

/** Options of the Node wrapper (not of the transport). */
export interface ConnectionOptions {
  /**
   * `writableNeedDrain` turns true once `writableLength` (unacknowledged bytes, and
   * `MESSAGE_CREDIT`, 256, more per message) reaches this; `'drain'` follows when it
   * falls to half. Default 1 MiB (1,048,576); any integer ≥ 1.
   */
  readonly highWaterMark?: number | undefined;
}

/**
 * Options of `send`. `channel`, `ordered` and `reliable` choose the delivery
 * (see `DeliveryOptions`): default channel 0, reliable and ordered.
 */
export interface SendOptions extends DeliveryOptions {
  /**
   * Stops waiting for the acknowledgement: the promise rejects with an `AbortError`
   * (`code` `ABORT_ERR`). A message already queued may still be delivered (the stream is ordered and
   * cannot skip it); an already aborted signal rejects before anything is queued.
   */
  readonly signal?: AbortSignal | undefined;
}

/** The option names `write` takes (its `DeliveryOptions`): any other is refused, not ignored. */
export const DELIVERY_OPTIONS = ['channel', 'ordered', 'reliable'] as const satisfies readonly (keyof DeliveryOptions)[];

/** The option names `send` takes. */
export const SEND_OPTIONS = [...DELIVERY_OPTIONS, 'signal'] as const satisfies readonly (keyof SendOptions)[];

/** Options of `close`. */
export interface CloseOptions {
  /**
   * Stops waiting for the graceful close: if it aborts before the close
   * finished (the queued messages acknowledged), the connection is destroyed
   * as `destroy('close aborted')` does (the peer is told, pending sends reject
   * with `ERR_RUDP_CLOSED`) and `close` resolves. An already aborted signal
   * destroys at once. For a peer that vanished without a word, which would
   * otherwise hold the close for `idleTimeoutMs`.
   */
  readonly signal?: AbortSignal | undefined;
}
