/**
 * The default controller: a compact BBR (Cardwell et al., 2016). It models
 * the path as a bottleneck bandwidth (windowed maximum of delivery-rate
 * samples) and a minimum RTT, paces at a gain times that bandwidth and caps
 * the flight at a gain times their product. It does not treat loss as a
 * congestion signal, which is what keeps goodput near B·(1−p) under 10–30%
 * random loss where a loss-based controller (Reno, CUBIC) collapses; pacing
 * at the measured rate keeps the bottleneck queue short instead.
 *
 * STARTUP also ends as soon as a run of RTT samples sits clearly above the
 * path's minimum (after HyStart++'s delay test, RFC 9406 §4.2): the
 * bottleneck queue is then filling, and waiting for BBR's three flat rounds
 * would overflow a shallow buffer by more than the BDP.
 */
import type { AckSample, CongestionController } from './controller.js';
import { emptyArray, pushOnto } from '../shared-empty.js';

const STARTUP_GAIN = 2 / Math.LN2; // 2.885: doubles the rate each round
const PROBE_GAINS = [1.25, 0.75, 1, 1, 1, 1, 1, 1] as const;
const BW_WINDOW_ROUNDS = 10;
// 2 (as in BBRv1) overflows shallow bottleneck queues such as the 64 KB one of the benchmark; 1.5 keeps the queue under half a BDP.
const PROBE_CWND_GAIN = 1.5;
/** Default initial window, packets: quiche's value. STARTUP paces it out; it is not one burst. */
export const DEFAULT_INITIAL_WINDOW_PACKETS = 32;
/**
 * RTT samples in a row that must sit above the delay threshold to end STARTUP. Path jitter
 * alone puts single samples there often; two dozen in a row means a queue is building.
 */
const DELAY_EXIT_SAMPLES = 24;

/** Weight the loss-rate average keeps per packet's worth of acknowledged or lost bytes. */
const LOSS_KEEP = 0.98;
/** Loss compensated for at most (1 / (1 − 0.3) ≈ 1.43× the delivery rate). */
const MAX_COMPENSATED_LOSS = 0.3;
/** Smoothed RTT above this multiple of min RTT (and `QUEUE_FLOOR_TICKS` ticks above it) means loss is congestion, not noise. */
const CONGESTED_RTT_RATIO = 1.25;
/**
 * Driver ticks (`SEND_QUANTUM_MS`) srtt must also sit above min RTT to count as a queue. A driver that
 * reads datagrams in batches (recvmmsg; `receiveBatchMs`) or wakes on a millisecond timer adds up to a
 * tick at each end to a round trip with no queue at all, and min RTT is the luckiest sample: on a path
 * of a few ms, 25 % above it is that jitter, and taking it for a queue turned the loss compensation off
 * at 50 % loss, so the rate ratcheted down to a 4-packet window (4 MiB over 1 ms each way with 1 ms
 * batches: up to 15 s instead of 1.2; attack/README-21-sim-vs-real.md).
 */
const QUEUE_FLOOR_TICKS = 2;

const MIN_WINDOW_PACKETS = 4;
/** RTT samples a round needs before its mean counts towards the path's RTT. */
const MIN_ROUND_SAMPLES = 4;
/** Weight the moving mean RTT keeps per packet's sample (an average over about 32 packets). */
const MEAN_RTT_KEEP = 1 - 1 / 32;
/** Mean RTTs a spurious loss stays evidence that the path reorders (loss detection keeps its widened window 32 RTTs too). */
const REORDER_MEMORY_RTTS = 32;
/** A round's mean RTT above this multiple of the smallest sample means the path's delay is jitter-dominated. */
const JITTER_RATIO = 2;
/** Driver timer granularity the window and pacer must bridge, ms (Node's setTimeout floor). */
const SEND_QUANTUM_MS = 1;
/** Largest send quantum, bytes (Linux's 64 KB TSO limit). */
const MAX_SEND_QUANTUM = 64 * 1024;

/** How far above min RTT counts as queueing delay: RFC 9406's clamp(min RTT / 8, 4 ms, 16 ms). */
function delayThreshold(minRttMs: number): number {
  return Math.min(Math.max(minRttMs / 8, 4), 16);
}

type Mode = 'startup' | 'drain' | 'probe-bw';

/** Options of `Bbr`. */
export interface BbrOptions {
  /**
   * Packets allowed in flight before the first ACK (default 32). The first round trip fills only
   * this much of the pipe; raise it on paths known to be fast and deep-buffered.
   */
  readonly initialWindowPackets?: number;
}

/** BBR without the PROBE_RTT phase (min RTT is the lifetime minimum). */
export class Bbr implements CongestionController {
  readonly name = 'bbr';
  private mode: Mode = 'startup';
  private cwnd: number;
  private bwSamples: { round: number; bw: number }[] = emptyArray();
  // The bandwidth, loss rate and RTT figures are `undefined` before their first value, read through
  // getters that give 0 or `Infinity` then: as fields holding fractional numbers only, each would be
  // a boxed 16-byte number in every connection, an idle one's 0 or `Infinity` too (a connection that
  // only receives never takes a sample, and most see no loss).
  /** The bottleneck bandwidth: the largest delivery rate of the last `BW_WINDOW_ROUNDS` rounds (see `btlBw`). */
  private maxBw: number | undefined;
  /** Smallest RTT sample (see `minRtt`). */
  private smallestRtt: number | undefined;
  private round = 0;
  /** `delivered` that ends the round (declared bare, set in the constructor: a box in every connection once one delivered 2 GiB, else). */
  private nextRoundDelivered: number;
  private fullBw: number;
  private fullBwRounds = 0;
  private cycleIndex = 0;
  private cycleStart: number;
  private inFlight = 0;
  /** Fraction of recently sent bytes declared lost (see `lossRate`). */
  private lossFraction: number | undefined;
  /** Smoothed RTT well above min RTT: a queue stands at the bottleneck. */
  private queueDelayed = false;
  /** RTT samples in a row above the delay threshold, and when the run began. */
  private elevatedSamples = 0;
  private elevatedSince: number;
  /** RTT samples of the current round (sum, see `roundRttSum`, and count), for its mean. */
  private roundRttTotal: number | undefined;
  private roundRttCount = 0;
  /** Smallest mean RTT of a round seen so far (see `minRoundMeanRtt`). */
  private smallestRoundMean: number | undefined;
  /** Moving average of every acknowledged packet's RTT (see `meanRtt`). */
  private movingMeanRtt: number | undefined;
  /** When a packet declared lost was last acknowledged after all (-1: never): the path reorders. */
  private spuriousAt: number;
  /** Smallest RTT sample of the current round, and of each of the last `BW_WINDOW_ROUNDS` rounds. */
  private thisRoundMinRtt: number | undefined;
  private rttMins: { round: number; rtt: number }[] = emptyArray();

  private readonly initialWindow: number;
  /** The round STARTUP ended on delay in, while the window conserves packets after it (-1: not): see `updateWindow`. */
  private exitRound = -1;

  constructor(
    private readonly mtu: number,
    options: BbrOptions = {},
  ) {
    const packets = options.initialWindowPackets ?? DEFAULT_INITIAL_WINDOW_PACKETS;
    if (!Number.isInteger(packets) || packets < 1) throw new RangeError(`rudp: initialWindowPackets must be an integer ≥ 1, got ${packets}`);
    this.initialWindow = Math.max(packets, MIN_WINDOW_PACKETS) * mtu;
    this.cwnd = this.initialWindow;
    this.nextRoundDelivered = 0;
    // A bandwidth and times (fractions): set here, not as `= 0` / `= -1` initializers, which V8 boxes
    // (16 bytes) in every connection, an idle one's 0 too, once any holds a fraction.
    this.fullBw = 0;
    this.cycleStart = 0;
    this.elevatedSince = 0;
    this.spuriousAt = -1;
  }

  /** The bottleneck bandwidth, bytes/ms (0 before the first sample). */
  private get btlBw(): number {
    return this.maxBw ?? 0;
  }

  /** Fraction of recently sent bytes declared lost (moving average over about 50 packets; 0 before the first loss). */
  private get lossRate(): number {
    return this.lossFraction ?? 0;
  }

  /** Sum of the current round's RTT samples (0 before the first). */
  private get roundRttSum(): number {
    return this.roundRttTotal ?? 0;
  }

  /** Smallest RTT sample (`Infinity` before the first). */
  private get minRtt(): number {
    return this.smallestRtt ?? Number.POSITIVE_INFINITY;
  }

  /** Smallest mean RTT of a round seen so far (`Infinity` until a round has enough samples). */
  private get minRoundMeanRtt(): number {
    return this.smallestRoundMean ?? Number.POSITIVE_INFINITY;
  }

  /** Moving average of every acknowledged packet's RTT (`Infinity` before the first). */
  private get meanRtt(): number {
    return this.movingMeanRtt ?? Number.POSITIVE_INFINITY;
  }

  /** Smallest RTT sample of the current round (`Infinity`: none yet). */
  private get roundMinRtt(): number {
    return this.thisRoundMinRtt ?? Number.POSITIVE_INFINITY;
  }

  /** The current mode, for stats. */
  get state(): Mode {
    return this.mode;
  }

  window(): number {
    return this.cwnd;
  }

  pacingRate(srttMs: number): number {
    const gain = this.pacingGain();
    // Until the pipe is known to be full, never pace below what the window allows per RTT: an
    // app-limited sample (a lone hello message) must not throttle the first real transfer.
    const windowRate = this.cwnd / Math.max(srttMs, 1);
    const bw = this.sendingBw();
    if (this.mode === 'startup') return gain * Math.max(bw, windowRate);
    return gain * (bw > 0 ? bw : windowRate);
  }

  onPacketSent(_now: number, bytes: number): void {
    this.inFlight += bytes;
  }

  onLoss(_now: number, lostBytes: number, bytesInFlight: number): void {
    this.inFlight = bytesInFlight;
    this.lossFraction = 1 - (1 - this.lossRate) * LOSS_KEEP ** (lostBytes / this.mtu);
  }

  onSpuriousLoss(now: number, bytes: number): void {
    this.spuriousAt = now;
    // The inverse of `onLoss`'s step: reordering must not raise the loss compensation.
    this.lossFraction = Math.max(0, 1 - (1 - this.lossRate) / LOSS_KEEP ** (bytes / this.mtu));
  }

  onAck(now: number, s: AckSample): void {
    this.inFlight = s.bytesInFlight;
    // No loss yet: the rate stays 0 (and `undefined`).
    if (this.lossFraction !== undefined) this.lossFraction *= LOSS_KEEP ** (s.ackedBytes / this.mtu);
    this.smallestRtt = Math.min(this.minRtt, s.minRttMs);
    this.queueDelayed = s.srttMs > Math.max(this.pathRtt() * CONGESTED_RTT_RATIO, this.pathRtt() + QUEUE_FLOOR_TICKS * SEND_QUANTUM_MS);
    if (s.priorDelivered >= this.nextRoundDelivered) {
      this.endRttRound();
      this.round++;
      this.nextRoundDelivered = s.delivered;
      // A round the application starved says nothing about the pipe being full.
      if (!s.appLimited) this.onRoundStart();
    }
    // The round's mean takes every acknowledged packet's RTT: the largest acknowledged alone (the
    // RFC 9002 sample) is, under per-datagram jitter, mostly one that overtook the rest.
    this.roundRttTotal = this.roundRttSum + s.ackedRttSumMs;
    this.roundRttCount += s.ackedRttCount;
    if (s.ackedRttCount > 0) {
      const mean = s.ackedRttSumMs / s.ackedRttCount;
      this.movingMeanRtt = Number.isFinite(this.meanRtt) ? this.meanRtt + (1 - MEAN_RTT_KEEP ** s.ackedRttCount) * (mean - this.meanRtt) : mean;
    }
    if (s.latestRttMs !== undefined) {
      this.smallestRtt = Math.min(this.minRtt, s.latestRttMs);
      this.thisRoundMinRtt = Math.min(this.roundMinRtt, s.latestRttMs);
      const base = this.pathRtt();
      if (s.latestRttMs >= base + delayThreshold(base)) {
        if (this.elevatedSamples++ === 0) this.elevatedSince = now;
      } else {
        this.elevatedSamples = 0;
      }
      // Checked on every ACK, not at the round's end: by then STARTUP would have sent another BDP.
      // The run must also last as long as the threshold itself, so one stall of the sender (GC, a
      // busy event loop) that hands over a burst of late ACKs at once is not taken for a queue.
      const threshold = delayThreshold(base);
      if (this.mode === 'startup' && this.elevatedSamples >= DELAY_EXIT_SAMPLES && now - this.elevatedSince >= threshold) {
        // Straight to cruising, no DRAIN: this exit fires while the queue is only a few ms deep, and
        // pacing at 1/2.89 of the rate would empty it and leave the link idle (12.7 ms per 4 MiB
        // in the benchmark's bulk run); the next 0.75 phase takes the small queue down.
        this.enterProbeBw(now);
        this.exitRound = this.round;
      }
    }
    if (s.deliveryRate !== undefined && (!s.appLimited || s.deliveryRate >= this.btlBw)) {
      // One sample per round, its largest: the window's maximum is the same, and the list stays
      // BW_WINDOW_ROUNDS long instead of one entry per ACK.
      const last = this.bwSamples[this.bwSamples.length - 1];
      if (last?.round === this.round) last.bw = Math.max(last.bw, s.deliveryRate);
      else this.bwSamples = pushOnto(this.bwSamples, { round: this.round, bw: s.deliveryRate });
    }
    while (this.bwSamples.length > 0 && (this.bwSamples[0] as { round: number }).round <= this.round - BW_WINDOW_ROUNDS) this.bwSamples.shift();
    this.maxBw = this.bwSamples.reduce((m, x) => Math.max(m, x.bw), 0);
    this.advanceMode(now, s);
    this.updateWindow(now, s.ackedBytes, s.appLimited);
  }

  private pacingGain(): number {
    if (this.mode === 'startup') return STARTUP_GAIN;
    if (this.mode === 'drain') return 1 / STARTUP_GAIN;
    return PROBE_GAINS[this.cycleIndex] as number;
  }

  private onRoundStart(): void {
    if (this.mode !== 'startup' || this.btlBw === 0) return;
    if (this.btlBw >= this.fullBw * 1.25) {
      this.fullBw = this.btlBw;
      this.fullBwRounds = 0;
    } else if (++this.fullBwRounds >= 3) {
      this.mode = 'drain';
    }
  }

  private advanceMode(now: number, s: AckSample): void {
    if (this.mode === 'drain' && s.bytesInFlight <= this.bdp()) this.enterProbeBw(now);
    if (this.mode === 'probe-bw' && Number.isFinite(this.minRtt) && now - this.cycleStart >= this.pathRtt()) {
      this.cycleIndex = (this.cycleIndex + 1) % PROBE_GAINS.length;
      this.cycleStart = now;
    }
  }

  /**
   * What the pacer releases in one driver timer tick (Linux BBR's send quantum). A driver wakes
   * no finer than its timer and reads ACKs in event-loop bursts, so on a path whose min RTT is
   * below a tick the window must cover the BDP plus those bursts, or it is the ACK clock, not the
   * path, that limits the rate (on loopback the BDP term alone is a few hundred bytes).
   */
  private sendQuantum(): number {
    return Math.min(this.sendingBw() * SEND_QUANTUM_MS, MAX_SEND_QUANTUM);
  }

  /** PROBE_BW, starting at the first cruising phase (gain 1). */
  private enterProbeBw(now: number): void {
    this.mode = 'probe-bw';
    this.cycleIndex = 2;
    this.cycleStart = now;
  }

  private bdp(): number {
    if (this.btlBw === 0 || !Number.isFinite(this.minRtt)) return this.initialWindow;
    return this.sendingBw() * this.pathRtt();
  }

  /**
   * The path's round trip without queueing, robust to jitter. Normally the
   * smallest RTT sample. But on a path whose delay is drawn per datagram
   * (Wi-Fi, cellular, multipath) the smallest sample is the luckiest draw,
   * far below the typical round trip: a window sized on it caps the flight
   * at a fraction of what the path holds and the sender collapses (8 MiB
   * over 50 Mbit/s with 5 ± 5 ms one-way delay: 24 s instead of 1.4 s), and
   * every ordinary sample looks like a queue. So once the smallest mean RTT
   * of any round (of at least `MIN_ROUND_SAMPLES` samples) is more than
   * `JITTER_RATIO` times the smallest sample, that mean stands for the path:
   * a round's mean averages the jitter out, and a standing queue raises
   * every round's mean, so the minimum over rounds still excludes it.
   */
  private pathRtt(): number {
    return this.minRoundMeanRtt > JITTER_RATIO * this.minRtt && Number.isFinite(this.minRoundMeanRtt) ? this.minRoundMeanRtt : this.minRtt;
  }

  /**
   * How long a packet typically stays unacknowledged, so that the window covers what the rate
   * keeps in flight (Little's law): with jitter most packets take longer than the path's base RTT,
   * and a window below rate × this RTT, not the path, would limit the rate (0: not known yet).
   *
   * Normally the smallest mean RTT of a round, which excludes a standing queue. But when the path
   * reorders (each datagram's delay drawn on its own), packets that overtook the others end rounds
   * early and the smallest of hundreds of short rounds' means sits far below the typical RTT
   * (1.6–3 ms against 5–10 ms on 5 ± 5 ms one way): the window capped the rate, the delivery-rate
   * samples fell with it, and the window followed them down to its 4-packet floor (2 MiB took
   * 2–5 s, KCP 0.15 s). There the moving mean of every acknowledged packet's RTT stands in, as
   * long as no queue lifts the recent smallest samples: a mean that includes a queue would keep
   * that queue, and jitter inflates the delivery-rate estimate above the bottleneck (57 Mbit/s on
   * a 50 Mbit/s link), which only a window on the queue-free RTT holds back.
   */
  private typicalRtt(now: number): number {
    const rtt = this.reordering(now) && !this.queued() ? Math.max(this.meanRtt, Number.isFinite(this.minRoundMeanRtt) ? this.minRoundMeanRtt : 0) : this.minRoundMeanRtt;
    return Number.isFinite(rtt) ? rtt : 0;
  }

  /** A packet declared lost was acknowledged after all within the last `REORDER_MEMORY_RTTS` mean RTTs. */
  private reordering(now: number): boolean {
    return this.spuriousAt >= 0 && now - this.spuriousAt < REORDER_MEMORY_RTTS * this.meanRtt;
  }

  /** The smallest RTT of the last `BW_WINDOW_ROUNDS` rounds sits a delay threshold above the path's smallest: a queue stands. */
  private queued(): boolean {
    const recent = this.rttMins.reduce((m, x) => Math.min(m, x.rtt), this.roundMinRtt);
    return Number.isFinite(recent) && recent > this.minRtt + delayThreshold(this.minRtt);
  }

  private endRttRound(): void {
    if (Number.isFinite(this.roundMinRtt)) this.rttMins = pushOnto(this.rttMins, { round: this.round, rtt: this.roundMinRtt });
    this.thisRoundMinRtt = undefined;
    while (this.rttMins.length > 0 && (this.rttMins[0] as { round: number }).round <= this.round - BW_WINDOW_ROUNDS) this.rttMins.shift();
    if (this.roundRttCount >= MIN_ROUND_SAMPLES) this.smallestRoundMean = Math.min(this.minRoundMeanRtt, this.roundRttSum / this.roundRttCount);
    this.roundRttTotal = 0;
    this.roundRttCount = 0;
  }

  /**
   * The bottleneck rate to send at: the delivery-rate estimate scaled up by the loss rate while
   * the RTT shows no standing queue. Delivery rate counts only what arrived, so pacing at it on a
   * path with random loss p sends (1 − p)·B and the estimate ratchets down round after round.
   * Loss while the RTT is inflated is taken as congestion and not compensated.
   */
  private sendingBw(): number {
    if (this.queueDelayed) return this.btlBw;
    return this.btlBw / (1 - Math.min(this.lossRate, MAX_COMPENSATED_LOSS));
  }

  private updateWindow(now: number, acked: number, appLimited: boolean): void {
    const gain = this.mode === 'probe-bw' ? PROBE_CWND_GAIN : STARTUP_GAIN;
    const typical = this.btlBw > 0 ? this.sendingBw() * this.typicalRtt(now) : 0;
    const target = Math.max(Math.max(gain * this.bdp(), typical) + 2 * this.mtu + 2 * this.sendQuantum(), MIN_WINDOW_PACKETS * this.mtu);
    if (this.mode === 'startup') {
      // Until the pipe is full the window only grows: an early app-limited sample, such as the ACK
      // of a lone hello, must not shrink the initial window. It grows past the target only while
      // the window, not the application, limits sending: a sender that is app-limited (STARTUP
      // never ends for it) must not grow it without bound.
      if (this.cwnd < target || !appLimited) this.cwnd += acked;
    } else {
      // Grow towards the target by what was acked (no jump from one lucky sample); shrink at once.
      this.cwnd = this.cwnd < target ? Math.min(this.cwnd + acked, target) : target;
      if (this.exitRound >= 0 && this.round <= this.exitRound + 1) {
        // Packet conservation (as BBR does on entering recovery) for the round after STARTUP ended on
        // delay: the flight then counts the packets STARTUP's overshoot lost at the queue, which loss
        // detection finds only a round later. A window cut to the target at once held the sender
        // back until they were found, and the queue, then the link, ran empty (16–22 ms idle per
        // 4 MiB on four of five bench seeds). Sending only as the flight shrinks (two packets of
        // slack, as the window's own target keeps) holds the queue as it is, and grows nothing.
        this.cwnd = Math.max(this.cwnd, this.inFlight + 2 * this.mtu);
      } else {
        this.exitRound = -1;
      }
    }
    this.cwnd = Math.max(this.cwnd, MIN_WINDOW_PACKETS * this.mtu);
    void this.inFlight;
  }
}
