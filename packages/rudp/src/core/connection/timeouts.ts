/**
 * A connection's timers (timers.ts names them): when each fires in the
 * connection's current state, and what its expiry does. Deadlines are
 * computed from the mechanisms' state when asked, not stored, so no timer
 * is ever left armed for a state the connection has left.
 */
import type { Connection } from '../connection.js';
import { keepAliveInterval } from '../config.js';
import { AcceptAnswer, FIRST_PACKET_NUMBER } from '../handshake.js';
import { TIMER_ORDER, Timer } from '../timers.js';
import { PROTOCOL_VIOLATION, finish, startClose } from './close.js';
import { amplificationBlocked, expirePath, pathDeadline } from './migration.js';
import { newDataProbeDeadline } from './transmit.js';
import type { OutgoingMessage } from '../send/outgoing-message.js';

/**
 * `Timer` read once, for `deadlineIn`'s switch: where the sources run through vite-node (the tests), each
 * `Timer.X` there was a getter call on timers.ts's exports, up to 13 a deadline and 13 deadlines each time
 * the earliest is asked (after every datagram and poll: ~4 % of a simulation's CPU).
 */
const Kind = Timer;

/**
 * Tries of one message the peer must have let pass (`OutgoingMessage.lostTries`: losses declared, each
 * of a packet that left after the one before was declared) before the unacknowledged timer counts the
 * message (`owedSince`). Honest slow paths lose a message again and again too, and there each try waits
 * out the bottleneck queue: 64 kbit/s behind 64 KiB with 30 % burst loss owed a message up to 36 s,
 * past the idle timeout (`test/measure/small-messages-slow-path.ts`, 240 runs over four paths: at most
 * 8 tries of any message, at most 6 of one owed 20 s or more); counted by time alone, one run of the
 * two first tried there was closed. A peer that withholds one message lets a try pass each time it
 * acknowledges a later packet after a resend (133 in 10 s over a 20 ms path,
 * `transport-selective-unacknowledgement.test.ts`): over a 20 ms path it was closed at the idle
 * timeout, over a 2 s round trip at 36 s. A try a round trip is what a peer that delays its
 * acknowledgements to space them out gets: delaying every ACK 5 s held the connection 82 s, 20 s held
 * it 321 s (189 copies sent meanwhile), and a round trip past the idle timeout is closed by the
 * packet count: at worst 16 idle timeouts, where it was for ever.
 */
export const UNACKNOWLEDGED_LOST_TRIES = 16;

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
 * The slowest a peer may fill the message it was granted from the overcommit once it has begun it,
 * bytes a second, after a grace of the idle timeout and four probe timeouts from its first byte, while
 * another connection's message waits for the overcommit (`ReceivePool.contended`), with no more than
 * `OVERCOMMIT_LEAD_GRACES` of lead carried past a fragment. Without a pace, a peer that sent one
 * datagram of its message, or a trickle, held the overcommit as long as it kept the connection alive,
 * and every other waiting message waited as long. Honest slow paths fill it far faster: in the
 * simulator (`test/measure/overcommit-pace.ts`, 1.5 MiB messages, seeds 1-3, the lowest pace kept after
 * the grace, the lead bounded) a 256 kbit/s path with 30 % burst loss kept 12.4 KiB/s with nine earlier
 * 100 KB messages sharing it (25 KiB/s and more alone, 11.9 with a 25 s outage just after the first
 * byte), 128 kbit/s with 30 % burst loss and earlier messages 4.8 KiB/s (5.1 before the probe spacing of
 * session 35), 64 kbit/s with 30 % burst loss 2.9 KiB/s (3.0 as an average from the first byte). The price: a peer that trickles its message
 * at this pace holds the overcommit as long as that takes, 4.3 h for 30 MiB (4 KiB/s would halve it,
 * and close 64 kbit/s peers).
 */
export const OVERCOMMIT_PACE_BYTES_PER_S = 2 * 1024;

/**
 * The most lead over the pace a paced message carries past any fragment that added to it, in graces
 * (`overcommitGrace`) at `OVERCOMMIT_PACE_BYTES_PER_S`: a peer that stops sending it is behind the pace
 * the grace and this lead after its last fragment. Counted as an average from the first byte alone, the
 * lead was not bounded: a peer that sent 15 MiB of a 30 MiB message at once and then nothing was behind
 * 2.1 h later, and kept another's message out of the overcommit as long. One grace of lead, not none:
 * an honest 64 kbit/s path with 30 % burst loss went 30.8 s without adding to its message
 * (`test/measure/overcommit-pace.ts`, seed 3), and kept 2.9 KiB/s so held (none with no lead at all).
 * (26.8 s and 1.3 KiB/s at seed 1 before the probe spacing of session 35.)
 */
export const OVERCOMMIT_LEAD_GRACES = 1;

/**
 * Four probe timeouts, the round trips the overcommit's timers allow for a slow path, never more than
 * the idle timeout: the PTO is of the peer's making, and a peer that delayed every datagram it sent 28 s
 * (its ACKs included) held the overcommit unbegun 142 s with four of them
 * (transport-receive-budget-overcommit-late-ack.test.ts), now 60 s. Honest slow paths' RTT estimates
 * reach 8 s behind a bottleneck queue (loss-detection.ts `PROBES_PER_IDLE_TIMEOUT`), yet none of the 270
 * honest runs of test/measure/overcommit-pace.ts (`30`, `30 30000 slow`) ended otherwise with the cap.
 */
function overcommitRoundTrips(c: Connection): number {
  const four = 4 * c.rtt.pto(c.config.maxAckDelayMs);
  return four < c.config.idleTimeoutMs ? four : c.config.idleTimeoutMs;
}

/** Start timer (the message not begun) and pace (begun): the grace both give a peer whose answer went unacknowledged, or whose message just began. */
function overcommitGrace(c: Connection): number {
  return Math.max(c.config.idleTimeoutMs, OVERCOMMIT_START_MS) + overcommitRoundTrips(c);
}

/**
 * When `c`'s peer must have begun the message it was granted from the overcommit (`Infinity`: none):
 * counted from its acknowledgment of a packet that carried the answer's MAX_DATA (the first one or a
 * later copy: `noteOvercommitAnswerAcked`). Counted from the answer leaving, an honest peer whose path
 * was down for 15 s as it left was closed (the idle timeout, 30 s, rides such an outage out). A peer
 * that never acknowledges it is closed by the idle or unacknowledged timer; past the idle timeout from
 * the answer leaving, by this one anyway.
 */
function overcommitStartDeadline(c: Connection, t: OvercommitTimer): number {
  if (!c.flow.holdsOvercommit || t.answer !== c.flow.overcommits) return Number.POSITIVE_INFINITY;
  const acked = t.ackedAt + OVERCOMMIT_START_MS + overcommitRoundTrips(c);
  const unacked = t.since + overcommitGrace(c);
  return acked < unacked ? acked : unacked;
}

/**
 * When the overcommitted message `c`'s peer began falls behind the minimum pace (`Infinity`: none, or
 * it is whole): the grace from `pace.since`, and a second for each `OVERCOMMIT_PACE_BYTES_PER_S` of it
 * received since, never more than two graces past the last fragment that added to it
 * (`noteOvercommitProgress`). An outage shorter than the grace (the idle timeout's, which closes longer
 * ones anyway) never puts a peer that kept the pace before it behind.
 */
function overcommitPaceDeadline(c: Connection, pace: OvercommitPace | undefined): number {
  if (pace === undefined) return Number.POSITIVE_INFINITY;
  const received = c.reassembly.receivedOf(pace.message);
  if (received === undefined) return Number.POSITIVE_INFINITY;
  return pace.since + overcommitGrace(c) + ((received - pace.base) * 1000) / OVERCOMMIT_PACE_BYTES_PER_S;
}

/** When the overcommit timer of `c` fires: its peer has not begun its message, or fills it too slowly. */
function overcommitDeadline(c: Connection): number {
  const t = c.overcommitTimer;
  if (t === undefined) return Number.POSITIVE_INFINITY;
  const start = overcommitStartDeadline(c, t);
  const pace = overcommitPaceDeadline(c, t.pace);
  return start < pace ? start : pace;
}

/**
 * The overcommitted message a connection's peer began, and the pace it is held to from `since`.
 * `since` and `base` move forward in place as the message arrives ahead of the pace
 * (`noteOvercommitProgress`: once a fragment, a copy each would allocate on the receive path).
 */
export interface OvercommitPace {
  /** The message's id. */
  readonly message: number;
  /** When the pace's grace began, ms: the message's first byte, the last time nobody waited, or the last fragment that brought a lead past `OVERCOMMIT_LEAD_GRACES`. */
  since: number;
  /**
   * What of the message had arrived then, bytes, less the lead carried past it (at most
   * `OVERCOMMIT_LEAD_GRACES` graces' worth at the pace), and less what earlier paced messages had
   * since `since` when it took their place.
   */
  base: number;
  /** The message's length, bytes. */
  readonly length: number;
  /**
   * Messages that began while this one was paced and credit answered from the overcommit was not yet
   * filled, oldest first: the next still partial is paced once this one is whole
   * (`noteOvercommitProgress`). Shared, as a queue, by the timer's copies.
   */
  readonly later: PaceQueue;
}

/** Messages waiting to be paced (`OvercommitPace.later`), oldest first. */
export interface PaceQueue {
  /** Their ids (some may be whole by now). */
  ids: number[];
  /** The length at which the whole ones are dropped next. */
  compactAt: number;
}

/** The shortest `PaceQueue` whose whole messages are dropped. */
const LATER_COMPACT_FROM = 32;

/** The overcommit answer a connection times (`Connection.overcommitTimer`). */
export interface OvercommitTimer {
  /** Which answer (`FlowControl.overcommits`). */
  readonly answer: number;
  /** When its MAX_DATA first left, ms. */
  readonly since: number;
  /** The packet that carried it. */
  readonly pn: number;
  /** When the peer first acknowledged that packet or a later one that carried MAX_DATA, ms (`Infinity`: not yet). */
  readonly ackedAt: number;
  /** The overcommitted message begun, held to a pace (`undefined`: none yet, or it is whole). */
  readonly pace?: OvercommitPace | undefined;
}

/**
 * Message `id` began to arrive with the fragment just taken while credit answered from the overcommit
 * was not yet filled (`FlowControl.holdsOvercommit`): it may be what that credit was for, so it is held
 * to `OVERCOMMIT_PACE_BYTES_PER_S`. One message is paced at a time, the others that began so after it
 * (`noteOvercommitProgress`): before, only the message that ended the answer was, and a peer that began
 * a second one from a later answer while the first was partial, or that was answered twice before
 * either began, had the other paced by nothing and kept its 15 to 30 MiB past the budget for good.
 */
export function noteOvercommitBegun(c: Connection, now: number, id: number): void {
  const t = c.overcommitTimer;
  const length = c.reassembly.lengthOf(id);
  if (t === undefined || length === undefined) return;
  if (t.pace !== undefined && overcommitPaceDeadline(c, t.pace) !== Number.POSITIVE_INFINITY) {
    const later = t.pace.later;
    // Whole ones leave only as the paced one is; a peer that keeps it partial at the pace and is answered
    // again and again would grow the queue by one a round trip. Dropped once it doubled since the last
    // time: what stays is partial, which reassembly bounds, and the work is O(1) a message on average.
    if (later.ids.length >= later.compactAt) {
      let kept = 0;
      for (const m of later.ids) if (c.reassembly.receivedOf(m) !== undefined) later.ids[kept++] = m;
      later.ids.length = kept;
      later.compactAt = Math.max(LATER_COMPACT_FROM, 2 * kept);
    }
    later.ids.push(id);
  } else c.overcommitTimer = { ...t, pace: { message: id, since: now, base: 0, length, later: { ids: [], compactAt: LATER_COMPACT_FROM } } };
}

/**
 * A fragment was taken at `now` while a message was paced. If it made the paced message whole, the next
 * one waiting to be paced that is still partial takes its place, on the same pace (`since` kept, what the
 * others filled counted): a grace afresh for each let a peer that began many two-datagram messages hold
 * the rest for a grace each. Then the paced message carries no more than `OVERCOMMIT_LEAD_GRACES` of
 * lead past now: the deadline is never more than the grace and that lead away after a fragment.
 */
export function noteOvercommitProgress(c: Connection, now: number): void {
  const t = c.overcommitTimer;
  let pace = t?.pace;
  if (t === undefined || pace === undefined) return;
  let received = c.reassembly.receivedOf(pace.message);
  if (received === undefined) {
    const filled = pace.length - pace.base;
    const later = pace.later;
    let length: number | undefined;
    let next: number | undefined;
    do {
      next = later.ids.shift();
      if (next === undefined) return;
      received = c.reassembly.receivedOf(next);
      length = c.reassembly.lengthOf(next);
    } while (received === undefined || length === undefined);
    pace = { message: next, since: pace.since, base: received - filled, length, later };
    c.overcommitTimer = { ...t, pace };
  }
  // Ahead of the pace by more than the lead allowed: held to it from now, with that lead.
  const lead = (OVERCOMMIT_LEAD_GRACES * overcommitGrace(c) * OVERCOMMIT_PACE_BYTES_PER_S) / 1000;
  if (pace.since + ((received - pace.base - lead) * 1000) / OVERCOMMIT_PACE_BYTES_PER_S > now) {
    pace.since = now;
    pace.base = received - lead;
  }
}

/**
 * Packet `pn`, which carried MAX_DATA, was acknowledged at `now`: sent with the overcommit answer or after
 * it, it told the peer of the answer's credit (a MAX_DATA carries the latest limit, and limits never
 * shrink), and the peer's time to begin its message starts. Started by the acknowledgment of any later
 * packet, as until session 35, it ran while the answer's MAX_DATA was lost and the peer could not begin:
 * 128 kbit/s with 30 % burst loss (`test/measure/overcommit-pace.ts 30 30000 slow`, seed 29) lost four
 * copies while PINGs got through, and the credit reached the peer 18.3 s after a PING's acknowledgment
 * started the 10 s and four probe timeouts; at 256 kbit/s (`overcommit-pace.ts 30`, nine earlier
 * messages, seed 22) 19.0 s, and the honest peer began 1.4 s before it would have been closed.
 */
export function noteOvercommitAnswerAcked(c: Connection, now: number, pn: number): void {
  const t = c.overcommitTimer;
  if (t !== undefined && t.ackedAt === Number.POSITIVE_INFINITY && pn >= t.pn) c.overcommitTimer = { ...t, ackedAt: now };
}

/**
 * Since when `c`'s peer has owed an acknowledgement it has not given, ms (`Infinity`: it owes none): the
 * oldest ack-eliciting packet in flight left, or the oldest message not acknowledged whole has been owed
 * (`OutgoingMessage.unacknowledgedSince`, once `UNACKNOWLEDGED_LOST_TRIES` tries of it were let pass),
 * whichever is older. The packet alone let a peer that acknowledged everything but one message keep
 * that message resent for ever: each loss declared took its packet out of flight and each resend put a
 * younger one in (`transport-selective-unacknowledgement.test.ts`: 60 s simulated over a 20 ms path,
 * the message sent 2,414 times, the connection still open). A message that only waits for the window
 * has not left, and is owed nothing; nor is one whose chunks sent were all acknowledged.
 */
function owedSince(c: Connection): number {
  const packet = c.recovery.oldestInFlightSentAt();
  const message = messageOwedSince(c.sendQueue.oldestUnacknowledged());
  return message < packet ? message : packet;
}

/**
 * Since when the peer has owed message `m` (`Infinity`: none, or it owes it, but has not let
 * `UNACKNOWLEDGED_LOST_TRIES` tries of it pass yet).
 */
function messageOwedSince(m: OutgoingMessage | undefined): number {
  return m === undefined || m.lostTries < UNACKNOWLEDGED_LOST_TRIES ? Number.POSITIVE_INFINITY : m.unacknowledgedSince();
}

/**
 * When `c` gives up on a peer that does not acknowledge (`Infinity`: nothing owed, or the peer is
 * silent, which the idle timer reports): an idle timeout after the oldest packet in flight left or the
 * oldest message not acknowledged was owed (`owedSince`), or after the peer was heard again following
 * a silence of half the idle timeout that came after it (`Connection.heardAgainAt`), and never later
 * than two idle timeouts after that. Counted from the packet alone, a 25 s outage that began just after
 * it left the peer 5 s to acknowledge something once the path was back: with 30 % burst loss the probes
 * of those 5 s were lost and an honest peer was closed ("no acknowledgement",
 * test/measure/overcommit-pace.ts, 256 kbit/s, seed 6). The two timeouts bound what a peer that falls
 * silent now and then to restart the count keeps of our packets.
 */
function unacknowledgedDeadline(c: Connection): number {
  const oldest = owedSince(c);
  const idle = c.config.idleTimeoutMs;
  const from = c.heardAgainAt > oldest ? c.heardAgainAt : oldest;
  // A peer that went quiet soon after that is silent, not refusing to acknowledge: the idle timer
  // reports it (within 1.5 idle timeouts of `from`), so one partition gets one reason.
  const heard = c.lastReceived - from < idle / 2 ? Number.POSITIVE_INFINITY : from + idle;
  const bound = oldest + 2 * idle;
  return heard < bound ? heard : bound;
}

/**
 * Why the unacknowledged timer of `c` closed it at `now`: how long what the peer owes has been owed,
 * not the idle timeout (counted from when the peer was heard again, or bounded at two timeouts, the
 * wait was longer than one), and which message when a message is older than every packet in flight
 * (the peer acknowledged later data meanwhile).
 */
function unacknowledgedReason(c: Connection, now: number): string {
  const packet = c.recovery.oldestInFlightSentAt();
  const m = c.sendQueue.oldestUnacknowledged();
  const message = messageOwedSince(m);
  if (m !== undefined && message < packet) {
    return `no acknowledgement of message ${m.id} from ${c.remote} for ${Math.round(now - message)} ms (lost ${m.lostTries} times while later packets were acknowledged)`;
  }
  return `no acknowledgement from ${c.remote} for ${Math.round(now - packet)} ms`;
}

/**
 * When the idle timer of `c` fires: an idle timeout after the last packet received, or after the first
 * ack-eliciting packet other than a bare PING sent since then if one was (RFC 9000 §10.1: an endpoint
 * restarts its idle timer when sending an ack-eliciting packet if none was sent since it last received
 * one). Without the restart, a message sent after a quiet spell near the idle timeout was followed by a
 * timeout before its answer could come. PINGs (keep-alives, probes with nothing to resend) are left out,
 * a departure from the RFC as for its three-PTO floor: restarted by the keep-alive, a vanished peer was
 * given up 45 s after its last packet instead of 30 (every default), and a handshake cut short held its
 * server connection as long. The packet is found among those in flight, not kept in a field
 * (idle-connection memory): nothing sent since the last packet received can have been acknowledged or
 * declared lost, which takes an ACK, so it is there (a path change or a close that dropped it leaves a
 * later one or none, and the restart is never past an idle timeout from the packet received). The walk
 * is done only once the count from the packet received has run out (`lastActivity`, the time now, past
 * it): before, that count is the deadline given, so a restarted timer costs one early wake-up, not a
 * walk per deadline asked.
 */
function idleDeadline(c: Connection): number {
  const idle = c.config.idleTimeoutMs;
  const heard = c.lastReceived + idle;
  if (heard > c.lastActivity) return heard;
  const sent = c.recovery.firstSentSince(c.lastReceived);
  return sent < heard ? sent + idle : heard;
}

/**
 * Why the idle timer of `c` closed it at `now`: the silence it actually waited out, which is longer than
 * the idle timeout when data sent after the last packet received restarted the count (`idleDeadline`), or
 * when the timer was run late. Named then too: an operator reading "for 30000 ms" looked for a 30 s gap.
 */
function idleReason(c: Connection, now: number): string {
  const silence = `no packet from ${c.remote} for ${Math.round(now - c.lastReceived)} ms`;
  const sent = c.recovery.firstSentSince(c.lastReceived);
  if (!(sent > c.lastReceived && sent < now)) return silence;
  return `${silence} (data sent ${Math.round(now - sent)} ms ago unanswered)`;
}

/** The probes about to leave repeat the MAX_DATA and BLOCKED of packets still unacknowledged (`AnnouncedLimit.onProbeTimeout`). */
function probeRepeatsFlowFrames(c: Connection): void {
  let maxData = false;
  let blocked = false;
  for (const p of c.recovery.packets()) {
    maxData ||= p.carriedMaxData;
    blocked ||= p.carriedBlocked;
  }
  if (maxData || blocked) c.flow.onProbeTimeout(maxData, blocked);
}

/**
 * When an established client answers its ACCEPT (`Infinity`: it did, it is due already, or no poll
 * followed the ACCEPT yet): at the first timer turn after the poll that followed it (handshake.ts: the
 * server times its first RTT sample on the answer). Not in that poll, nor at a timer turn before it (the
 * Node adapter handles its timeouts right after a burst of datagrams, then polls): an application told
 * of the connection writes its request after that poll on a real event loop (a promise's continuation),
 * and the request is the answer; taken earlier, an empty packet went ahead of nearly every client's request.
 */
function acceptAnswerDeadline(c: Connection): number {
  return c.role === 'client' && c.nextPn === FIRST_PACKET_NUMBER && c.acceptAnswer === AcceptAnswer.Armed ? c.lastReceived : Number.POSITIVE_INFINITY;
}

/** The earliest time something must happen to `c`, or `Infinity`. */
export function earliestDeadline(c: Connection): number {
  // What every kind reads of the state, read once: nothing changes between the kinds here (runDueTimers
  // reads it afresh for each, as an expiry may change it). Asked after every datagram and poll.
  const live = isLive(c);
  const maySend = live && !amplificationBlocked(c);
  let t = Number.POSITIVE_INFINITY;
  for (const kind of TIMER_ORDER) t = Math.min(t, deadlineIn(c, kind, live, maySend));
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
  const live = isLive(c);
  // Held back by the amplification limit of a new address (migration.ts), a due send would fire its timer over
  // and over: the next datagram from that port wakes the connection instead.
  return deadlineIn(c, kind, live, live && !amplificationBlocked(c));
}

/** Whether `c` is open: its timers of data, acknowledgements and probes run. */
function isLive(c: Connection): boolean {
  return c.state === 'established' || c.state === 'closing';
}

/** `deadline` given what it reads of `c`'s state: whether it is `live` and whether it `maySend`. */
function deadlineIn(c: Connection, kind: Timer, live: boolean, maySend: boolean): number {
  switch (kind) {
    case Kind.Initial:
      // Draining too: a connection ended before its ACCEPT left sends it before its CLOSE (transmit.ts), and its
      // copy, as an open one does; a repeat of the INITIAL no longer finds it, so a lost ACCEPT had no other cover.
      if (c.serverHandshake !== undefined) return live || c.state === 'draining' ? c.serverHandshake.copyDeadline() : Number.POSITIVE_INFINITY;
      if (c.state === 'handshake') return c.connecting?.timing.initialDeadline() ?? Number.POSITIVE_INFINITY;
      return live ? acceptAnswerDeadline(c) : Number.POSITIVE_INFINITY;
    case Kind.HandshakeTimeout:
      return c.state === 'handshake' ? (c.connecting?.timing.timeoutDeadline() ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY;
    case Kind.Drain:
      return c.state === 'draining' && c.closing !== undefined ? c.closing.drainUntil : Number.POSITIVE_INFINITY;
    case Kind.Idle:
      return live ? idleDeadline(c) : Number.POSITIVE_INFINITY;
    case Kind.Ack:
      return maySend ? c.acks.deadline() : Number.POSITIVE_INFINITY;
    case Kind.Unacknowledged:
      return live ? unacknowledgedDeadline(c) : Number.POSITIVE_INFINITY;
    case Kind.LossDetection:
      return live ? c.recovery.lossDeadline() : Number.POSITIVE_INFINITY;
    case Kind.Probe:
      // Not while the amplification limit holds every datagram back (RFC 9002 §6.2.2.1: a server at the limit
      // cancels its probe timer): its probes could not leave, and once the backoff reaches `maxPtoMs` the
      // deadline no longer moves, so it would come due again at once until the validation ends (2.3 s for a
      // new host). The datagram that lifts the limit, or the end of the validation, sets it again.
      return maySend ? c.recovery.ptoDeadline() : Number.POSITIVE_INFINITY;
    case Kind.KeepAlive:
      if (!live || c.pingDue) return Number.POSITIVE_INFINITY;
      return Math.max(c.recovery.lastAckElicitingSentAt, c.lastReceived) + keepAliveInterval(c.config);
    case Kind.Resend: {
      const r = maySend ? c.retransmits.earliest() : Number.POSITIVE_INFINITY;
      return r > c.lastPollTime ? r : Number.POSITIVE_INFINITY;
    }
    case Kind.PathValidation:
      return live ? pathDeadline(c) : Number.POSITIVE_INFINITY;
    case Kind.Overcommit:
      return live ? overcommitDeadline(c) : Number.POSITIVE_INFINITY;
    case Kind.Pacing: {
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
    case Timer.HandshakeTimeout: {
      const note = c.connecting?.noAnswerNote();
      finish(c, 'unreachable', 0, `no answer from ${c.remote} within ${c.config.handshakeTimeoutMs} ms${note === undefined ? '' : `; ${note}`}`, false, note);
      return;
    }
    case Timer.Drain:
      finish(c, c.closing?.reason.kind ?? 'local', c.closing?.reason.code ?? 0, c.closing?.reason.message ?? 'closed', true);
      return;
    case Timer.Idle:
      finish(c, 'timeout', 0, idleReason(c, now), false);
      return;
    case Timer.Unacknowledged:
      finish(c, 'timeout', 0, unacknowledgedReason(c, now), false);
      return;
    case Timer.LossDetection:
      c.recovery.detectLosses(now);
      return;
    case Timer.Probe:
      c.recovery.onPtoExpired();
      c.probesDue = PTO_PROBES;
      probeRepeatsFlowFrames(c);
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
      expireOvercommit(c, now);
      return;
    case Timer.Initial:
      // A client's INITIAL (or copy) or a server's ACCEPT copy is sent by the poll after this timeout;
      // an established client owes the answer to its ACCEPT.
      if (c.role === 'client' && c.state !== 'handshake' && c.acceptAnswer === AcceptAnswer.Armed) c.acceptAnswer = AcceptAnswer.Due;
      return;
    case Timer.Ack:
    case Timer.Resend:
    case Timer.Pacing:
      // Due work that the poll after this timeout sends.
      return;
  }
}

/**
 * The overcommit timer fired: a peer that has not begun its message is closed; one behind the pace is
 * closed if another connection's message waits for the overcommit, and else held to the pace afresh
 * from now (it keeps nobody waiting; once someone waits, it has the grace again to keep up). A closed
 * peer's party goes behind the others for the overcommit (`ReceivePool.penalize`).
 */
function expireOvercommit(c: Connection, now: number): void {
  const t = c.overcommitTimer as OvercommitTimer;
  if (now >= overcommitStartDeadline(c, t)) {
    c.flow.forfeitOvercommit();
    startClose(c, now, { kind: 'local', code: PROTOCOL_VIOLATION, message: "protocol violation: the peer did not begin the message it was granted credit past the endpoint's receive budget for" });
    return;
  }
  const pace = t.pace as OvercommitPace;
  if (c.host.receivePool?.contended === true) {
    c.flow.forfeitOvercommit();
    startClose(c, now, { kind: 'local', code: PROTOCOL_VIOLATION, message: "protocol violation: the peer sent the message it was granted credit past the endpoint's receive budget for slower than the minimum pace while another waited" });
    return;
  }
  c.overcommitTimer = { ...t, pace: { ...pace, since: now, base: c.reassembly.receivedOf(pace.message) ?? 0 } };
}
