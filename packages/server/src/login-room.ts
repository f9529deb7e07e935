/**
 * Room for connections that have not logged in. Before this, a server over
 * its memory budget refused every new connection, so hosts that opened
 * connections and never logged in (40 × 256 of them, SECURITY.md) locked
 * every honest user out until RSS fell, which outlived the attack by a
 * minute. Now a newcomer takes the place of the oldest connection that has
 * not logged in: those only ever displace each other, and a logged-in
 * connection is never closed for room.
 *
 * Oldest first, not largest: before login a connection holds at most its
 * 8 KiB receive window and 8 KiB of queued requests, so sizes differ by a
 * few KiB and "largest" would tell little apart, while age is O(1) to find
 * (a Map keeps insertion order) and bounds how long anyone may hold a slot
 * unauthenticated under pressure. An honest client logs in within a few
 * round trips of connecting, so it is among the youngest; a person typing
 * at the client's prompt keeps the slot while fewer than the pool's size of
 * newer connections arrive (see SECURITY.md).
 *
 * One is shed per arrival, never more: the work per new connection stays
 * bounded, and the pool does not grow while over the budget. Shedding more
 * to bring RSS back under the budget would not help soon: freed buffers are
 * returned to the system lazily (logins were still refused 60 s after an
 * attack stopped), so a drained pool would leave nothing to shed and every
 * newcomer refused again, which is the lockout this replaces.
 *
 * Per host too: rudp refuses a host's connection past its per-host limit in
 * the handshake, before the server sees it, so one address holding that many
 * connections that never log in shut out everyone behind the same NAT
 * address. A host's connections not logged in are held to half that limit
 * (`maxPerHost`, at each of its levels: an IPv6 /56 and /48 count as 4 and
 * 16 hosts, as rudp counts them): the host's newcomer then takes the place of
 * its own oldest one, and the other half stays for the host's logged-in users
 * and for newcomers. rudp stops counting a connection against its host once
 * it closes, so the ones closed here cannot fill the host while they drain.
 */
import type { HostLevel } from 'forum-protocol';

/** What {@link LoginRoom.admit} decided about a newcomer. */
export type Admission =
  /** Serve it; `shed`: why the oldest connection not logged in was closed to make room. */
  | { readonly kind: 'admitted'; readonly shed?: string }
  /** Refuse it as busy (over the memory budget, nothing left to shed). */
  | { readonly kind: 'refused'; readonly reason: string };

/**
 * Requests before login that make a connection the youngest: the login's two
 * steps (username, then password). More would let a host keep its idle
 * connections young for free: attack round 4 sent one `LST` a second on each
 * of 127 connections and, with one new connection every 200 ms, shed 8 of 8
 * neighbours typing their password for 2 s (none without the `LST`s), where
 * shedding costs 127 new connections, each a handshake, otherwise. With two,
 * a handshake buys at most three places in the order.
 */
export const TOUCHES_BEFORE_LOGIN = 2;

/**
 * Wrong passwords whose touches a connection gets back (three tries in all).
 * The login throttle alone does not bound refunds: `--login-attempts 0` turns
 * it off, and then a host's idle connections, each sending a username and a
 * wrong (plain-text, so free to check) password once a second, stayed the
 * youngest for ever, which is round 4's attack back.
 */
export const REFUNDS_BEFORE_LOGIN = 2;

/** A connection not logged in: how to close it, the host levels it counts at, and the touches it has left. */
interface Waiting {
  readonly close: (reason: string) => void;
  readonly levels: readonly HostLevel[];
  touchesLeft: number;
  /** Wrong passwords that may still give the touches back. */
  refundsLeft: number;
}

/** Counts the connections that have not logged in, oldest first, and makes room among them; see the file's comment. */
export class LoginRoom<K> {
  // Insertion order is age order: the first entry is the oldest (here and in each level's set).
  private readonly waiting = new Map<K, Waiting>();
  private readonly byLevel = new Map<string, Set<K>>();
  private shedSoFar = 0;

  constructor(
    /** Most connections not logged in at once; at it, a newcomer displaces the oldest. */
    readonly max: number,
    /** Most connections not logged in of one host (a /56 4 times, a /48 16 times); at it, the host's newcomer displaces the host's oldest. */
    readonly maxPerHost: number = Number.POSITIVE_INFINITY,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxConnectionsBeforeLogin must be a whole number of at least 1, not ${max}`);
    if (maxPerHost !== Number.POSITIVE_INFINITY && (!Number.isInteger(maxPerHost) || maxPerHost < 1)) {
      throw new RangeError(`the per-host limit of connections before login must be a whole number of at least 1, not ${maxPerHost}`);
    }
  }

  /** Connections closed to make room so far (for the log and tests). */
  get shed(): number {
    return this.shedSoFar;
  }

  /**
   * Decides on the newcomer `key`, whose `close` ends it with a reason the
   * peer sees. `overloaded`: why the server is over its memory budget, if it
   * is. At the budget or at {@link max}, the oldest connection not logged in
   * is closed and the newcomer takes its place; with none to close (only
   * possible over the budget) the newcomer is refused.
   */
  admit(key: K, close: (reason: string) => void, overloaded: string | undefined, levels: readonly HostLevel[] = []): Admission {
    // The host's own oldest first: a full host makes room within itself, whatever the rest of the server holds.
    const full = levels.find((l) => (this.byLevel.get(l.key)?.size ?? 0) >= this.maxPerHost * l.multiple);
    const why =
      full !== undefined
        ? `${this.maxPerHost * full.multiple} connections not logged in from ${full.multiple === 1 ? 'one host' : `the network ${full.key}`}`
        : (overloaded ?? (this.waiting.size >= this.max ? `${this.max} connections not logged in` : undefined));
    let shed: string | undefined;
    if (why !== undefined) {
      const oldest = full !== undefined ? this.byLevel.get(full.key)?.values().next().value : this.waiting.keys().next().value;
      if (oldest === undefined) return { kind: 'refused', reason: why };
      const { close: closeOldest } = this.waiting.get(oldest) as Waiting;
      // Forgotten before it is closed: its 'close' comes later, and the slot is the newcomer's now.
      this.leave(oldest);
      this.shedSoFar++;
      closeOldest(`server busy: ${why}; closed before login to make room, try again later`);
      shed = why;
    }
    this.enter(key, { close, levels, touchesLeft: TOUCHES_BEFORE_LOGIN, refundsLeft: REFUNDS_BEFORE_LOGIN });
    return shed === undefined ? { kind: 'admitted' } : { kind: 'admitted', shed };
  }

  /**
   * `key` sent a request: it becomes the youngest, so a client going
   * through the login's steps is shed only once as many connections as the
   * room holds arrived since its last step, not since it connected. Only
   * its first {@link TOUCHES_BEFORE_LOGIN} requests do: later ones leave its
   * age alone.
   */
  touch(key: K): void {
    const entry = this.waiting.get(key);
    if (entry === undefined || entry.touchesLeft === 0) return;
    entry.touchesLeft--;
    // Out and in again: the youngest here and at each of its levels (insertion order is age order).
    this.leave(key);
    this.enter(key, entry);
  }

  /**
   * `key`'s password was checked and wrong: it gets its touches back, so a
   * user who mistyped is shed no sooner on the second try than on the first.
   * Free age resets for an attacker? At most {@link REFUNDS_BEFORE_LOGIN}
   * per connection, each a handshake's worth, whatever the login throttle
   * (20 wrong passwords a minute per host by default, or off), where round
   * 4's attack needed over a hundred a second.
   */
  refundTouches(key: K): void {
    const entry = this.waiting.get(key);
    if (entry === undefined || entry.refundsLeft === 0) return;
    entry.refundsLeft--;
    entry.touchesLeft = TOUCHES_BEFORE_LOGIN;
  }

  /** Counts `key` as the youngest connection not logged in, here and at each of its levels. */
  private enter(key: K, entry: Waiting): void {
    this.waiting.set(key, entry);
    for (const { key: level } of entry.levels) {
      const set = this.byLevel.get(level);
      if (set === undefined) this.byLevel.set(level, new Set([key]));
      else set.add(key);
    }
  }

  /** `key` logged in (or closed): it no longer counts, and is never shed. */
  leave(key: K): void {
    const entry = this.waiting.get(key);
    if (entry === undefined) return;
    this.waiting.delete(key);
    for (const { key: level } of entry.levels) {
      const set = this.byLevel.get(level);
      set?.delete(key);
      if (set?.size === 0) this.byLevel.delete(level);
    }
  }

  /** Connections not logged in now. */
  get size(): number {
    return this.waiting.size;
  }
}
