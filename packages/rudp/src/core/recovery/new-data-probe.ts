/**
 * New data sent as a probe would be (RFC 9002 §6.2.4 lets a probe carry new
 * data): past a full window and pacing, once the probe timer has fired and
 * no ACK has acknowledged anything since.
 *
 * Over a path that drops everything one way while the peer's packets still
 * come, the window fills with resends that no rule declares lost (nothing
 * after them is acknowledged, and the rule for packets no ACK has passed yet
 * spares packets that left with more queued), and the probe timer only fires
 * again after its backoff: held there, a chat sender was silent for up to
 * 600 ms after a 2 s outage ended and its backlog arrived 700–850 ms after.
 * Sent as the application gives it, its first message after the outage
 * crosses at once and the ACK of it declares the rest lost (115 ms).
 *
 * Only data that fits one packet (the application's own rate, never a
 * backlog), and no resends while the window is full: the packet-threshold
 * rule sends them once that ACK comes. At most one such packet per half a
 * smoothed round trip: two a round trip, as a probe timeout's two probes,
 * however often the application writes; what it writes meanwhile joins the
 * next one (a chat's every other message, 20 ms later).
 */

/** What waits to be sent, as the rule reads it. */
export interface WaitingData {
  hasNewData(): boolean;
  newDataFitsOnePacket(): boolean;
}

/**
 * The one rule, for the decision (the next data packet at `now` is a
 * new-data probe if `now` is at least this) and for the pacing timer's
 * deadline alike (nothing else may wake a connection whose probe waits out
 * its spacing: the window is full and the probe timer has backed off). When a
 * new-data probe may go: half a smoothed round trip after the last one, sent
 * at `lastSentAt`, once the probe timer has fired (`ptoCount` > 0) with new
 * data that fits one packet waiting; `Infinity`: none is wanted now. A
 * function of the connection's state, not an object: one more per
 * connection would be 56 bytes of heap every idle connection holds.
 */
export function newDataProbeAt(lastSentAt: number, ptoCount: number, srtt: number, waiting: WaitingData): number {
  if (ptoCount > 0 && waiting.hasNewData() && waiting.newDataFitsOnePacket()) return lastSentAt + srtt / 2;
  return Number.POSITIVE_INFINITY;
}
