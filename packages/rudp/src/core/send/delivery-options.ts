/**
 * Per-message delivery options of `Connection.send`, and their checks. The
 * defaults (channel 0, reliable, ordered) are the stream rudp always had,
 * on the wire byte for byte.
 */
import { MAX_CHANNEL } from '../../wire/frame.js';
import { describeValue } from '../config.js';

/** How one message is delivered. */
export interface DeliveryOptions {
  /** Channel 0 … 255 (default 0). Ordered messages of different channels never wait for each other. */
  readonly channel?: number | undefined;
  /**
   * Reliable: delivered in send order within the channel (default true); false: as soon as it is whole.
   * Unreliable: ignored (a datagram is delivered as it arrives).
   */
  readonly ordered?: boolean | undefined;
  /** Resent until acknowledged (default true); false: a datagram, sent once, dropped if lost, at most one packet. */
  readonly reliable?: boolean | undefined;
}

/** Checked options with their defaults filled in. */
export interface Delivery {
  readonly channel: number;
  readonly ordered: boolean;
  readonly reliable: boolean;
}

/** The default delivery. */
export const DEFAULT_DELIVERY: Delivery = { channel: 0, ordered: true, reliable: true };

/** `options` checked, defaults filled in; throws a `TypeError` or `RangeError` naming the bad field. */
export function checkDelivery(options: DeliveryOptions | undefined): Delivery {
  if (options === undefined) return DEFAULT_DELIVERY;
  if (typeof options !== 'object' || options === null) throw new TypeError('rudp: send options must be an object');
  const { channel = 0, ordered = true, reliable = true } = options;
  if (typeof channel !== 'number' || !Number.isInteger(channel)) throw new TypeError(`rudp: options.channel must be an integer, got ${describeValue(channel)}`);
  if (channel < 0 || channel > MAX_CHANNEL) throw new RangeError(`rudp: options.channel must be 0 … ${MAX_CHANNEL}, got ${channel}`);
  if (typeof ordered !== 'boolean') throw new TypeError(`rudp: options.ordered must be a boolean, got ${describeValue(ordered)}`);
  if (typeof reliable !== 'boolean') throw new TypeError(`rudp: options.reliable must be a boolean, got ${describeValue(reliable)}`);
  if (channel === 0 && ordered && reliable) return DEFAULT_DELIVERY;
  return { channel, ordered, reliable };
}
