import { decodeServerMessage, encodeRequest, type Notice, type Reply, type RequestCommand } from 'forum-protocol';
import type { CloseReason, RudpConnection } from 'rudpx';

/**
 * How far a request that got no reply went: `received` (the server's transport acknowledged it: it reached the
 * server, which may have carried it out), `unknown` (sent, and no acknowledgement came: it may or may not have
 * reached the server), `notSent` (it never left: the connection had ended, or refused it, before it was sent, or
 * ended while it was still queued, no byte of it sent: rudp's `sent: false`).
 */
export type Delivery = 'received' | 'unknown' | 'notSent';

/**
 * Why a request got no reply: `timeout` (none in time), `lost` (the
 * connection ended), `unsent` (refused before sending, e.g. larger than the
 * server takes: the connection is fine and the user may try another).
 */
export class LinkError extends Error {
  /** @param delivery how far the request went (an `unsent` one: `notSent`). */
  constructor(
    message: string,
    readonly kind: 'timeout' | 'lost' | 'unsent',
    readonly delivery: Delivery = kind === 'unsent' ? 'notSent' : 'unknown',
  ) {
    super(message);
    this.name = 'LinkError';
  }
}

/** rudp's codes for a send refused or failed because the connection ended or is ending (`RudpConnection.send`). */
const ENDED_CODES: ReadonlySet<unknown> = new Set(['ERR_RUDP_CLOSED', 'ETIMEDOUT', 'ECONNRESET']);

/** Whether a send's rejection says the connection ended or is ending (not that this one message was refused). */
const connectionEnding = (e: unknown): boolean => typeof e === 'object' && e !== null && 'code' in e && ENDED_CODES.has(e.code);

/**
 * Whether a send's rejection says some of its message left (rudp's `sent`, on a rejection because the connection
 * ended): `true` (it may have reached the server), `false` (no byte of it did), `undefined` (it does not say).
 */
const sentOf = (e: unknown): boolean | undefined => (typeof e === 'object' && e !== null && 'sent' in e && typeof e.sent === 'boolean' ? e.sent : undefined);

/**
 * Why the connection ended, in the client's words. A stateless reset (the server answered for a connection
 * it no longer has: it was restarted, or lost it) says so; it read as a silent server, `no reply within
 * 8 seconds`, after the whole request timeout (attack round 20).
 */
export const lostReason = (reason: CloseReason): string =>
  reason.kind === 'reset' ? 'the server no longer knows this session: it was restarted, or lost it; log in again' : reason.message;

/** What the link reports outside of request/reply. */
export interface LinkEvents {
  /** The server ended the session: logged it out for inactivity, or is shutting down. */
  notice(notice: Notice): void;
  /** The connection died while no request was waiting. */
  lost(reason: string): void;
}

/**
 * Bytes the connection must receive within a reply's wait for the wait to start again: a large reply arriving over a
 * slow or lossy path, not the keep-alives (some 30 bytes every 2 s) of a server that never answers.
 */
export const PROGRESS_BYTES = 4096;

/**
 * The most a reply is waited for, in reply timeouts, however much keeps arriving: the spec has an unreachable server
 * reported after a bounded time, and a broken or hostile server trickling {@link PROGRESS_BYTES} per timeout would
 * otherwise hold the client for ever (attack round 21's review). 16 × 8 s (the default) is 128 s: the protocol's
 * largest reply (8 MiB) at 64 KiB/s, twice the 46–75 s a 3.9 MiB RDT took on loopback losing half the server's packets.
 */
export const MAX_REPLY_WAITS = 16;

/**
 * How late, ms, a reply wait's timer may fire before the client counts itself paused through the wait (a SIGSTOP,
 * a starved CPU, a virtual machine held): such a wait starts over instead of ending. A timer fires before the poll
 * phase that reads the socket, so a reply that came during the pause still waits there unread when the timer fires;
 * acted on at once, forum-client stopped 9.3 s while its server answered its username said `Server unreachable: no
 * reply within 8 seconds` with the reply in its socket. Timers of a loaded machine run some ms late: no pause.
 */
export const PAUSED_LATE_MS = 1000;

/** How long {@link ServerLink.close} waits for the server to acknowledge the close, ms. */
export const CLOSE_GRACE_MS = 1000;

/** How {@link ServerLink.close} ends the connection. */
export interface CloseOptions {
  /** The longest wait for the server's acknowledgement, ms (default {@link CLOSE_GRACE_MS}). */
  readonly graceMs?: number;
  /** Aborting it drops the connection at once (a signal while the client is on its way out). */
  readonly signal?: AbortSignal;
}

interface Waiting {
  resolve(reply: Reply): void;
  reject(e: LinkError): void;
  timer: NodeJS.Timeout;
  /** The server's transport acknowledged the request (rudp's send resolved). */
  received: boolean;
}

/**
 * Requests over one rudp connection: each gets a fresh id, its reply is
 * matched by id, and a request with no reply within `timeoutMs` fails (the
 * client then says the server is unreachable instead of hanging), unless
 * {@link PROGRESS_BYTES} or more arrived meanwhile: a large reply still
 * arriving gets another `timeoutMs`, and so on while it keeps coming, up to
 * {@link MAX_REPLY_WAITS} × `timeoutMs` in all.
 */
export class ServerLink {
  private nextId = 0;
  private readonly waiting = new Map<string, Waiting>();
  private closing = false;
  /** Why the connection ended (`connection lost (…)`), once it has and not by {@link close}. */
  private lostWith: string | undefined;
  /** Messages from the server that could not be decoded, and why the last one could not. */
  private unreadable = 0;
  private lastUnreadable = '';

  constructor(
    private readonly conn: RudpConnection,
    private readonly timeoutMs: number,
    private readonly events: LinkEvents,
  ) {
    conn.on('message', (bytes) => {
      const decoded = decodeServerMessage(bytes);
      // Not matched to a request (its id may be what could not be read): counted, and said if a request then times out.
      if (decoded._tag === 'Left') {
        this.unreadable++;
        this.lastUnreadable = decoded.left.reason;
        return;
      }
      const message = decoded.right;
      if (message.type === 'notice') {
        this.events.notice(message);
        return;
      }
      const w = this.waiting.get(message.id);
      if (w === undefined) return;
      this.waiting.delete(message.id);
      clearTimeout(w.timer);
      w.resolve(message);
    });
    conn.on('close', (reason) => {
      if (this.closing) return;
      const message = `connection lost (${lostReason(reason)})`;
      this.lostWith = message;
      const hadWaiting = this.waiting.size > 0;
      // A request not acknowledged is left to its send's rejection, which rudp made before telling this 'close' and
      // which says whether any of it left (`sent`): one still queued behind flow or congestion control never did, and
      // was said to "may or may not have reached the server". Its handler runs once this listener returns.
      for (const [id, w] of this.waiting) {
        if (!w.received) continue;
        this.waiting.delete(id);
        clearTimeout(w.timer);
        w.reject(new LinkError(message, 'lost', 'received'));
      }
      // After those handlers: a send that did not settle with the close (rudp's always does) is lost, its fate unknown.
      if (this.waiting.size > 0) queueMicrotask(() => this.rejectWaiting(message));
      if (!hadWaiting) this.events.lost(message);
    });
  }

  /** Rejects every request still waiting as lost with `message`, not knowing whether it reached the server. */
  private rejectWaiting(message: string): void {
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new LinkError(message, 'lost', w.received ? 'received' : 'unknown'));
    }
    this.waiting.clear();
  }

  /** Sends `cmd args` and resolves with the server's reply. `username` is informational; the server ignores it. */
  request(cmd: RequestCommand, args: readonly string[], username = ''): Promise<Reply> {
    // Made once close() began (past its clearing of the timers): sent, it armed a timer nothing cleared and waited for
    // ever, its send's rejection ignored as the link closed (review of attack round 28). It never leaves.
    if (this.closing) return Promise.reject(new LinkError('request not sent: the connection is closing', 'lost', 'notSent'));
    const id = String(++this.nextId);
    const bytes = encodeRequest({ id, username, cmd, args });
    // Checked here for a reason the user can act on; rudp would refuse it with its own words.
    const max = this.conn.maxMessageSize();
    if (bytes.length > max) return Promise.reject(new LinkError(`the request is ${bytes.length} bytes, more than the ${max} the server takes now`, 'unsent'));
    // Made after the connection ended (its 'close' already told): it never leaves. Said so, not "may or may not have
    // reached the server" of a change that certainly did not.
    if (this.conn.closed) return Promise.reject(new LinkError(`request not sent: ${this.lostWith ?? 'the connection had ended'}`, 'lost', 'notSent'));
    const unreadableBefore = this.unreadable;
    return new Promise<Reply>((resolve, reject) => {
      const started = performance.now();
      let seen = this.conn.stats().bytesReceived;
      // Counted in whole timeouts, not against a clock deadline: a deadline left a last stretch of a few ms when timers
      // ran late (a loaded machine), too short for any reply to show progress, and the wait was then reported as if
      // nothing had been arriving (CI, session 42).
      let waits = 1;
      let due = started + this.timeoutMs;
      const waitAgain = (): void => {
        waits++;
        due = performance.now() + this.timeoutMs;
        waiting.timer = setTimeout(expire, this.timeoutMs);
      };
      const expire = (): void => {
        if (this.closing) return;
        // Paused through the wait (see PAUSED_LATE_MS): the reply may be in the socket, read in the poll phase after this one.
        if (performance.now() - due > PAUSED_LATE_MS && waits < MAX_REPLY_WAITS) {
          waitAgain();
          return;
        }
        // A reply on its way: a 3.9 MiB thread over a path losing half the server's packets took over 8 s, and the
        // client gave up on it, saying the server was unreachable while its reply kept arriving (attack round 21).
        const now = this.conn.stats().bytesReceived;
        const arriving = now - seen >= PROGRESS_BYTES;
        if (arriving && waits < MAX_REPLY_WAITS) {
          seen = now;
          waitAgain();
          return;
        }
        this.waiting.delete(id);
        // A reply too large or malformed to decode read as a silent server: "no reply", and nothing else.
        const unread = this.unreadable - unreadableBefore;
        const why = unread === 0 ? '' : `; meanwhile the server sent ${unread} ${unread === 1 ? 'message' : 'messages'} this client cannot read (the last: ${this.lastUnreadable})`;
        const waited = Math.round((performance.now() - started) / 1000);
        const within = Math.round(this.timeoutMs / 1000);
        const span = arriving
          ? `${waited} seconds, the most a reply is waited for, though bytes were still arriving`
          : waits > 1
            ? `${waited} seconds, the last ${within} with next to nothing arriving`
            : `${within} seconds`;
        reject(new LinkError(`no reply within ${span}${why}`, 'timeout', waiting.received ? 'received' : 'unknown'));
      };
      const waiting: Waiting = { resolve, reject, timer: setTimeout(expire, this.timeoutMs), received: false };
      this.waiting.set(id, waiting);
      // A request rudp refuses fails now, saying why, instead of waiting out the timeout as if the
      // server had not answered. A closed connection's sends fail too; its 'close' has already
      // rejected the request then.
      this.conn.send(bytes).then(
        () => {
          // Acknowledged: in the server's receive buffer. A reply that then never comes leaves its outcome unknown.
          waiting.received = true;
        },
        (e: unknown) => {
          const w = this.waiting.get(id);
          // Rejected as this link closes the connection itself (the client is on its way out, the request's outcome moot):
          // it was sent, and its rejection is no news. Reported, it read `Server unreachable: request not sent: …
          // close aborted` after a shutdown notice, of a message that had left.
          if (w === undefined || this.closing) return;
          this.waiting.delete(id);
          clearTimeout(w.timer);
          const sent = sentOf(e);
          // Pending as the connection ended (its 'close' told, and left this request to this rejection): lost, and
          // not sent if rudp says no byte of it left (queued behind flow or congestion control, or earlier requests).
          if (this.lostWith !== undefined) {
            w.reject(sent === false ? new LinkError(`request not sent: ${this.lostWith}`, 'lost', 'notSent') : new LinkError(this.lostWith, 'lost', 'unknown'));
            return;
          }
          // Refused as it was queued, it never left (unless rudp says some of it did). By a connection that has ended
          // or is ending (a close draining, its 'close' not told yet): lost, not a request to change. Taken for
          // `unsent` while it drained, it read `Not sent: …` as of a request too large, and the client went on
          // prompting on a dead session.
          const kind = this.conn.closed || connectionEnding(e) ? 'lost' : 'unsent';
          const text = e instanceof Error ? e.message : String(e);
          w.reject(sent === true ? new LinkError(text, kind, 'unknown') : new LinkError(`request not sent: ${text}`, kind, 'notSent'));
        },
      );
    });
  }

  /**
   * Closes the connection gracefully: waits for the server to acknowledge, giving up after
   * `options.graceMs` (default {@link CLOSE_GRACE_MS}), or at once when `options.signal` aborts.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    const { graceMs = CLOSE_GRACE_MS, signal } = options;
    this.closing = true;
    // A request still waiting is moot once the link closes itself: a reply in the grace is still taken, but no
    // timeout is told after it. Its timer went on, and fired its rejection minutes later, unhandled, into whatever
    // ran in the process then (a test file after this one, in CI).
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([this.conn.close(signal === undefined ? undefined : { signal }), new Promise((resolve) => (grace = setTimeout(resolve, graceMs).unref()))]);
    clearTimeout(grace);
    this.conn.destroy();
  }
}
