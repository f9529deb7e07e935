/**
 * A connection's timers (timers.ts names them): when each fires in the
 * connection's current state, and what its expiry does. Deadlines are
 * computed from the mechanisms' state when asked, not stored, so no timer
 * is ever left armed for a state the connection has left.
 */
import type { Connection } from '../connection.js';
import { keepAliveInterval } from '../config.js';
import { TIMER_ORDER, Timer } from '../timers.js';
import { PROTOCOL_VIOLATION, finish, startClose } from './close.js';
import { amplificationBlocked, expirePath, pathDeadline } from './migration.js';
import { newDataProbeDeadline } from './transmit.js';

/** Most probe packets sent when the probe timer fires. */
const PTO_PROBES = 2;

/**
 * Time a peer has to begin the message it was granted credit for past the endpoint's budget (its
 * overcommit, receive-pool.ts), beyond four probe timeouts, ms. An honest sender begins it as soon as
 * the MAX_DATA arrives (it queued the message before saying BLOCKED), half a round trip later; one
 * that holds the credit unused keeps every other waiting message of the endpoint out of the
 * overcommit, and credit announced cannot be taken back, so the connection is closed.
 */
export const OVERCOMMIT_START_MS = 10_000;

/**
 * When `c`'s peer must have begun the message it was granted from the overcommit (`Infinity`: none):
 * counted from its acknowledgment of the packet that carried the answer or a later one. Counted from the
 * answer leaving, an honest peer whose path was down for 15 s as it left was closed (the idle timeout,
 * 30 s, rides such an outage out). A peer that never acknowledges it is closed by the idle or
 * unacknowledged timer; past the idle timeout from the answer leaving, by this one anyway.
 */
function overcommitDeadline(c: Connection): number {
  const t = c.overcommitTimer;
  if (!c.flow.holdsOvercommit || t === undefined || t.answer !== c.flow.overcommits) return Number.POSITIVE_INFINITY;
  const probes = 4 * c.rtt.pto(c.config.maxAckDelayMs);
  const acked = t.ackedAt + OVERCOMMIT_START_MS + probes;
  const unacked = t.since + Math.max(c.config.idleTimeoutMs, OVERCOMMIT_START_MS) + probes;
  return acked < unacked ? acked : unacked;
}

/** The overcommit answer a connection times (`Connection.overcommitTimer`). */
export interface OvercommitTimer {
  /** Which answer (`FlowControl.overcommits`). */
  readonly answer: number;
  /** When its MAX_DATA first left, ms. */
  readonly since: number;
  /** The packet that carried it. */
  readonly pn: number;
  /** When the peer first acknowledged that packet or a later one, ms (`Infinity`: not yet). */
  readonly ackedAt: number;
}

/** An ACK came (`c.recovery` took it): the overcommit answer's packet, or a later one, may be acknowledged now. */
export function noteOvercommitAcked(c: Connection, now: number): void {
  const t = c.overcommitTimer;
  if (t !== undefined && t.ackedAt === Number.POSITIVE_INFINITY && c.recovery.largestAcked >= t.pn) c.overcommitTimer = { ...t, ackedAt: now };
}

/** The earliest time something must happen to `c`, or `Infinity`. */
export function earliestDeadline(c: Connection): number {
  let t = Number.POSITIVE_INFINITY;
  for (const kind of TIMER_ORDER) t = Math.min(t, deadline(c, kind));
  return t;
}

/** Runs whatever timers of `c` are due at `now`, in `TIMER_ORDER`, until one closes it. */
export function runDueTimers(c: Connection, now: number): void {
  for (const kind of TIMER_ORDER) {
    if (c.state === 'closed') return;
    if (now >= deadline(c, kind)) expire(c, now, kind);
  }
}

/** When timer `kind` of `c` fires in its current state (`Infinity`: not armed). */
function deadline(c: Connection, kind: Timer): number {
  const live = c.state === 'established' || c.state === 'closing';
  // Held back by the amplification limit of a new address (migration.ts), a due send would fire its timer over
  // and over: the next datagram from that port wakes the connection instead.
  const maySend = live && !amplificationBlocked(c);
  switch (kind) {
    case Timer.Initial:
      if (c.serverHandshake !== undefined) return live ? c.serverHandshake.copyDeadline() : Number.POSITIVE_INFINITY;
      return c.state === 'handshake' ? (c.connecting?.timing.initialDeadline() ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY;
    case Timer.HandshakeTimeout:
      return c.state === 'handshake' ? (c.connecting?.timing.timeoutDeadline() ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY;
    case Timer.Drain:
      return c.state === 'draining' && c.closing !== undefined ? c.closing.drainUntil : Number.POSITIVE_INFINITY;
    case Timer.Idle:
      return live ? c.lastReceived + c.config.idleTimeoutMs : Number.POSITIVE_INFINITY;
    case Timer.Ack:
      return maySend ? c.acks.deadline() : Number.POSITIVE_INFINITY;
    case Timer.Unacknowledged: {
      if (!live) return Number.POSITIVE_INFINITY;
      // A peer that went quiet soon after our oldest packet left is silent, not refusing to acknowledge:
      // the idle timer reports it (within 1.5 idle timeouts of that packet), so one partition gets one reason.
      const oldest = c.recovery.oldestInFlightSentAt();
      return c.lastReceived - oldest < c.config.idleTimeoutMs / 2 ? Number.POSITIVE_INFINITY : oldest + c.config.idleTimeoutMs;
    }
    case Timer.LossDetection:
      return live ? c.recovery.lossDeadline() : Number.POSITIVE_INFINITY;
    case Timer.Probe:
      // Not while the amplification limit holds every datagram back (RFC 9002 §6.2.2.1: a server at the limit
      // cancels its probe timer): its probes could not leave, and once the backoff reaches `maxPtoMs` the
      // deadline no longer moves, so it would come due again at once until the validation ends (2.3 s for a
      // new host). The datagram that lifts the limit, or the end of the validation, sets it again.
      return maySend ? c.recovery.ptoDeadline() : Number.POSITIVE_INFINITY;
    case Timer.KeepAlive:
      if (!live || c.pingDue) return Number.POSITIVE_INFINITY;
      return Math.max(c.recovery.lastAckElicitingSentAt, c.lastReceived) + keepAliveInterval(c.config);
    case Timer.Resend: {
      const r = maySend ? c.retransmits.earliest() : Number.POSITIVE_INFINITY;
      return r > c.lastPollTime ? r : Number.POSITIVE_INFINITY;
    }
    case Timer.PathValidation:
      return live ? pathDeadline(c) : Number.POSITIVE_INFINITY;
    case Timer.Overcommit:
      return live ? overcommitDeadline(c) : Number.POSITIVE_INFINITY;
    case Timer.Pacing: {
      if (!maySend) return Number.POSITIVE_INFINITY;
      const paced = c.pacer.deadline(c.lastPollTime);
      // Also when a new-data probe waits out its spacing (see new-data-probe.ts).
      const probeAt = newDataProbeDeadline(c);
      return Math.min(paced, probeAt > c.lastPollTime ? probeAt : Number.POSITIVE_INFINITY);
    }
  }
}

/** Timer `kind` of `c` fired at `now`. */
function expire(c: Connection, now: number, kind: Timer): void {
  switch (kind) {
    case Timer.HandshakeTimeout:
      finish(c, 'unreachable', 0, `no answer from ${c.remote} within ${c.config.handshakeTimeoutMs} ms`, false);
      return;
    case Timer.Drain:
      finish(c, c.closing?.reason.kind ?? 'local', c.closing?.reason.code ?? 0, c.closing?.reason.message ?? 'closed', true);
      return;
    case Timer.Idle:
      finish(c, 'timeout', 0, `no packet from ${c.remote} for ${c.config.idleTimeoutMs} ms`, false);
      return;
    case Timer.Unacknowledged:
      finish(c, 'timeout', 0, `no acknowledgement from ${c.remote} for ${c.config.idleTimeoutMs} ms`, false);
      return;
    case Timer.LossDetection:
      c.recovery.detectLosses(now);
      return;
    case Timer.Probe:
      c.recovery.onPtoExpired();
      c.probesDue = PTO_PROBES;
      // Re-send the oldest unacknowledged data without declaring it lost; a PING if there is none.
      if (!c.retransmits.queueProbe(now, c.recovery.packets())) c.pingDue = true;
      return;
    case Timer.KeepAlive:
      c.pingDue = true;
      return;
    case Timer.PathValidation:
      expirePath(c, now);
      return;
    case Timer.Overcommit:
      startClose(c, now, { kind: 'local', code: PROTOCOL_VIOLATION, message: "protocol violation: the peer did not begin the message it was granted credit past the endpoint's receive budget for" });
      return;
    case Timer.Initial:
    case Timer.Ack:
    case Timer.Resend:
    case Timer.Pacing:
      // Due work that the poll after this timeout sends.
      return;
  }
}
