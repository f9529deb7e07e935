/**
 * The sender's side of flow control: a message may leave only once the peer's announced limit covers
 * its last byte (messages are delivered whole, so one must fit the peer's window); while one waits past
 * it, a BLOCKED frame says so, once per limit.
 */

/**
 * The peer's limit and window, and the BLOCKED owed while a message waits past the limit: the base of
 * `FlowControl`, so both directions stay one object per connection (a server holds 10,000 idle ones).
 */
export class PeerLimit {
  /** Stream offset up to which the peer lets us send. */
  private peerLimit: number;
  /** The peer's window (the largest message it takes is `MESSAGE_CREDIT` less). */
  private peerWindowBytes: number;
  /**
   * Sender: the limit we last found ourselves waiting for (the end of the message that does not fit).
   * Declared bare and set in the constructor, as every stream offset here: a field V8 first sees as a
   * small integer (`= 0`) becomes a 16-byte box in every connection once one passes 2^31 (2 GiB sent).
   */
  protected blockedAt: number;
  /** Sender: a BLOCKED frame is owed. */
  protected blockedDue = false;

  constructor(peerWindow: number, peerLimit: number) {
    this.peerLimit = peerLimit;
    this.peerWindowBytes = peerWindow;
    this.blockedAt = 0;
  }

  /** The peer's window (before the handshake completes, our own stands in for it); a message takes `creditOf` its length of it. */
  get peerWindow(): number {
    return this.peerWindowBytes;
  }

  /** The handshake told us the peer's window and the limit it grants at first (at most the window). */
  setPeerWindow(window: number, limit = window): void {
    this.peerLimit = limit;
    this.peerWindowBytes = window;
  }

  /**
   * Whether the peer has room for the stream up to `streamEnd` (counted in
   * `creditOf` each message). When it has not, a BLOCKED frame asking for
   * that limit is owed, once per limit (see `onBlockedLost`).
   */
  allows(streamEnd: number): boolean {
    if (streamEnd <= this.peerLimit) return true;
    if (streamEnd > this.blockedAt) {
      this.blockedAt = streamEnd;
      this.blockedDue = true;
    }
    return false;
  }

  /**
   * The peer raised its limit (MAX_DATA). `startedStreamEnd` is the stream
   * offset past every message we have begun to send: the peer cannot have
   * read more, so its window is at least `limit − startedStreamEnd`, and a
   * limit beyond our estimate of its window plus that says the window grew
   * (`raiseReceiveWindow` at the peer, which also says so in WINDOW: see
   * `onWindow`; whichever arrives first). For a window that never changed
   * this reads no more than the window, so nothing changes.
   */
  onMaxData(limit: number, startedStreamEnd: number): void {
    if (limit > this.peerLimit) this.peerLimit = limit;
    if (limit - startedStreamEnd > this.peerWindowBytes) this.peerWindowBytes = limit - startedStreamEnd;
    if (this.blockedAt <= this.peerLimit) this.blockedDue = false;
  }

  /**
   * The peer announced its receive window (WINDOW: `raiseReceiveWindow` at the peer). Taken only if
   * larger: a window never shrinks (a copy of an older announcement, or a hostile peer's smaller one,
   * changes nothing). Messages up to it may then be sent, waiting for the limit (BLOCKED) where it is
   * short: before, the window was learnt only from a MAX_DATA's limit, so a raise the peer's budget had
   * no credit for went unheard, and `send` refused what the raise was for.
   */
  onWindow(window: number): void {
    if (window > this.peerWindowBytes) this.peerWindowBytes = window;
  }

  /** A packet that carried BLOCKED was lost: say it again while still waiting. */
  onBlockedLost(): void {
    if (this.blockedAt > this.peerLimit) this.blockedDue = true;
  }
}
