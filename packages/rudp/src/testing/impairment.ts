import type { RandomSource } from '../core/sans-io.js';
import { randomChance, randomFloat, randomInt } from './prng.js';

/** Gilbert–Elliott burst loss: losses come in runs of this mean length. */
export interface BurstConfig {
  /** Mean number of consecutive datagrams lost per burst (≥ 1). */
  readonly meanBurstLength: number;
}

/**
 * Impairments of one direction of a link. Every field is optional; an unset
 * field means "no impairment of that kind". Probabilities are in [0, 1].
 *
 * Order applied to each datagram: MTU check → bottleneck queue
 * (serialization at `bandwidthBps`, drop-tail at `queueBytes`) → loss →
 * propagation delay ± jitter (+ reordering hold) → duplication → truncation →
 * corruption. Lost datagrams have already used the bottleneck, as on a real
 * lossy radio link, so the loss-free limit of goodput is `B·(1−loss)`.
 *
 * By default jitter never reorders: like a real FIFO link, a datagram is
 * never delivered before the previous one on the same link, and only
 * `reorder` reorders. With `jitterMode: 'independent'` each datagram's delay
 * is drawn on its own, so jitter reorders too, as on multi-path routes,
 * Wi-Fi and cellular links with link-layer retransmission, or a relay.
 */
export interface LinkConfig {
  /** One-way propagation delay, ms. */
  readonly delayMs?: number;
  /** Delay varies uniformly in `delayMs ± jitterMs` (never below 0). */
  readonly jitterMs?: number;
  /**
   * `fifo` (default): a datagram never overtakes the one before it, jitter
   * only bunches them. `independent`: each datagram's delay is drawn
   * independently, so a later datagram with a shorter delay arrives first.
   */
  readonly jitterMode?: JitterMode;
  /** Probability a datagram is lost (the long-run rate when `burst` is set). */
  readonly loss?: number;
  /** Turns independent loss into Gilbert–Elliott burst loss. */
  readonly burst?: BurstConfig;
  /** Probability a datagram is delivered twice (the copy right behind the original). */
  readonly duplicate?: number;
  /**
   * Probability a datagram is held back by an extra delay, uniform in
   * (0, `reorderDelayMs`], and leaves the FIFO order, so later datagrams overtake it.
   */
  readonly reorder?: number;
  /** Largest extra hold for a reordered datagram, ms. Default: max(`delayMs`, 10). */
  readonly reorderDelayMs?: number;
  /**
   * A fixed extra hold for a reordered datagram, ms, instead of the uniform
   * one of `reorderDelayMs` (e.g. `reorder: 0.1, reorderHoldMs: 25`: one
   * datagram in ten arrives 25 ms late, so every datagram sent in those
   * 25 ms overtakes it; the reordering depth is the send rate × the hold).
   */
  readonly reorderHoldMs?: number;
  /** Probability 1 to 3 distinct random bits of a datagram are flipped. */
  readonly corrupt?: number;
  /** Probability a datagram is cut to a random shorter length (0 … length−1). */
  readonly truncate?: number;
  /** Datagrams longer than this many bytes are dropped. */
  readonly mtu?: number;
  /** Bottleneck rate in bits per second; datagrams queue for serialization. */
  readonly bandwidthBps?: number;
  /** Bottleneck queue capacity in bytes (drop-tail); unbounded when unset. Needs `bandwidthBps`. */
  readonly queueBytes?: number;
  /**
   * Header bytes below the datagram that the bottleneck also carries, per
   * datagram (28 for IPv4 + UDP, 48 for IPv6 + UDP): they take serialization
   * time and queue space, as on a real link, so small datagrams pay for
   * their count. Default 0 (only the UDP payload is charged).
   */
  readonly headerBytes?: number;
}

/** How jitter treats order: see `LinkConfig.jitterMode`. */
export type JitterMode = 'fifo' | 'independent';

/** Counters of one link direction (or a sum of several). */
export interface LinkStats {
  readonly sentDatagrams: number;
  readonly sentBytes: number;
  readonly deliveredDatagrams: number;
  readonly deliveredBytes: number;
  /** Dropped by random (or burst) loss. */
  readonly droppedLoss: number;
  /** Dropped because the bottleneck queue was full. */
  readonly droppedQueue: number;
  /** Dropped for exceeding the MTU. */
  readonly droppedMtu: number;
  /** Dropped because nobody was listening at the destination. */
  readonly droppedNoRoute: number;
  /** Extra copies created. */
  readonly duplicated: number;
  /** Deliveries with flipped bits. */
  readonly corrupted: number;
  /** Deliveries cut short. */
  readonly truncated: number;
  /** Datagrams held back out of FIFO order. */
  readonly reordered: number;
}

/** A writable `LinkStats`, for the code that keeps the counts. */
export type MutableLinkStats = { -readonly [K in keyof LinkStats]: number };

/** All-zero counters. */
export function emptyLinkStats(): MutableLinkStats {
  return {
    sentDatagrams: 0,
    sentBytes: 0,
    deliveredDatagrams: 0,
    deliveredBytes: 0,
    droppedLoss: 0,
    droppedQueue: 0,
    droppedMtu: 0,
    droppedNoRoute: 0,
    duplicated: 0,
    corrupted: 0,
    truncated: 0,
    reordered: 0,
  };
}

/** Adds `b` into `a` field by field and returns `a`. */
export function addLinkStats(a: MutableLinkStats, b: LinkStats): MutableLinkStats {
  for (const key of Object.keys(a) as (keyof LinkStats)[]) a[key] += b[key];
  return a;
}

/** Why a `LinkConfig` is invalid, or `undefined` when it is valid. */
export function validateLinkConfig(config: LinkConfig): string | undefined {
  const probabilities = ['loss', 'duplicate', 'reorder', 'corrupt', 'truncate'] as const;
  for (const key of probabilities) {
    const v = config[key];
    if (v !== undefined && !(v >= 0 && v <= 1)) return `${key} must be a probability in [0, 1], got ${v}`;
  }
  const nonNegative = ['delayMs', 'jitterMs', 'reorderDelayMs', 'reorderHoldMs', 'mtu', 'queueBytes', 'headerBytes'] as const;
  for (const key of nonNegative) {
    const v = config[key];
    if (v !== undefined && !(v >= 0 && Number.isFinite(v))) return `${key} must be a finite number ≥ 0, got ${v}`;
  }
  if (config.bandwidthBps !== undefined && !(config.bandwidthBps > 0 && Number.isFinite(config.bandwidthBps))) {
    return `bandwidthBps must be a finite number > 0, got ${config.bandwidthBps}`;
  }
  if (config.jitterMode !== undefined && config.jitterMode !== 'fifo' && config.jitterMode !== 'independent') {
    return `jitterMode must be 'fifo' or 'independent', got ${String(config.jitterMode)}`;
  }
  if (config.burst !== undefined && !(config.burst.meanBurstLength >= 1 && Number.isFinite(config.burst.meanBurstLength))) {
    return `burst.meanBurstLength must be a finite number ≥ 1, got ${config.burst.meanBurstLength}`;
  }
  return undefined;
}

/** One copy of a datagram to hand over at time `at`. */
export interface Delivery {
  readonly at: number;
  readonly data: Uint8Array;
}

/**
 * The impairment state machine of one link direction: its own PRNG stream,
 * Gilbert–Elliott state, bottleneck queue and FIFO horizon. Pure: time is
 * passed in and the caller schedules the returned deliveries.
 */
export class LinkImpairment {
  /** Counters; the caller adds deliveries and no-route drops. */
  readonly stats: MutableLinkStats = emptyLinkStats();
  private cfg: LinkConfig;
  private inBadState = false;
  private busyUntil = 0;
  private fifoHorizon = -Infinity;

  /** Throws `RangeError` on an invalid config (a programming error in a test or benchmark). */
  constructor(
    config: LinkConfig,
    private readonly rng: RandomSource,
  ) {
    this.cfg = checkedLinkConfig(config);
  }

  /** The current config. */
  get config(): LinkConfig {
    return this.cfg;
  }

  /** Replaces the config, keeping the PRNG stream, queue and burst state. */
  set config(config: LinkConfig) {
    this.cfg = checkedLinkConfig(config);
  }

  /**
   * Passes one datagram sent at `now` through the link. Returns the copies to
   * deliver (none if dropped, two if duplicated), each a fresh copy of `data`.
   */
  transmit(now: number, data: Uint8Array): Delivery[] {
    const cfg = this.cfg;
    const stats = this.stats;
    const len = data.length;
    stats.sentDatagrams++;
    stats.sentBytes += len;
    if (cfg.mtu !== undefined && len > cfg.mtu) {
      stats.droppedMtu++;
      return [];
    }
    let departure = now;
    const bps = cfg.bandwidthBps;
    if (bps !== undefined) {
      const linkLen = len + (cfg.headerBytes ?? 0);
      const backlogMs = Math.max(0, this.busyUntil - now);
      if (cfg.queueBytes !== undefined && (backlogMs * bps) / 8000 + linkLen > cfg.queueBytes) {
        stats.droppedQueue++;
        return [];
      }
      this.busyUntil = Math.max(now, this.busyUntil) + (linkLen * 8000) / bps;
      departure = this.busyUntil;
    }
    if (this.lost()) {
      stats.droppedLoss++;
      return [];
    }
    const delay = cfg.delayMs ?? 0;
    const jitter = cfg.jitterMs ?? 0;
    let at = departure + delay + (jitter > 0 ? (randomFloat(this.rng) * 2 - 1) * jitter : 0);
    if (at < departure) at = departure;
    if (randomChance(this.rng, cfg.reorder ?? 0)) {
      // The fixed hold draws no number, so the uniform hold's stream (and every seeded result) is unchanged.
      at += cfg.reorderHoldMs ?? (cfg.reorderDelayMs ?? Math.max(delay, 10)) * (1 - randomFloat(this.rng));
      stats.reordered++;
    } else if (cfg.jitterMode !== 'independent') {
      if (at < this.fifoHorizon) at = this.fifoHorizon;
      this.fifoHorizon = at;
    }
    const first: Delivery = { at, data: this.mangle(data.slice()) };
    if (!randomChance(this.rng, cfg.duplicate ?? 0)) return [first];
    stats.duplicated++;
    return [first, { at, data: this.mangle(data.slice()) }];
  }

  private lost(): boolean {
    const loss = this.cfg.loss ?? 0;
    const burst = this.cfg.burst;
    if (burst === undefined || loss <= 0 || loss >= 1) return randomChance(this.rng, loss);
    // Gilbert–Elliott with a lossless Good state and an always-losing Bad
    // state: mean stay in Bad is 1/r, long-run loss is p/(p+r).
    const r = 1 / burst.meanBurstLength;
    const p = Math.min(1, (loss * r) / (1 - loss));
    if (this.inBadState) {
      if (randomFloat(this.rng) < r) this.inBadState = false;
    } else if (randomFloat(this.rng) < p) {
      this.inBadState = true;
    }
    return this.inBadState;
  }

  private mangle(copy: Uint8Array): Uint8Array {
    let out = copy;
    if (out.length > 0 && randomChance(this.rng, this.cfg.truncate ?? 0)) {
      out = out.slice(0, randomInt(this.rng, 0, out.length));
      this.stats.truncated++;
    }
    if (out.length > 0 && randomChance(this.rng, this.cfg.corrupt ?? 0)) {
      flipDistinctBits(this.rng, out, Math.min(out.length * 8, randomInt(this.rng, 1, 4)));
      this.stats.corrupted++;
    }
    return out;
  }
}

/** Returns `config` if valid; throws `RangeError` naming the problem otherwise. */
export function checkedLinkConfig(config: LinkConfig): LinkConfig {
  const problem = validateLinkConfig(config);
  if (problem !== undefined) throw new RangeError(`invalid link config: ${problem}`);
  return config;
}

/** Flips `count` distinct bits, so the bytes always change. */
function flipDistinctBits(rng: RandomSource, bytes: Uint8Array, count: number): void {
  const bits = bytes.length * 8;
  const chosen: number[] = [];
  while (chosen.length < count) {
    const bit = randomInt(rng, 0, bits);
    if (chosen.includes(bit)) continue;
    chosen.push(bit);
    const i = bit >> 3;
    bytes[i] = bytes[i]! ^ (1 << (bit & 7));
  }
}
