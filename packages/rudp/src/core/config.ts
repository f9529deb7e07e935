/**
 * Tuning knobs of a connection, with the defaults that the benchmark
 * justifies (see bench/results/latest.md), and their validation: every
 * field is range-checked when an endpoint or connection is created, and an
 * unknown option name is refused (a misspelt option must not be ignored).
 */
import { CHACHA20_POLY1305_LIMITS } from '../crypto/aead-limits.js';
import { Bbr } from './congestion/bbr.js';
import type { CongestionControllerFactory } from './congestion/controller.js';
import { MIN_RECEIVE_WINDOW } from './credit.js';
import { MAX_DATAGRAM, MAX_PROBED_DATAGRAM } from '../wire/packet.js';
import { MAX_RECEIVE_WINDOW } from '../wire/frame.js';

/** Per-connection settings. */
export interface ConnectionConfig {
  /** Base datagram size, bytes (128–1200): every datagram starts at it, and falls back to it on a path MTU black hole. */
  readonly mtu: number;
  /**
   * Largest datagram path MTU discovery probes for, bytes (128–1472; at or below `mtu`: no discovery).
   * Default 1472, a 1500-byte MTU less IPv4 and UDP headers; the Node API lowers it to 1452 on IPv6 sockets.
   */
  readonly maxDatagramSize: number;
  /** Bytes of whole messages the peer may have outstanding beyond what the app has read, each counted `MESSAGE_CREDIT` (256) longer; the largest message is 256 bytes less. */
  readonly receiveWindow: number;
  /**
   * Most bytes of unreliable messages (datagrams) waiting to leave, each counted `MESSAGE_CREDIT` (256)
   * longer; past it the oldest give way (`datagramsDiscarded` in the stats). Default 1 MiB.
   */
  readonly datagramSendBuffer: number;
  /** Longest we hold back an ACK hoping to piggyback it on data, ms. */
  readonly maxAckDelayMs: number;
  /** ACK at once after this many ack-eliciting packets. */
  readonly ackEveryPackets: number;
  /** Close when nothing arrives from the peer for this long, ms. */
  readonly idleTimeoutMs: number;
  /**
   * Send a PING when nothing ack-eliciting was sent and nothing received for
   * this long, ms (0: never); never longer than half of `idleTimeoutMs`
   * (see `keepAliveInterval`).
   */
  readonly keepAliveMs: number;
  /** `connect` gives up after this long without an answer, ms. */
  readonly handshakeTimeoutMs: number;
  /** Cap of the exponentially backed-off probe timeout, ms. */
  readonly maxPtoMs: number;
  /** A packet is lost once one this many numbers newer is acknowledged. */
  readonly packetThreshold: number;
  /** …or once it is older than this multiple of the RTT when a newer one is acknowledged. */
  readonly timeThreshold: number;
  /**
   * Extra copies sent of each retransmitted one-packet message (small-message latency under loss).
   * With redundancy on, the measured loss pattern adjusts it: none while losses come alone between
   * `highLossThreshold` and 25 % (repairs rebuild most losses; a copy is then bytes for nothing), one
   * more, 15 ms apart, while they come in runs (the resend may fall in the same run).
   */
  readonly redundantCopies: number;
  /** Delay between a retransmission and its redundant copy, ms (spreads them over a loss burst). */
  readonly redundantSpacingMs: number;
  /**
   * Packets sealed with one key before a key update starts (RFC 9001 §6, integer 32–2^23; plaintext
   * connections have no keys). Default 2^23 (`KEY_UPDATE_AFTER_PACKETS`), AES-GCM's confidentiality limit;
   * only lower values are taken, so the option can make keys change sooner, never later. A lower value
   * exercises key updates on short connections (a test, or a staging run before production crosses
   * 2^23 packets, 10–12 GB). Either way the next update waits until the previous keys were discarded, three
   * probe timeouts after the last one (RFC 9001 §6.5), so on a fast path the interval may be longer.
   */
  readonly keyUpdateAfterPackets: number;
  /** Congestion controller factory. */
  readonly congestion: CongestionControllerFactory;
  /** Proactive redundancy for small messages on lossy paths: repairs and tail copies. */
  readonly redundancy: RedundancyConfig;
}

/**
 * When and how much redundancy small messages get. Packets of new data carry
 * a REPAIR over the small messages still unacknowledged (see
 * core/repair/repair-code.ts); the last small messages before the sender falls
 * silent get tail copies instead, as nothing follows them to carry repairs.
 */
export interface RedundancyConfig {
  /** Most tail copies of one message (0 turns all redundancy, repairs included, off). */
  readonly maxCopies: number;
  /** Tail copies go to messages up to this size, repairs to those up to min(this, 255 bytes). */
  readonly maxMessageBytes: number;
  /** Measured loss rate from which repairs and one tail copy are sent. */
  readonly lossThreshold: number;
  /** Measured loss rate from which every packet of new data carries a repair (below it, a proportional share) and `maxCopies` tail copies are sent. */
  readonly highLossThreshold: number;
  /**
   * Latency bought with bytes (0–1): from `highLossThreshold` on, this share of the packets of new
   * data also carries a copy of the previous small message, a second repair symbol. One repair per
   * packet cannot rebuild two messages lost in a row until two more packets arrived; with the copy
   * the next packet rebuilds both. Default (not set): by the measured loss rate, 0 up to 10 %, rising
   * to ½ at 15 % and above, and 0 where losses come in runs (the copy would fall in the same run):
   * sized to stay within KCP flush's bytes on the bench's chat (64 B every 20 ms, RTT 70 ms), where
   * it brings p99 at 20 % loss from ~0.6 to ~0.52 × KCP flush's. At 1, p99 at 10 % / 20 % loss is
   * ~0.5 / 0.45 × KCP flush's, for ~1.2 / 1.1 × its bytes on the wire.
   */
  readonly previousCopyShare?: number;
}

/** Default `datagramSendBuffer`: 1 MiB, quinn's `datagram_send_buffer_size`. */
export const DEFAULT_DATAGRAM_SEND_BUFFER = 1024 * 1024;

/** Default `keyUpdateAfterPackets`, and the largest taken: 2^23, the suite's update point (crypto/aead-limits.ts says why). */
export const KEY_UPDATE_AFTER_PACKETS = CHACHA20_POLY1305_LIMITS.updateAfterPackets;

/** Smallest `keyUpdateAfterPackets`: nothing needs keys changed more often, and a key derivation every few packets would weigh on the send path. */
export const MIN_KEY_UPDATE_AFTER_PACKETS = 32;

/** The defaults (frozen: a change from outside would skip validation and reach every endpoint made after it). */
export const DEFAULT_CONNECTION_CONFIG: ConnectionConfig = Object.freeze<ConnectionConfig>({
  mtu: MAX_DATAGRAM,
  maxDatagramSize: MAX_PROBED_DATAGRAM,
  receiveWindow: 32 * 1024 * 1024,
  datagramSendBuffer: DEFAULT_DATAGRAM_SEND_BUFFER,
  maxAckDelayMs: 25,
  ackEveryPackets: 2,
  // QUIC's practice: a 30 s idle timeout (quic-go's default) and, when keep-alive is on, a PING after
  // half of it (quic-go's period): traffic every 10 s then needs no PING at all, and a vanished peer is
  // still noticed within 30 s.
  idleTimeoutMs: 30_000,
  keepAliveMs: 15_000,
  handshakeTimeoutMs: 5_000,
  maxPtoMs: 2_000,
  packetThreshold: 3,
  timeThreshold: 9 / 8,
  redundantCopies: 1,
  redundantSpacingMs: 3,
  keyUpdateAfterPackets: KEY_UPDATE_AFTER_PACKETS,
  congestion: (mtu) => new Bbr(mtu),
  redundancy: Object.freeze({ maxCopies: 2, maxMessageBytes: 256, lossThreshold: 0.02, highLossThreshold: 0.05 }),
});

/**
 * How long a connection stays silent before it sends a keep-alive PING, ms
 * (`Infinity`: never): `keepAliveMs`, but at most half of the idle timeout,
 * as quic-go caps its keep-alive period, so lowering `idleTimeoutMs` alone
 * cannot let a live but quiet connection time out.
 */
export function keepAliveInterval(config: Pick<ConnectionConfig, 'keepAliveMs' | 'idleTimeoutMs'>): number {
  if (config.keepAliveMs <= 0) return Number.POSITIVE_INFINITY;
  return Math.min(config.keepAliveMs, config.idleTimeoutMs / 2);
}

/** Smallest `mtu` accepted: room for the header, an ACK and a fragment with some data. */
export const MIN_MTU = 128;

/** An allowed range: `[min, max]`, whole numbers only if `integer`. */
interface NumberRule {
  readonly min: number;
  readonly max: number;
  readonly integer?: boolean;
}

const MS_MAX = 86_400_000;

/** The range of every numeric field of `ConnectionConfig`. */
const CONNECTION_RULES: Readonly<Record<Exclude<keyof ConnectionConfig, 'congestion' | 'redundancy'>, NumberRule>> = {
  mtu: { min: MIN_MTU, max: MAX_DATAGRAM, integer: true },
  maxDatagramSize: { min: MIN_MTU, max: MAX_PROBED_DATAGRAM, integer: true },
  receiveWindow: { min: MIN_RECEIVE_WINDOW, max: MAX_RECEIVE_WINDOW, integer: true },
  datagramSendBuffer: { min: 0, max: 2 ** 40, integer: true },
  maxAckDelayMs: { min: 0, max: 16_383 },
  ackEveryPackets: { min: 1, max: 1_000, integer: true },
  idleTimeoutMs: { min: 1, max: MS_MAX },
  keepAliveMs: { min: 0, max: MS_MAX },
  handshakeTimeoutMs: { min: 1, max: MS_MAX },
  maxPtoMs: { min: 1, max: MS_MAX },
  packetThreshold: { min: 1, max: 1_000, integer: true },
  timeThreshold: { min: 1, max: 100 },
  redundantCopies: { min: 0, max: 16, integer: true },
  redundantSpacingMs: { min: 0, max: 60_000 },
  keyUpdateAfterPackets: { min: MIN_KEY_UPDATE_AFTER_PACKETS, max: KEY_UPDATE_AFTER_PACKETS, integer: true },
};

const REDUNDANCY_RULES: Readonly<Record<keyof RedundancyConfig, NumberRule>> = {
  maxCopies: { min: 0, max: 16, integer: true },
  maxMessageBytes: { min: 0, max: 65_536, integer: true },
  lossThreshold: { min: 0, max: 1 },
  highLossThreshold: { min: 0, max: 1 },
  previousCopyShare: { min: 0, max: 1 },
};

/** Redundancy fields that may be left out (their default applies). */
const OPTIONAL_REDUNDANCY: readonly string[] = ['previousCopyShare'];

/** Names every `ConnectionConfig` field may take. */
export const CONNECTION_CONFIG_KEYS: readonly string[] = [...Object.keys(CONNECTION_RULES), 'congestion', 'redundancy'];

/**
 * Throws a `TypeError` or `RangeError` naming the field and what it allows
 * if `value` breaks `rule`.
 */
export function checkNumber(field: string, value: unknown, rule: NumberRule): void {
  const allowed = `${rule.integer === true ? 'an integer' : 'a number'} from ${rule.min} to ${rule.max}`;
  if (typeof value !== 'number') throw new TypeError(`rudp: option '${field}' must be ${allowed} (got ${describeValue(value)})`);
  if (!(value >= rule.min && value <= rule.max) || (rule.integer === true && !Number.isInteger(value))) {
    throw new RangeError(`rudp: option '${field}' must be ${allowed} (got ${value})`);
  }
}

/** Throws as the `receiveWindow` option would for `value` (`raiseReceiveWindow` takes the same range). */
export function checkReceiveWindow(value: unknown): void {
  checkNumber('receiveWindow', value, CONNECTION_RULES.receiveWindow);
}

/** Throws a `TypeError` for any key of `options` not in `known`, suggesting the nearest match. */
export function checkKnownKeys(options: object, known: readonly string[], what: string): void {
  // for…in, not Object.keys: no array per call (send and write check their options per message).
  for (const key in options) {
    if (known.includes(key) || !Object.hasOwn(options, key)) continue;
    const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
    throw new TypeError(`rudp: unknown ${what} option '${key}'${near !== undefined ? ` (did you mean '${near}'?)` : ''}`);
  }
}

/**
 * Checks a partial connection configuration (what a caller passes): every
 * field present must be in range, and no unknown name may appear.
 * `extraKeys` are names the caller handles itself (endpoint options).
 */
export function validateConnectionOptions(options: object, extraKeys: readonly string[] = []): void {
  checkKnownKeys(options, [...CONNECTION_CONFIG_KEYS, ...extraKeys], 'connection');
  const o = options as Record<string, unknown>;
  for (const [field, rule] of Object.entries(CONNECTION_RULES)) if (o[field] !== undefined) checkNumber(field, o[field], rule);
  if (o['congestion'] !== undefined && typeof o['congestion'] !== 'function') {
    throw new TypeError(`rudp: option 'congestion' must be a function (mtu) => CongestionController (got ${describeValue(o['congestion'])})`);
  }
  if (o['congestion'] !== undefined) checkControllerFactory(o['congestion'] as CongestionControllerFactory, (o['mtu'] as number | undefined) ?? DEFAULT_CONNECTION_CONFIG.mtu);
  const r = o['redundancy'];
  if (r !== undefined) {
    if (typeof r !== 'object' || r === null) throw new TypeError(`rudp: option 'redundancy' must be an object (got ${describeValue(r)})`);
    checkKnownKeys(r, Object.keys(REDUNDANCY_RULES), 'redundancy');
    const ro = r as Record<string, unknown>;
    for (const [field, rule] of Object.entries(REDUNDANCY_RULES)) {
      if (ro[field] === undefined && OPTIONAL_REDUNDANCY.includes(field)) continue;
      checkNumber(`redundancy.${field}`, ro[field], rule);
    }
  }
}

/** `value` as an error message names it: a string quoted, so `'1'` does not read as the number 1. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/** What a `CongestionController` must have: each is called on every packet, ACK or loss. */
const CONTROLLER_METHODS: readonly string[] = ['window', 'pacingRate', 'onPacketSent', 'onAck', 'onLoss', 'onSpuriousLoss'];

/**
 * Factories whose controller passed `checkControllerFactory`: each is called for the check once, not
 * at every check of options that carry it (the Node API checks them, then its endpoint again, for every
 * `connect`: a factory counting its controllers counted three a connection).
 */
const CHECKED_FACTORIES = new WeakSet<CongestionControllerFactory>();

/**
 * Makes one controller with `factory` (the first time it is seen) and throws a `TypeError` unless it has
 * every method: a factory returning something else (null, a class instead of an instance) used to be found
 * out on a connection's first packet, as an exception thrown out of the endpoint's poll, per connection
 * (attack round 31).
 */
function checkControllerFactory(factory: CongestionControllerFactory, mtu: number): void {
  if (CHECKED_FACTORIES.has(factory)) return;
  const cc: unknown = factory(mtu);
  const missing = typeof cc === 'object' && cc !== null ? CONTROLLER_METHODS.find((m) => typeof (cc as Record<string, unknown>)[m] !== 'function') : 'window';
  if (missing !== undefined) throw new TypeError(`rudp: option 'congestion' must return a CongestionController (got ${describeValue(cc)}, without a method '${missing}')`);
  CHECKED_FACTORIES.add(factory);
}
