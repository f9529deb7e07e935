/**
 * Bytes of replies sent and not yet acknowledged, summed over the connections
 * of one client host and over the whole server. Each connection's backlog is
 * bounded (1 MiB plus the reply that crossed it, `REPLY_BACKLOG_BYTES`), but
 * nothing bounded the sum: 20 logged-in accounts of one host, each behind a
 * proxy that drops what the server sends and asking for a 3.9 MiB thread,
 * held the server +180–220 MiB until the transport let them go 10–15 s later
 * (attack round 8, `attack/many-accounts-backlog.ts`); 256 accounts some 2 GiB.
 *
 * Counted as every other per-host limit (`hostLevelsOf`): an IPv4 address or
 * an IPv6 /64 gets {@link ReplyBudgetLimits.perHost}, its /56 four times and
 * its /48 sixteen times. The host budget alone still let N hosts (a botnet,
 * an IPv6 /32 with its 65,536 /48s) hold N × 32 MiB, so the server counts
 * the sum too ({@link ReplyBudgetLimits.total}). A request reserves what its
 * reply may take before it runs and only runs if that fits at every level
 * and at the server, checked and charged in one synchronous step
 * ({@link ReplyBudget.tryReserve}), so requests running at once cannot all
 * pass a budget that each saw free.
 *
 * Fairness when the server's budget is short. A "party" is a client host's
 * coarsest level (an IPv4 address, an IPv6 /48): what no per-host limit
 * splits further. Four rules, each simple to state and to test:
 * - Fair share: once the server is past half its budget
 *   ({@link SHARE_BINDS_FROM}), a party may hold at most the budget divided
 *   by the parties holding (itself counted), and never less than
 *   {@link ReplyBudgetLimits.minShare}. Room freed by anyone's
 *   acknowledgement then goes to parties under their share: those holding
 *   more wait first, whatever order the waiters wake in.
 * - Room for small replies: a request that may be answered with a whole
 *   thread (LST, RDT) may not take the last {@link SMALL_ROOM_DIVISOR}th of
 *   the server budget, so logins, posts and the other one-line replies of
 *   every host still run while silent connections fill the rest with threads.
 * - Turns for large replies (reply-turns.ts): while large reservations of
 *   several parties wait for room, the party holding and asking for least
 *   goes first, and only its requests are woken.
 * - The holder goes, not the waiter: a request that waits may close
 *   connections whose oldest reply has been unacknowledged past a bound
 *   ({@link staleAfter}: a base plus 1 ms per KiB of that reply, time for an
 *   honest client to receive it at 1 MiB/s) and that hold more than it does
 *   (at the server: of another party holding more than the waiter's party;
 *   at a host level, or in its own party when that party is past its
 *   fair share: a connection of that host, prefix or party holding more
 *   than the waiting one). Heaviest first, only as many as
 *   free the room it needs, and at most one search per scope every
 *   {@link EVICTION_SCAN_INTERVAL_MS}. Before, the waiter's grace ran out
 *   and the waiter was closed while the silent holders stayed.
 *
 * Pure: time is passed in, the caller waits (and times out) on
 * {@link ReplyBudget.released}, and eviction calls the holder's `evict`.
 */
import type { HostLevel } from 'forum-protocol';
import { ReplyTurns, type RoomTicket } from './reply-turns.js';

export type { RoomTicket } from './reply-turns.js';

/**
 * Default per-host budget, bytes. Four largest replies (`MAX_SERVER_MESSAGE_BYTES`,
 * 8 MiB) or 32 connections' full backlogs (`REPLY_BACKLOG_BYTES`, 1 MiB): honest
 * users behind one NAT address acknowledge within a round trip, so they rarely
 * hold more than a few replies in flight together, while a host of silent
 * connections is held to this instead of N × 5–10 MiB.
 */
export const REPLY_BUDGET_PER_HOST = 32 * 1024 * 1024;

/**
 * Default server-wide budget when no memory budget is set, bytes (with one,
 * `--memory-budget-mib` ÷ {@link REPLY_BUDGET_MEMORY_DIVISOR}, the same
 * 256 MiB at the default 1 GiB). Measured, a byte held costs the server about
 * a byte of resident memory, since replies are encoded once and a closed
 * connection lets go of its own (256 MiB held: RSS +307 to +320 MiB, +62 of
 * it the 320 attacking sessions; it was +464 to +478, SECURITY.md), so a
 * quarter of the memory budget keeps the replies of any number of silent
 * hosts under it, with room for garbage not yet collected; eight hosts at
 * their full 32 MiB fill it.
 */
export const DEFAULT_MAX_REPLY_BYTES = 256 * 1024 * 1024;
/** The memory budget's share the server-wide reply budget gets by default: a quarter (see {@link DEFAULT_MAX_REPLY_BYTES}). */
export const REPLY_BUDGET_MEMORY_DIVISOR = 4;
/** The least server-wide budget taken: two largest replies (8 MiB and 256 each), so one of them fits outside the small replies' room. */
export const MIN_MAX_REPLY_BYTES = 16 * 1024 * 1024 + 512;
/** The fraction of the server budget past which a party's fair share binds (see {@link ReplyBudget.shareExcess}). */
export const SHARE_BINDS_FROM = 0.5;
/** The part of the server budget only small reservations may take: its last eighth (32 MiB of the default 256 MiB). */
export const SMALL_ROOM_DIVISOR = 8;
/** Default {@link ReplyBudgetLimits.staleAfterMs}: far above a round trip, well under the transport's 10 s before it drops a peer that acknowledges nothing. */
export const STALE_AFTER_MS = 5_000;
/** A reply's bytes an honest client is given a millisecond to receive before it counts as stale: 1 KiB/ms, about 1 MiB/s. */
const STALE_BYTES_PER_MS = 1024;
/** Searches for stale holders, per scope, at most this often: each walks the holders of its scope. */
export const EVICTION_SCAN_INTERVAL_MS = 250;
/** The scope key of the server-wide budget (no host key has a `*`). */
export const SERVER_SCOPE = '*server*';

/** Bounds of {@link ReplyBudget}, bytes. */
export interface ReplyBudgetLimits {
  /** The budget of a host level of multiple 1; must hold one largest reservation. */
  readonly perHost: number;
  /** All unacknowledged reply bytes of the server. Default {@link DEFAULT_MAX_REPLY_BYTES}. */
  readonly total?: number;
  /** The least fair share of a party (default {@link MIN_MAX_REPLY_BYTES}, two largest reservations; never more than `total`). */
  readonly minShare?: number;
  /** How long a reply may stay unacknowledged, besides 1 ms per KiB of it, before its connection may be closed for a waiter. Default {@link STALE_AFTER_MS}. */
  readonly staleAfterMs?: number;
}

/** Bytes charged to a host's levels and the server; {@link release} gives them back once, however often it is called. */
export interface ReplyCharge {
  readonly bytes: number;
  /** Uncounts the bytes at every level; later calls do nothing. */
  release(): void;
}

/** Where a reservation did not fit: a host level, or the server ({@link SERVER_SCOPE}). */
export interface Blocked {
  /** The level's key, or {@link SERVER_SCOPE}. */
  readonly key: string;
  /** The host level, when it is one. */
  readonly level?: HostLevel;
  /** What to wait on with {@link ReplyBudget.released}, when not `key`: the party's own releases, or its turn in the queue. */
  readonly wakeKey?: string;
}

/** One connection's replies as the budget tracks them, to say how long its oldest has been unacknowledged and whom to close. */
export interface ReplyHolder {
  readonly levels: readonly HostLevel[];
  /** Closes the connection (its charges are released by the budget first, and by the caller's `close` again, which does nothing more). */
  readonly evict: (reason: string) => void;
}

interface ReplyEntry {
  readonly bytes: number;
  readonly at: number;
  /** Its charge's release (set once the charge is made). */
  release: () => void;
}

interface HolderState {
  readonly holder: ReplyHolder;
  /** Its unacknowledged replies (not reservations), oldest first: a Set keeps insertion order. */
  readonly replies: Set<ReplyEntry>;
  bytes: number;
}

/** Closed for a waiter: why, as the connection and its log line say. */
export const EVICTED_REASON = 'replies not acknowledged while others wait';

/** Counts unacknowledged reply bytes per host level and in all; see the file's comment. */
export class ReplyBudget {
  readonly perHost: number;
  readonly total: number;
  readonly minShare: number;
  readonly staleAfterMs: number;
  private readonly held = new Map<string, number>();
  private sum = 0;
  /** What of {@link sum} is replies sent (charged with a holder), not reservations. */
  private replySum = 0;
  /** Coarsest level keys holding bytes: the parties sharing the server budget. */
  private readonly parties = new Set<string>();
  private readonly states = new Map<ReplyHolder, HolderState>();
  /** Holders with unacknowledged replies under each level key (the coarsest is the party). */
  private readonly holdersByKey = new Map<string, Set<HolderState>>();
  private readonly lastScan = new Map<string, number>();
  /** Parties whose large reservations wait for room at the server: the first is served first (see {@link tryReserve}). */
  private readonly turns = new ReplyTurns(
    (party) => this.held.get(party) ?? 0,
    () => this.wakeFirst(),
    // Its turn's wake-up is settled (nobody waits on it now), not kept for a party that may never wait again.
    (party) => this.settle(`${SERVER_SCOPE}${party}`),
  );
  // Per key, not one for all: a release wakes only who waits on that host or prefix, so the acknowledgements of
  // every other host do not make each waiter check again.
  private readonly wakes = new Map<string, { readonly promise: Promise<void>; readonly resolve: () => void }>();
  /** The server's waiters, in the order they began waiting (see {@link wakeServerWaiters}). */
  private readonly serverWaiters = new Set<() => void>();

  /** `perHost` alone (the old form) or the limits; see {@link ReplyBudgetLimits}. */
  constructor(limits: number | ReplyBudgetLimits) {
    const l = typeof limits === 'number' ? { perHost: limits } : limits;
    if (!(l.perHost > 0)) throw new RangeError(`reply budget must be positive, got ${l.perHost}`);
    const total = l.total ?? DEFAULT_MAX_REPLY_BYTES;
    if (!(total > 0)) throw new RangeError(`server reply budget must be positive, got ${total}`);
    this.perHost = l.perHost;
    this.total = total;
    // Two largest reservations (8 MiB and 256 each), not 16 MiB flat: at 16 MiB a party at the floor could never
    // hold one largest reply while its next LST or RDT reserved another.
    this.minShare = Math.min(total, l.minShare ?? MIN_MAX_REPLY_BYTES);
    this.staleAfterMs = l.staleAfterMs ?? STALE_AFTER_MS;
  }

  /** The first (finest) of `levels` where `bytes` more would pass its budget, or `undefined`: they fit at every host level. */
  wouldOverflow(levels: readonly HostLevel[], bytes: number): HostLevel | undefined {
    for (const level of levels) if ((this.held.get(level.key) ?? 0) + bytes > this.perHost * level.multiple) return level;
    return undefined;
  }

  /** A party's fair share of the server budget now: the budget over the parties holding, `party` counted. */
  fairShare(party: string): number {
    const n = this.parties.size + (this.parties.has(party) ? 0 : 1);
    return Math.max(this.total / n, this.minShare);
  }

  /**
   * How far `bytes` more would take `party` past its fair share, or 0. The
   * share binds only once they would take the server past
   * {@link SHARE_BINDS_FROM} of its budget: before that there is room for
   * everyone, and a share of a budget mostly free held a NAT address of
   * many readers to two or three threads in flight (13 parties holding a
   * few bytes each made it 19.7 MiB of an empty 256 MiB).
   */
  shareExcess(party: string, bytes: number): number {
    if (this.sum + bytes <= this.total * SHARE_BINDS_FROM) return 0;
    return Math.max(0, (this.held.get(party) ?? 0) + bytes - this.fairShare(party));
  }

  /**
   * Where `bytes` more for `levels` do not fit, or `undefined`. `large`: a
   * reservation for a reply that may be a whole thread, kept out of the
   * server's last {@link SMALL_ROOM_DIVISOR}th.
   */
  blockedAt(levels: readonly HostLevel[], bytes: number, large: boolean): Blocked | undefined {
    const level = this.wouldOverflow(levels, bytes);
    if (level !== undefined) return { key: level.key, level };
    if (this.sum + bytes > this.serverLimit(large)) return { key: SERVER_SCOPE };
    if (this.shareExcess(partyOf(levels), bytes) > 0) return { key: SERVER_SCOPE };
    return undefined;
  }

  /**
   * All or nothing: charges `bytes` at every host level and the server if
   * they fit there ({@link blockedAt}), else says where not. A large
   * reservation also waits for its party's turn: while large ones of several
   * parties wait for room at the server, the party holding and asking for
   * least goes first (`ticket` keeps its place; without one it only never
   * overtakes), so a host whose many silent connections queued requests
   * before an honest client's does not take every room freed before it.
   */
  tryReserve(levels: readonly HostLevel[], bytes: number, large = false, ticket?: RoomTicket): ReplyCharge | Blocked {
    const blocked = this.blockedAt(levels, bytes, large);
    const party = partyOf(levels);
    if (blocked !== undefined && blocked.key !== SERVER_SCOPE) {
      // Held back by its own host: not waiting for the server's room meanwhile.
      if (ticket !== undefined) this.turns.leave(ticket);
      return blocked;
    }
    if (this.shareExcess(party, bytes) > 0) {
      // Past its own share: it waits for its party's acknowledgements, and holds no place before others.
      if (ticket !== undefined) this.turns.leave(ticket);
      return { key: SERVER_SCOPE, wakeKey: party };
    }
    const first = this.turns.first;
    if (blocked === undefined && (!large || first === undefined || first === party)) {
      const charge = this.charge(levels, bytes);
      if (ticket !== undefined) this.turns.leave(ticket);
      return charge;
    }
    if (!large || ticket === undefined) return { key: SERVER_SCOPE };
    this.turns.join(ticket, party, bytes);
    return { key: SERVER_SCOPE, wakeKey: `${SERVER_SCOPE}${party}` };
  }

  /** A place for one request in its party's turn at the server; pass it to {@link tryReserve} and call `done` when it stops waiting. */
  ticket(): RoomTicket {
    return this.turns.ticket();
  }

  /** Parties whose large reservations wait for the server's room (0 once none waits: nothing leaks). */
  get queued(): number {
    return this.turns.size;
  }

  /** Wakes the first party's waiting requests once one of them would fit. */
  private wakeFirst(): void {
    const first = this.turns.first;
    if (first !== undefined && this.sum + this.turns.firstNeed() <= this.serverLimit(true)) this.wake(`${SERVER_SCOPE}${first}`);
  }

  /**
   * Counts `bytes` at every level of `levels` and the server, whatever they
   * hold already (a reply sent under a reservation, or a notice). With
   * `reply`, they are a reply of that holder sent at `reply.at` (ms, the
   * caller's monotonic clock): it may be closed for a waiter once stale.
   */
  charge(levels: readonly HostLevel[], bytes: number, reply?: { readonly holder: ReplyHolder; readonly at: number }): ReplyCharge {
    for (const { key } of levels) this.held.set(key, (this.held.get(key) ?? 0) + bytes);
    this.sum += bytes;
    this.parties.add(partyOf(levels));
    const entry: ReplyEntry | undefined = reply === undefined ? undefined : { bytes, at: reply.at, release: () => undefined };
    const state = reply === undefined ? undefined : this.stateOf(reply.holder);
    if (state !== undefined && entry !== undefined) {
      if (state.replies.size === 0) for (const { key } of state.holder.levels) this.indexed(key).add(state);
      state.replies.add(entry);
      state.bytes += bytes;
      this.replySum += bytes;
    }
    let done = false;
    const release = (): void => {
      if (done) return;
      done = true;
      if (state !== undefined && entry !== undefined && state.replies.delete(entry)) {
        state.bytes -= bytes;
        this.replySum -= bytes;
        // Dropped once empty, so a connection that ended leaves nothing here (its next reply starts a new one).
        if (state.replies.size === 0) {
          this.unindex(state);
          this.states.delete(state.holder);
        }
      }
      this.sum -= bytes;
      for (const { key } of levels) {
        const n = (this.held.get(key) ?? 0) - bytes;
        if (n > 0) this.held.set(key, n);
        else this.held.delete(key);
        this.wake(key);
      }
      const party = partyOf(levels);
      if (!this.held.has(party)) this.parties.delete(party);
      this.wake(SERVER_SCOPE);
      this.wakeFirst();
    };
    if (entry !== undefined) entry.release = release;
    return { bytes, release };
  }

  /** Bytes held under `key` (a host or a prefix), or by the server for {@link SERVER_SCOPE}. */
  bytesOf(key: string): number {
    return key === SERVER_SCOPE ? this.sum : (this.held.get(key) ?? 0);
  }

  /** Hosts and prefixes holding bytes (0 once all are released: nothing leaks). */
  get size(): number {
    return this.held.size;
  }

  /** Bytes held by the whole server. */
  get bytes(): number {
    return this.sum;
  }

  /** Bytes of replies sent and not yet acknowledged (charged with a holder): {@link bytes} without reservations. */
  get repliesHeld(): number {
    return this.replySum;
  }

  /** Holders tracked with unacknowledged replies (0 once all are released). */
  get holders(): number {
    return this.states.size;
  }

  /**
   * Settles at the next release of bytes under `key` (a level {@link blockedAt} named, or {@link SERVER_SCOPE}): a waiter
   * checks again. The server's waiters wait in line (see {@link wakeServerWaiters}); `signal` takes one out of it.
   */
  released(key: string, signal?: AbortSignal): Promise<void> {
    if (key === SERVER_SCOPE) return this.serverRoom(signal);
    let w = this.wakes.get(key);
    if (w === undefined) {
      let resolve = (): void => undefined;
      const promise = new Promise<void>((r) => (resolve = r));
      w = { promise, resolve };
      this.wakes.set(key, w);
    }
    return w.promise;
  }

  /** Bytes of `holder`'s unacknowledged replies. */
  heldBy(holder: ReplyHolder): number {
    return this.states.get(holder)?.bytes ?? 0;
  }

  /** Whether `holder`'s oldest unacknowledged reply is older than {@link staleAfter} at `now`. */
  isStale(holder: ReplyHolder, now: number): boolean {
    const s = this.states.get(holder);
    return s !== undefined && this.stale(s, now);
  }

  /**
   * For `waiter`, whose reservation of `bytes` ({@link blockedAt}'s `large`)
   * was refused at `blocked`: closes stale holders that hold more than it
   * (see the file's comment), heaviest first, until what they hold covers
   * what is missing there. A waiter whose own party is past its fair share
   * closes no other party's: it is the one to wait, for its own party, whose
   * stale connections holding more than it may go (as at a host level: the
   * party is the host's coarsest level). At most one search per scope
   * every {@link EVICTION_SCAN_INTERVAL_MS}. Returns how many were closed.
   */
  evictStale(waiter: ReplyHolder, blocked: Blocked, bytes: number, large: boolean, now: number): number {
    const waiterParty = partyOf(waiter.levels);
    const waiterPartyHeld = this.held.get(waiterParty) ?? 0;
    // Past its party's share: it waits for its own party, so only its own party's stale connections heavier than
    // it may go, as at a host level (the party is its host's coarsest level). Without this a neighbour behind one
    // NAT address waited for the silent connections sharing it until the transport dropped them: once 9 parties
    // hold bytes, a share is under the 32 MiB host budget and binds first, and nobody was closed at the server.
    const share = blocked.key === SERVER_SCOPE ? this.shareExcess(waiterParty, bytes) : 0;
    const scope = share > 0 ? waiterParty : blocked.key;
    const need =
      share > 0
        ? share
        : blocked.key === SERVER_SCOPE
          ? this.sum + bytes - this.serverLimit(large)
          : (this.held.get(blocked.key) ?? 0) + bytes - this.perHost * (blocked.level?.multiple ?? 1);
    if (need <= 0) return 0;
    // A large request not first in turn closes nobody at the server (the first does).
    if (scope === SERVER_SCOPE && large && this.turns.first !== undefined && this.turns.first !== waiterParty) return 0;
    const last = this.lastScan.get(scope);
    if (last !== undefined && now - last < EVICTION_SCAN_INTERVAL_MS) return 0;
    this.lastScan.set(scope, now);
    if (this.lastScan.size > 4096) for (const [k, t] of this.lastScan) if (now - t >= EVICTION_SCAN_INTERVAL_MS) this.lastScan.delete(k);
    const own = this.states.get(waiter)?.bytes ?? 0;
    const pool = scope === SERVER_SCOPE ? this.allHolders() : (this.holdersByKey.get(scope) ?? new Set<HolderState>());
    const candidates: { readonly state: HolderState; readonly party: number }[] = [];
    for (const s of pool) {
      if (s.holder === waiter || !this.stale(s, now)) continue;
      const party = partyOf(s.holder.levels);
      const partyHeld = this.held.get(party) ?? 0;
      if (scope === SERVER_SCOPE) {
        // Another party's, and heavier than the waiter's: a waiter never closes a lighter party, so a host that
        // keeps many replies unacknowledged cannot close an honest one that holds less. Not "over its fair share"
        // too: at the share's floor (`minShare`) a botnet of hosts each within it would never be closed.
        if (party === waiterParty || partyHeld <= waiterPartyHeld) continue;
      } else if (s.bytes <= own) continue;
      candidates.push({ state: s, party: partyHeld });
    }
    candidates.sort((a, b) => b.party - a.party || b.state.bytes - a.state.bytes);
    const victims: HolderState[] = [];
    let freed = 0;
    for (const c of candidates) {
      if (freed >= need) break;
      victims.push(c.state);
      freed += c.state.bytes;
    }
    // Closed after the search: a close releases charges, which changes what is searched. Their bytes are
    // uncounted here, at once, not at the 'close' a microtask or more later: the waiter checks again before it
    // yields (held-replies.ts), so the room it made is its own, not the first woken waiter's (a host whose
    // requests queued first would otherwise take it back). The transport drops the closed connection's
    // buffers as it reports the close; the charges' own releases then do nothing.
    for (const v of victims) {
      for (const r of [...v.replies]) r.release();
      v.holder.evict(EVICTED_REASON);
    }
    return victims.length;
  }

  /** What the server's reservations may fill: all of it for small ones, all but the last {@link SMALL_ROOM_DIVISOR}th for large ones. */
  private serverLimit(large: boolean): number {
    return large ? this.total - this.total / SMALL_ROOM_DIVISOR : this.total;
  }

  /** When a reply of `bytes` sent at `at` counts as stale. */
  staleAfter(bytes: number, at: number): number {
    return at + this.staleAfterMs + bytes / STALE_BYTES_PER_MS;
  }

  private stale(s: HolderState, now: number): boolean {
    const oldest = s.replies.values().next().value;
    return oldest !== undefined && now > this.staleAfter(oldest.bytes, oldest.at);
  }

  private *allHolders(): Iterable<HolderState> {
    for (const p of this.parties) yield* this.holdersByKey.get(p) ?? [];
  }

  private stateOf(holder: ReplyHolder): HolderState {
    let s = this.states.get(holder);
    if (s === undefined) this.states.set(holder, (s = { holder, replies: new Set(), bytes: 0 }));
    return s;
  }

  private indexed(key: string): Set<HolderState> {
    let set = this.holdersByKey.get(key);
    if (set === undefined) this.holdersByKey.set(key, (set = new Set()));
    return set;
  }

  private unindex(s: HolderState): void {
    for (const { key } of s.holder.levels) {
      const set = this.holdersByKey.get(key);
      set?.delete(s);
      if (set?.size === 0) this.holdersByKey.delete(key);
    }
  }

  /** Settles and forgets the wake-up of `key`, if any. */
  private settle(key: string): void {
    const w = this.wakes.get(key);
    this.wakes.delete(key);
    w?.resolve();
  }

  /** How many wake-ups are kept (0 once nobody waits: nothing leaks). */
  get wakeUps(): number {
    return this.wakes.size + this.serverWaiters.size;
  }

  /**
   * A wait for room at the server, in line: each waiter its own, woken in
   * the order they began waiting, as many at a release as the room freed
   * could serve (see {@link wake}). `signal` ends the wait unsettled and
   * takes it out of line (a waiter that stopped waiting keeps no place).
   */
  private serverRoom(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted === true) return;
      const waiter = (): void => {
        signal?.removeEventListener('abort', leave);
        resolve();
      };
      const leave = (): void => void this.serverWaiters.delete(waiter);
      signal?.addEventListener('abort', leave, { once: true });
      this.serverWaiters.add(waiter);
    });
  }

  private wake(key: string): void {
    if (key === SERVER_SCOPE) return this.wakeServerWaiters();
    const w = this.wakes.get(key);
    if (w === undefined) return;
    this.wakes.delete(key);
    w.resolve();
  }

  /**
   * Wakes the server's waiters, first come first, only as many as the free
   * room holds smallest reservations (at least one while any fits). One
   * promise for all of them made every acknowledgement anywhere re-check
   * every waiter of the server: 10,000 waiting requests cost some 2.3 ms a
   * release (review of the merged budget), a cost a client can drive with
   * its own connections and acknowledgements.
   */
  private wakeServerWaiters(): void {
    const free = this.total - this.sum;
    if (free < SMALL_WAKE_BYTES) return;
    let n = Math.floor(free / SMALL_WAKE_BYTES);
    for (const waiter of this.serverWaiters) {
      if (n-- <= 0) break;
      this.serverWaiters.delete(waiter);
      waiter();
    }
  }
}

/** Free room, bytes, below which a release does not wake the server's waiters: the smallest reservation (held-replies.ts). */
const SMALL_WAKE_BYTES = 64 * 1024;

/** The party of `levels`: its coarsest level's key (an IPv4 address, an IPv6 /48, or the host where it has no prefixes). */
export const partyOf = (levels: readonly HostLevel[]): string => levels[levels.length - 1]?.key ?? '';
