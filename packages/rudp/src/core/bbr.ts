/**
 * The default controller: a compact BBR (Cardwell et al., 2016). It models
 * the path as a bottleneck bandwidth (windowed maximum of delivery-rate
 * samples) and a minimum RTT, paces at a gain times that bandwidth and caps
 * the flight at a gain times their product. It does not treat loss as a
 * congestion signal, which is what keeps goodput near B·(1−p) under 10–30%
 * random loss where a loss-based controller (Reno, CUBIC) collapses; pacing
 * at the measured rate keeps the bottleneck queue short instead.
 */
import type { AckSample, CongestionController } from './congestion.js';

const STARTUP_GAIN = 2 / Math.LN2; // 2.885: doubles the rate each round
const PROBE_GAINS = [1.25, 0.75, 1, 1, 1, 1, 1, 1] as const;
const BW_WINDOW_ROUNDS = 10;
// 2 (as in BBRv1) overflows shallow bottleneck queues such as the 64 KB one of the benchmark; 1.5 keeps the queue under half a BDP.
const PROBE_CWND_GAIN = 1.5;
const INITIAL_WINDOW_PACKETS = 10;
const MIN_WINDOW_PACKETS = 4;

type Mode = 'startup' | 'drain' | 'probe-bw';

/** BBR without the PROBE_RTT phase (min RTT is the lifetime minimum). */
export class Bbr implements CongestionController {
  readonly name = 'bbr';
  private mode: Mode = 'startup';
  private cwnd: number;
  private readonly bwSamples: { round: number; bw: number }[] = [];
  private btlBw = 0;
  private minRtt = Number.POSITIVE_INFINITY;
  private round = 0;
  private nextRoundDelivered = 0;
  private fullBw = 0;
  private fullBwRounds = 0;
  private cycleIndex = 0;
  private cycleStart = 0;
  private inFlight = 0;

  constructor(private readonly mtu: number) {
    this.cwnd = INITIAL_WINDOW_PACKETS * mtu;
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
    if (this.mode === 'startup') return gain * Math.max(this.btlBw, windowRate);
    return gain * (this.btlBw > 0 ? this.btlBw : windowRate);
  }

  onPacketSent(_now: number, bytes: number): void {
    this.inFlight += bytes;
  }

  onLoss(_now: number, lostBytes: number, bytesInFlight: number): void {
    this.inFlight = bytesInFlight;
    void lostBytes;
  }

  onAck(now: number, s: AckSample): void {
    this.inFlight = s.bytesInFlight;
    this.minRtt = Math.min(this.minRtt, s.minRttMs);
    if (s.priorDelivered >= this.nextRoundDelivered) {
      this.round++;
      this.nextRoundDelivered = s.delivered;
      // A round the application starved says nothing about the pipe being full.
      if (!s.appLimited) this.onRoundStart();
    }
    if (s.deliveryRate !== undefined && (!s.appLimited || s.deliveryRate >= this.btlBw)) {
      this.bwSamples.push({ round: this.round, bw: s.deliveryRate });
    }
    while (this.bwSamples.length > 0 && (this.bwSamples[0] as { round: number }).round <= this.round - BW_WINDOW_ROUNDS) this.bwSamples.shift();
    this.btlBw = this.bwSamples.reduce((m, x) => Math.max(m, x.bw), 0);
    this.advanceMode(now, s);
    this.updateWindow(s.ackedBytes);
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
    if (this.mode === 'drain' && s.bytesInFlight <= this.bdp()) {
      this.mode = 'probe-bw';
      this.cycleIndex = 2;
      this.cycleStart = now;
    }
    if (this.mode === 'probe-bw' && Number.isFinite(this.minRtt) && now - this.cycleStart >= this.minRtt) {
      this.cycleIndex = (this.cycleIndex + 1) % PROBE_GAINS.length;
      this.cycleStart = now;
    }
  }

  private bdp(): number {
    if (this.btlBw === 0 || !Number.isFinite(this.minRtt)) return INITIAL_WINDOW_PACKETS * this.mtu;
    return this.btlBw * this.minRtt;
  }

  private updateWindow(acked: number): void {
    const gain = this.mode === 'probe-bw' ? PROBE_CWND_GAIN : STARTUP_GAIN;
    const target = Math.max(gain * this.bdp() + 2 * this.mtu, MIN_WINDOW_PACKETS * this.mtu);
    // Grow towards the target by what was acked (no jump from one lucky sample); shrink at once.
    this.cwnd = this.cwnd < target ? Math.min(this.cwnd + acked, target) : target;
    this.cwnd = Math.max(this.cwnd, MIN_WINDOW_PACKETS * this.mtu);
    void this.inFlight;
  }
}
