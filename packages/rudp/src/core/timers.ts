/**
 * The timers of a connection, as one typed table. Each kind's deadline is
 * computed in one place (connection/timeouts.ts), the next wake-up is the
 * earliest of them, and expiry is dispatched kind by kind in `TIMER_ORDER`.
 * A kind with nothing to do on expiry (an ACK, a resend or paced data
 * becoming due) only wakes the connection: the poll that follows sends.
 */

/** Every timer a connection runs. */
export enum Timer {
  /** Client: resend the INITIAL (or send its copy), then answer the ACCEPT if nothing else did; server: send the ACCEPT's copy. */
  Initial,
  /** The handshake gives up. */
  HandshakeTimeout,
  /** Nothing heard from the peer for the idle timeout: close. */
  Idle,
  /** An ACK we owe must leave. */
  Ack,
  /** The time-threshold rule declares a packet lost (RFC 9002 §6.1.2). */
  LossDetection,
  /** Probe timeout (RFC 9002 §6.2). */
  Probe,
  /** Send a PING to keep an idle connection (and its NAT binding) alive. */
  KeepAlive,
  /** A spaced copy or held resend becomes sendable. */
  Resend,
  /** Pacing lets held data go. */
  Pacing,
  /** Draining ends: the connection is closed. */
  Drain,
  /**
   * The oldest packet in flight has gone unacknowledged for the idle
   * timeout: the peer is gone or will not acknowledge (one that keeps
   * sending but never acknowledges would otherwise hold the connection, and
   * the record of what it never acknowledged, open for ever).
   */
  Unacknowledged,
  /** Server: a PING to a client's new port is due, or its validation is given up (connection/migration.ts). */
  PathValidation,
  /**
   * The message a BLOCKED waits for was granted from the endpoint's overcommit and has not begun to
   * arrive within `OVERCOMMIT_START_MS` and a few probe timeouts, or, begun, falls behind
   * `OVERCOMMIT_PACE_BYTES_PER_S` while another message waits: close, so the credit returns.
   */
  Overcommit,
}

/** The order in which expired timers are handled: an ending connection first, then loss detection before the probe it may make moot. */
export const TIMER_ORDER: readonly Timer[] = [
  Timer.HandshakeTimeout,
  Timer.Drain,
  Timer.Idle,
  Timer.Unacknowledged,
  Timer.Overcommit,
  Timer.LossDetection,
  Timer.Probe,
  Timer.KeepAlive,
  Timer.PathValidation,
  Timer.Initial,
  Timer.Ack,
  Timer.Resend,
  Timer.Pacing,
];

/** Number of timer kinds. */
export const TIMER_COUNT = TIMER_ORDER.length;
