/** The state a receiver keeps to answer its peer's BLOCKED frames (flow-control.ts acts on it). */

/**
 * A receiver's answer to its peer's BLOCKED frames, made at the first one: most connections (an idle
 * one, one of small messages) never see one, and these fields were 64 bytes in each of them.
 */
export interface BlockedAnswer {
  /** The limit the peer last said it waits for. */
  peerWants: number;
  /**
   * The limit answered for the message the BLOCKED waits for (0: none, or that message began):
   * credit up to it beyond `from` and the grant is that message's alone (`reserved`).
   */
  end: number;
  /** The limit when the BLOCKED was answered: the message it waits for begins at or below it. */
  from: number;
  /** What the reservation for that message takes of the party's share (`ReceivePool.mayReserve`), until the message begins. */
  reservedCharge: number;
  /**
   * The highest limit a BLOCKED was answered with that messages have not yet begun to fill (0: none):
   * the credit up to it beyond the grant and beyond `begun` is what counts in the party's share.
   */
  shareEnd: number;
  /** A BLOCKED waits unanswered because the party's share has no room for its reservation (the connection waits for credit meanwhile). */
  shareWaiting: boolean;
  /**
   * Overcommit answers this connection was given (`holdsOvercommit` while the last one's message has
   * not begun): the connection times each one from when its MAX_DATA leaves (connection/timeouts.ts).
   */
  overcommits: number;
  /** The limit answered from the overcommit that the messages begun (`begun`) have not yet filled (0: none). */
  overcommitEnd: number;
}
