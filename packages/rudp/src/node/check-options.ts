/**
 * Range checks of the options `listen` and `connect` take, so a typo fails
 * at the call with Node's codes (`ERR_INVALID_ARG_TYPE`, `ERR_OUT_OF_RANGE`)
 * instead of as a connection that silently misbehaves.
 */
import { MAX_DATAGRAM } from '../wire/packet.js';

/** setTimeout's longest delay: a longer timeout would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Range {
  readonly min: number;
  readonly max: number;
  readonly integer?: boolean;
}

/** The allowed range of each numeric option (the README's table lists the same). */
export const OPTION_RANGES: Readonly<Record<string, Range>> = {
  mtu: { min: 128, max: MAX_DATAGRAM, integer: true },
  receiveWindow: { min: 1024, max: 2 ** 30, integer: true },
  maxAckDelayMs: { min: 0, max: 10_000 },
  ackEveryPackets: { min: 1, max: 1_000, integer: true },
  idleTimeoutMs: { min: 1, max: MAX_TIMER_MS },
  keepAliveMs: { min: 0, max: MAX_TIMER_MS },
  handshakeTimeoutMs: { min: 1, max: MAX_TIMER_MS },
  maxPtoMs: { min: 1, max: MAX_TIMER_MS },
  packetThreshold: { min: 1, max: 1_000, integer: true },
  timeThreshold: { min: 1, max: 100 },
  redundantCopies: { min: 0, max: 10, integer: true },
  redundantSpacingMs: { min: 0, max: 10_000 },
  maxConnections: { min: 1, max: 2 ** 32 - 1, integer: true },
  highWaterMark: { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true },
};

/** Ranges of the fields of `redundancy`. */
export const REDUNDANCY_RANGES: Readonly<Record<string, Range>> = {
  maxCopies: { min: 0, max: 10, integer: true },
  maxMessageBytes: { min: 0, max: 2 ** 30, integer: true },
  lossThreshold: { min: 0, max: 1 },
  highLossThreshold: { min: 0, max: 1 },
};

/** Throws a TypeError/RangeError with a Node code for the first option out of its range. */
export function checkTransportOptions(options: object): void {
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const range = OPTION_RANGES[key];
    if (range) checkNumber(`options.${key}`, value, range);
    else if (key === 'congestion' && typeof value !== 'function') throw typeError(`The "options.congestion" property must be a function; received ${typeof value}`);
    else if (key === 'redundancy') {
      if (typeof value !== 'object' || value === null) throw typeError('The "options.redundancy" property must be an object');
      for (const [field, v] of Object.entries(value as object)) {
        const r = REDUNDANCY_RANGES[field];
        if (r && v !== undefined) checkNumber(`options.redundancy.${field}`, v, r);
      }
    }
  }
}

function checkNumber(name: string, value: unknown, range: Range): void {
  if (typeof value !== 'number') throw typeError(`The "${name}" property must be a number; received ${typeof value}`);
  if (Number.isNaN(value) || value < range.min || value > range.max || (range.integer === true && !Number.isInteger(value))) {
    const what = range.integer === true ? 'an integer' : 'a number';
    throw Object.assign(new RangeError(`The "${name}" property must be ${what} from ${range.min} to ${range.max}; received ${value}`), {
      code: 'ERR_OUT_OF_RANGE',
    });
  }
}

function typeError(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_TYPE' });
}
