/**
 * Pacing: a token bucket that spreads packets over the round trip at the
 * congestion controller's rate instead of sending a window in one burst
 * (RFC 9002 §7.7). A held sender is woken no sooner than one driver timer
 * tick later and then sends what the rate earned meanwhile as one burst, as
 * Linux's fq and quinn release a quantum per wake-up: once packet gaps fall
 * below the tick, a wake-up per gap costs a driver more than the packets
 * (Node's timers cannot wait less than 1 ms; it would spin through the
 * gaps). The bucket holds the most of two packets, a quarter of the window
 * (up to ten packets) and two ticks' worth (up to half the window), and a held sender woken late
 * is owed what the rate earned while it overslept (up to a few ticks), so a
 * driver's late timers do not lower the rate below the controller's.
 */
import { type CongestionController, ENDED_CONTROLLER } from '../congestion/controller.js';
import type { RttEstimator } from '../recovery/rtt.js';

/** A driver's timer granularity (Node's setTimeout floor), ms: the shortest wait for tokens. */
const PACING_TICK_MS = 1;
/** Most lateness of a held sender's wake-up, ms, whose earnings the bucket keeps beyond its cap. */
const MAX_LATE_MS = 3 * PACING_TICK_MS;
/** Tolerance for floating-point refill error, bytes. */
const PACE_EPSILON_BYTES = 1e-6;

/** The pacer of one connection. */
export class Pacer {
  private tokens: number;
  private time: number;
  /**
   * When the sender, blocked by pacing with data to send, may go again (0: not blocked). Declared bare
   * (set in the constructor): a `= 0` field holding fractional times is a box in every connection.
   */
  private blockedUntil: number;

  constructor(
    private readonly mtu: number,
    private cc: CongestionController,
    private readonly rtt: RttEstimator,
    now: number,
  ) {
    this.tokens = 2 * mtu;
    this.time = now;
    this.blockedUntil = 0;
  }

  /** Paces for `cc` from `now` on, its bucket as a new connection's: the client moved to another host, a new path (RFC 9000 §9.4). */
  restart(cc: CongestionController, now: number): void {
    this.cc = cc;
    this.tokens = 2 * this.mtu;
    this.time = now;
    this.blockedUntil = 0;
  }

  /** The connection ended: the controller is asked nothing more, also by a refill under way when it ended it (destroy()). */
  end(): void {
    this.cc = ENDED_CONTROLLER;
  }

  /** Adds the tokens earned since the last refill. */
  refill(now: number): void {
    const rate = this.cc.pacingRate(this.rtt.srtt);
    const cap = this.tokenCap(rate);
    if (!Number.isFinite(rate)) this.tokens = cap;
    else this.tokens = Math.min(this.limit(now, rate, cap), this.tokens + (now - this.time) * rate);
    this.time = now;
  }

  /**
   * The most tokens a refill at `now` may leave: the cap, or for a sender held by pacing and woken
   * after its deadline (Node's timers fire 1-2 ms late, more on a busy machine), what it held at
   * the deadline plus what the lateness earned, up to `MAX_LATE_MS` of it. Capping those would
   * throw sending time away on every late wake-up and pace below the controller's rate.
   */
  private limit(now: number, rate: number, cap: number): number {
    const late = this.blockedUntil > 0 ? Math.min(now - this.blockedUntil, MAX_LATE_MS) : 0;
    if (late <= 0) return cap;
    const atDeadline = Math.min(cap, this.tokens + Math.max(0, this.blockedUntil - this.time) * rate);
    return Math.max(cap, atDeadline + late * rate);
  }

  /** Whether a full-size packet may leave now. */
  get open(): boolean {
    // Tokens refill in floating point: 1199.9999999999998 of 1200 is a full packet's worth.
    return this.tokens >= this.mtu - PACE_EPSILON_BYTES;
  }

  /** A packet of `bytes` left. */
  onSent(bytes: number): void {
    this.tokens -= bytes;
  }

  /** The sender has data but pacing holds it: wake it when a packet's worth is earned (`windowOpen` false: the congestion window holds it, an ACK will wake it). */
  block(now: number, windowOpen: boolean): void {
    this.blockedUntil = windowOpen ? this.readyAt(now) : 0;
  }

  /** The sender is not held back. */
  unblock(): void {
    this.blockedUntil = 0;
  }

  /** When pacing lets a held sender go again, if that is after `lastPoll` (`Infinity` otherwise). */
  deadline(lastPoll: number): number {
    return this.blockedUntil > lastPoll ? this.blockedUntil : Number.POSITIVE_INFINITY;
  }

  /** The bucket's size at pacing rate `rate` (the controller's now: asked once per refill). */
  private tokenCap(rate: number): number {
    // At least what the rate earns in two driver timer ticks (capped at half the window): the tick
    // a held sender waits, and a wake-up that comes a tick late must not throw that tick away.
    const window = this.cc.window();
    const ticks = Number.isFinite(rate) ? Math.min(2 * rate * PACING_TICK_MS, window / 2) : 0;
    return Math.max(2 * this.mtu, Math.min(10 * this.mtu, window / 4), ticks);
  }

  private readyAt(now: number): number {
    const rate = this.cc.pacingRate(this.rtt.srtt);
    if (!Number.isFinite(rate) || rate <= 0) return now;
    // At least a tick: with packet gaps below it, a wake-up per gap would cost more than the packets
    // (the tokens keep accruing, so the rate is kept). Never "now" either: a deadline equal to the
    // poll time is not scheduled, and the sender would wait for an ACK.
    return now + Math.max(PACING_TICK_MS, (this.mtu - this.tokens) / rate);
  }
}
