/**
 * The replies one connection holds until its peer acknowledges them, and
 * what a request of it waits for before it runs: its own backlog under
 * `REPLY_BACKLOG_BYTES`, then room at its host's (and the server's) reply
 * budget (reply-budget.ts), each with a grace that grows with the bytes held.
 * Every reply is charged to the budget when sent and released when
 * acknowledged, or all at once when the connection closes.
 */
import { encodeServerMessage, type EncodedLinesCache, type HostLevel, MAX_SERVER_MESSAGE_BYTES, type ServerMessage } from 'forum-protocol';
import type { RudpConnection } from 'rudpx';
import { SERVER_SCOPE, type ReplyBudget, type ReplyCharge, type ReplyHolder, type RoomTicket } from './reply-budget.js';
import { within } from './within.js';

/**
 * Unacknowledged replies, counted as the transport's `writableLength` (their
 * bytes and 256 more each, what a queued message costs), above which no
 * further request of the connection is run until the peer acknowledges: a
 * client that stops acknowledging while it sends small requests would
 * otherwise make the server hold every reply (counted in bytes alone, some
 * 25,000 replies of 40 bytes). The most held per connection is this plus
 * one reply (≤ MAX_SERVER_MESSAGE_BYTES).
 */
export const REPLY_BACKLOG_BYTES = 1024 * 1024;
/**
 * How long the peer gets to acknowledge its backlog before the connection is
 * closed: a base plus time at a slow 64 KB/s for the bytes held, so a large
 * RDT over a poor link is not cut off, while a peer that never acknowledges is.
 */
const BACKLOG_GRACE_MS = 30_000;
const BACKLOG_BYTES_PER_MS = 64;
/** What the transport counts a queued message at beyond its bytes (`writableLength`). */
export const MESSAGE_OVERHEAD = 256;
/**
 * What a request that may be answered with a whole thread or the list of
 * threads reserves of its host's reply budget while it runs: the largest
 * reply, as the transport counts it. Reserved before the reply is built, so
 * connections of one host that run at once cannot all pass a budget that
 * each saw free. It covers the building too: a reply is written once into
 * the buffer sent (forum-protocol's reply-bytes.ts), at most
 * MAX_SERVER_MESSAGE_BYTES, an RDT's at most half that.
 */
export const LARGE_REPLY_RESERVATION = MAX_SERVER_MESSAGE_BYTES + MESSAGE_OVERHEAD;
/**
 * What any other request reserves: its reply is a line or a few (a login
 * step, `Message posted`, a transfer token, an error). Small, so that while a
 * host's silent connections keep its budget nearly full with threads, a
 * neighbour behind the same address can still log in and post.
 */
export const SMALL_REPLY_RESERVATION = 64 * 1024;
/** Commands whose reply may be as large as a message may be. */
export const LARGE_REPLY: ReadonlySet<string> = new Set(['LST', 'RDT']);
/** What a request that reserves nothing holds (its reply is still charged when sent). */
export const NO_RESERVATION: ReplyCharge = { bytes: 0, release: () => undefined };
/**
 * How often a request waiting for room checks again without a release (the
 * holders it may close for it become stale with time, not with a release).
 */
const ROOM_CHECK_MS = 1_000;
/** What is left, ms, of the grace a peer gets to acknowledge `bytes` held, for a wait that began at `started` (`performance.now()`). */
const graceLeft = (started: number, bytes: number): number => started + BACKLOG_GRACE_MS + bytes / BACKLOG_BYTES_PER_MS - performance.now();

/** What the replies of a connection need of the server (a part of `ServerContext`). */
export interface ReplyContext {
  readonly replyBudget: ReplyBudget;
  readonly linesCache: EncodedLinesCache;
  readonly logFromHost: (address: string, kind: string, line: string) => void;
}

/** Whom a connection's replies are charged to: its peer as the handshake validated it (client-connection.ts, `peerAddressOf`). */
export interface ReplyPeer {
  /** `host:port`, for the log lines the peer causes. */
  readonly peerAddress: string;
  /** Its host (`hostOf`): the key of the per-host budget. */
  readonly host: string;
  /** The host and its IPv6 prefixes, each with its share of the reply budget. */
  readonly levels: readonly HostLevel[];
  /** What shares the server's reply budget as one: an IPv4 address, an IPv6 /48 (reply-budget.ts, `partyOf`). */
  readonly partyKey: string;
}

/** A connection's replies: sending them, and the waits of its requests for room. */
export interface HeldReplies {
  /** This connection as the budget sees it: a request waiting for room may close it when its oldest reply has gone unacknowledged too long. */
  readonly holder: ReplyHolder;
  /** Sends `message`, charged until acknowledged; returns its encoded size. */
  readonly send: (message: ServerMessage) => number;
  /** Waits until the host's and the server's reply budget have room for `reserve` bytes and reserves them; `timeout` once the grace passed, `closed` if the connection ended. */
  readonly hostRoom: (reserve: number, large: boolean) => Promise<ReplyCharge | 'timeout' | 'closed'>;
  /** Waits until the reply backlog is under {@link REPLY_BACKLOG_BYTES}; `false` if the peer let the grace time pass. */
  readonly backlogDrained: () => Promise<boolean>;
  /** Releases every reply still charged (the connection closed: the transport let go of them). */
  readonly releaseCharges: () => void;
}

/** The replies of `conn`, served for `peer`; `finished()`: the connection's session has ended (its waits end too). */
export const heldReplies = (conn: RudpConnection, ctx: ReplyContext, peer: ReplyPeer, finished: () => boolean): HeldReplies => {
  const { peerAddress, host, levels, partyKey } = peer;
  // Replies the peer has not acknowledged yet, oldest first (a Set keeps insertion order).
  const unacked = new Set<Promise<void>>();
  // This connection's share of its host's reply budget: released when acknowledged, or all at once on 'close'.
  const charges = new Set<ReplyCharge>();
  const releaseCharges = (): void => {
    for (const c of charges) c.release();
    charges.clear();
  };
  // This connection as the budget sees it: when its oldest reply has gone unacknowledged too long, a request
  // waiting for room may close it (the holder goes, not the waiter).
  const replyHolder: ReplyHolder = {
    levels,
    evict: (reason) => {
      ctx.logFromHost(peerAddress, 'Client is not acknowledging replies', `Client is not acknowledging replies while others wait (${conn.bufferedAmount} bytes held), disconnecting`);
      conn.destroy(reason);
    },
  };
  /** Sends `message`; returns its encoded size. */
  const send = (message: ServerMessage): number => {
    // Each reply its own buffer (a copy of cached lines, never them): what the budget charges is what it holds.
    const bytes = encodeServerMessage(message, ctx.linesCache);
    const charge = ctx.replyBudget.charge(levels, bytes.length + MESSAGE_OVERHEAD, { holder: replyHolder, at: performance.now() });
    charges.add(charge);
    // Settles on the acknowledgement, and rejects (caught) when the connection ends: either way released, once.
    const p: Promise<void> = conn.send(bytes).catch(() => undefined);
    unacked.add(p);
    void p.then(() => {
      unacked.delete(p);
      charge.release();
      charges.delete(charge);
    });
    return bytes.length;
  };

  /**
   * Waits until the reply budget has room for `reserve` bytes more at every level of the host and at the server
   * (`large`: a reply that may be a whole thread), and reserves them; `timeout` if the grace time passed first
   * (as {@link backlogDrained}'s, for the bytes held where it waits), `closed` if the connection ended meanwhile.
   * While it waits it may close stale holders heavier than itself (reply-budget.ts, `evictStale`).
   */
  const hostRoom = async (reserve: number, large: boolean): Promise<ReplyCharge | 'timeout' | 'closed'> => {
    // A duration: not the wall clock, which NTP may step (an hour ahead ended every wait at its next wake-up).
    const started = performance.now();
    // Its place in its party's turn at the server, given up however the wait ends.
    const ticket = ctx.replyBudget.ticket();
    try {
      return await waitForRoom(reserve, large, started, ticket);
    } finally {
      ticket.done();
    }
  };

  const waitForRoom = async (reserve: number, large: boolean, started: number, ticket: RoomTicket): Promise<ReplyCharge | 'timeout' | 'closed'> => {
    let logged = false;
    for (;;) {
      if (finished() || conn.closed) return 'closed';
      const full = ctx.replyBudget.tryReserve(levels, reserve, large, ticket);
      if (!('key' in full)) return full;
      // What its grace grows with: where it waits, or at the server its own party's bytes (all of the server's,
      // 256 MiB at 64 KB/s, would be over an hour).
      const held = ctx.replyBudget.bytesOf(full.key === SERVER_SCOPE ? partyKey : full.key);
      if (!logged) {
        logged = true;
        if (full.key === SERVER_SCOPE) {
          ctx.logFromHost(
            peerAddress,
            'Server reply budget is short',
            `Server reply budget is short for client host ${host} (${ctx.replyBudget.bytes} bytes unacknowledged in all, ${held} by its ${partyKey === host ? 'host' : 'prefix'}), request waits`,
          );
        } else {
          ctx.logFromHost(peerAddress, 'Client host is over its reply budget', `Client host ${full.key} is over its reply budget (${held} bytes unacknowledged), request waits`);
        }
      }
      // Holders closed for it: their room is taken before anyone else is woken (reply-budget.ts, evictStale).
      if (ctx.replyBudget.evictStale(replyHolder, full, reserve, large, performance.now()) > 0) continue;
      const left = graceLeft(started, held);
      if (left <= 0) return 'timeout';
      // A listener per wait, removed after it: racing one promise settled only at the close would leave a reaction
      // on it at every wake (some 300 bytes, kept for the connection's life; client-connection-host-room.test.ts).
      let onClose: (() => void) | undefined;
      // Ends its place in the server's line if it wakes otherwise (timer, close).
      const waiting = new AbortController();
      const woken = await within(
        Promise.race([
          ctx.replyBudget.released(full.wakeKey ?? full.key, waiting.signal).then(() => 'released' as const),
          // Its connection ended: nothing left to wait for.
          new Promise<'closed'>((resolve) => conn.once('close', (onClose = () => resolve('closed')))),
        ]),
        Math.min(left, ROOM_CHECK_MS),
        left <= ROOM_CHECK_MS ? ('timeout' as const) : ('check' as const),
      );
      if (onClose !== undefined) conn.off('close', onClose);
      waiting.abort();
      if (woken === 'closed' || woken === 'timeout') return woken;
    }
  };

  /** Waits until the reply backlog is under {@link REPLY_BACKLOG_BYTES}; `false` if the peer let the grace time pass. */
  const backlogDrained = async (): Promise<boolean> => {
    // A duration: the wall clock may be stepped (see hostRoom).
    const started = performance.now();
    while (!finished() && conn.writableLength > REPLY_BACKLOG_BYTES) {
      const oldest = unacked.values().next().value;
      if (oldest === undefined) return true;
      const left = graceLeft(started, conn.writableLength);
      if (left <= 0 || !(await within(oldest.then(() => true), left, false))) return false;
    }
    return true;
  };

  return { holder: replyHolder, send, hostRoom, backlogDrained, releaseCharges };
};
