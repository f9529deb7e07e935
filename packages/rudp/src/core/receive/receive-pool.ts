/**
 * The receive memory of a whole endpoint. Each connection's window bounds
 * what its peer may make it hold (flow-control.ts), but a server has many
 * connections: 1,024 per client host by default, each with a 32 MiB window,
 * so the windows alone let a few hosts that each begin large messages and
 * send a quarter of them make the server hold gigabytes (SECURITY.md, D2).
 *
 * Here the credit every connection has granted its peer (what it announced
 * less what the application has read) comes from one budget. A connection
 * takes its whole window while the budget has room for it; when it has not,
 * windows start smaller and raises wait until the application reads and
 * credit returns. Credit already granted is never taken back (the peer may
 * rely on it), so the budget binds what is granted next, not what was.
 *
 * Every connection is charged at least `RECEIVE_FLOOR` from its start to
 * its end, granted or not, and may always grant that much: none starves.
 * The floors count against the budget too, and credit beyond them is only
 * granted while it leaves a sixteenth of the budget (`reserve`) for the
 * floors of connections that open later: the credit of all connections
 * stays within the budget less the reserve, plus one window (`overcommit`,
 * below), until connections open while it is spent; each adds its floor.
 *
 * Credit granted is never taken back, and connections whose grants grew by
 * reading keep it while their peers are idle or wait: 30 idle connections
 * that once ran at 32 MiB held the default budget's 960 MiB, and a
 * newcomer's message larger than its floor waited until one of them read or
 * ended (for good, if none did); under a short budget, peers that each held
 * part of what their next message needed waited for each other for good.
 * So the message a peer's BLOCKED waits for may also go past the budget less
 * its reserve, by at most the largest window of a live connection
 * (`overcommit`: a message needs at most its window; 32 MiB by default,
 * within the reserve), oldest first (`claimant`), and is granted whole or
 * not at all. A peer that takes it and does not begin its message, or fills
 * it slower than a minimum pace while another message waits, is closed
 * (connection/timeouts.ts), so the next waiting message gets it, and its
 * address goes behind the others for it (`penalize`).
 */
import { MinMultiset } from '../min-multiset.js';
import { WorkList } from '../work-list.js';

/**
 * Default endpoint budget, bytes: 1 GiB. Without one (2^50 until attack
 * round 13's follow-up) what an application that does not read yet holds
 * grew with the number of connections, 1 MiB each (the first grant), from
 * any number of addresses: 1 GiB from one address at its 1,024 connections,
 * and as much again from each other address. 1 GiB is what one address
 * could already make it hold, so the default takes nothing from one peer
 * that it had, and bounds all of them together. It binds an honest server
 * only past some 960 connections holding their first grant at once (the
 * budget less its reserve: 960 MiB), or 7,680 with 128 KiB windows; one
 * connection's window may reach 960 MiB. A constant, not a share of the
 * machine's memory: the core reads nothing of the machine, and an
 * application that knows its memory sets `maxReceiveBufferBytes`. (A
 * 256 MiB default was tried before credit was lazy, when an idle
 * connection held its whole 32 MiB window: the ninth connection got 4 KiB.)
 */
export const DEFAULT_MAX_RECEIVE_BUFFER_BYTES = 2 ** 30;

/**
 * Credit a connection may always grant, bytes, however short the budget:
 * a message of 3,840 bytes (a few datagrams' worth) still passes. About what
 * an idle connection costs in heap anyway, so the floors of all connections
 * grow as that cost does, which `maxConnections` bounds.
 */
export const RECEIVE_FLOOR = 4 * 1024;

/** Parties remembered as having held the overcommit without using it (`penalize`); past this many the oldest is forgotten. */
const PENALIZED_PARTIES = 4_096;

/** Waiters visited per return of credit: a bound on the work one read does for other connections. */
const VISITS_PER_RETURN = 8;

/** A connection that granted less than its window because the budget was short, waiting for credit to return. */
export interface CreditWaiter {
  /** Whether the pool's list of waiters holds it (its flag, as `WorkList` wants). */
  creditWaiting: boolean;
  /** Grants what the budget now has room for; returns whether it still wants more. */
  topUpCredit(): boolean;
}

/** What a connection is charged for holding `credit`: at least the floor. */
function charge(credit: number): number {
  return credit > RECEIVE_FLOOR ? credit : RECEIVE_FLOOR;
}

/**
 * `grantable` with `room` left in the budget. `need` (at most `wanted`): the credit the peer's next
 * message needs (a BLOCKED's), granted whole when the room holds it, and else nothing past the floor:
 * a peer waiting for a limit sends nothing until the limit covers its message, so a part of it is
 * credit nobody can use, held until the rest comes. Half the room alone left a peer that needed more
 * than half, but less than all, waiting for good (the room is offered again only when credit
 * returns, and a waiter whose peer waits returns none); and the parts handed to several such peers
 * added up to the whole budget with none of them whole (`transport-flow-fuzz.test.ts`: every
 * connection waiting, holding parts, in most runs that stalled).
 */
function grantFrom(room: number, current: number, wanted: number, need: number): number {
  const base = charge(current);
  if (wanted <= base) return wanted > current ? wanted : current;
  if (room >= wanted - base) return wanted;
  const half = room > 0 ? base + Math.floor(room / 2) : base;
  if (need > half) return need - base <= room ? need : base;
  return half;
}

/** The endpoint's budget of receive credit, shared by its connections. */
export class ReceivePool {
  /** Credit charged to live connections (each at least `RECEIVE_FLOOR`), and their unread datagrams. */
  private charged = 0;
  /**
   * Per party (a client's address, its coarsest host level): what its live connections' first grants
   * take beyond their floors, and the credit they reserved for messages their peers' BLOCKED frames
   * wait for (`reserve`) that have not begun to arrive.
   */
  private readonly firstGrants = new Map<string, number>();
  /** Per party: how many of its connections hold such a reservation. */
  private readonly reservations = new Map<string, number>();
  /**
   * What one party's first grants may take beyond their floors: a quarter of the budget (less its
   * reserve). A connection that never reads holds its first grant, and one address may open 1,024:
   * past this share its next connections grant their floor at first and earn more by reading, so one
   * address's connections that never read cannot spend every other address's first grants.
   */
  readonly partyShare: number;
  /** Connections waiting for credit, oldest first. */
  private readonly waiting = new WorkList<CreditWaiter>();
  private waiters = 0;
  /**
   * The receive windows of the endpoint's live connections (`noteWindow`, `dropWindow`), negated so the
   * smallest member is the largest window: what `overcommit` is. The largest window ever announced,
   * kept after its connection ended, left the bound on what the budget grants raised for good: one
   * connection raised to 960 MiB for an upload made it the budget less its sixteenth plus 960 MiB.
   */
  private readonly windows = new MinMultiset();
  /**
   * The oldest connection whose peer waits for a message the budget has no room for but the overcommit
   * could hold: the only one that may take the overcommit (first come, first served, so a stream of
   * small messages cannot keep a larger one waiting), asked first as credit returns.
   */
  private claimant: CreditWaiter | undefined;
  /** What the claimant's message needs past its charge, when it last asked. */
  private claimMore = 0;
  /** The claimant's party (`undefined`: none, or a client's connection). */
  private claimantParty: string | undefined;
  /**
   * Connections of parties not penalized whose message waits for the overcommit and did not fit it when
   * they last asked, oldest first, with their party and what they needed past their charge: ahead of
   * every penalized party's (`penalize`).
   */
  private readonly claims = new Map<CreditWaiter, { readonly party: string | undefined; readonly more: number }>();
  /**
   * Parties one of whose connections was closed for holding the overcommit unused (connection/timeouts.ts),
   * oldest first. Their connections take the overcommit only while no other party's message waits for it:
   * before, one address's connections that each said BLOCKED for a 30 MiB message and never sent it took
   * it one after another, 10 s and four probe timeouts each, and a newcomer's message waited 65 s behind
   * twelve of them.
   */
  private readonly penalized = new Set<string>();
  /**
   * Floors charged past the budget less its reserve as their connections opened (while it was spent),
   * of the connections still open: the overcommit comes on top of them. Counted in it, three
   * connections opened after idle ones had spent the budget left a message as large as the window
   * 12 KiB short for good, and the others' messages, which fit, waited behind it for good.
   */
  private overdrawn = 0;

  /** What grants beyond the floors leave of the budget: the floors of connections that open later. */
  private readonly reserve: number;

  constructor(
    /** The budget, bytes. */
    readonly budget: number,
  ) {
    this.reserve = Math.floor(budget / 16);
    this.partyShare = Math.floor((budget - this.reserve) / 4);
  }

  /**
   * The first grant a connection of `party` may have (`grant` is the one it would have): all of it
   * for the party's first connection and while its first grants stay within `partyShare`, what is
   * left of the share past the floor, or the floor. `undefined`: no party (a client's connections),
   * the whole `grant`.
   */
  firstGrant(party: string | undefined, grant: number): number {
    if (party === undefined || grant <= RECEIVE_FLOOR) return grant;
    const used = this.firstGrants.get(party);
    // A party's first connection has its whole first grant, whatever the share (a small budget's).
    if (used === undefined) return grant;
    const left = this.partyShare - used;
    if (grant - RECEIVE_FLOOR <= left) return grant;
    return left > 0 ? RECEIVE_FLOOR + left : RECEIVE_FLOOR;
  }

  /**
   * Whether a connection of `party` may reserve `bytes` for the message its peer's BLOCKED waits for
   * (beyond what its grant alone allows): while the party's first grants and reservations stay within
   * `partyShare`, or if none of its other connections holds one (`holding`: this one does), so one
   * large message of each party always goes. Before, reservations counted nowhere: 30 connections of
   * one address that each asked for a 32 MiB message and never sent it held the 960 MiB the default
   * budget grants, and a newcomer from another address had its 4 KiB floor for good.
   */
  mayReserve(party: string, bytes: number, holding: number): boolean {
    const others = (this.reservations.get(party) ?? 0) - (holding > 0 ? 1 : 0);
    return others === 0 || (this.firstGrants.get(party) ?? 0) - holding + bytes <= this.partyShare;
  }

  /** A connection of `party` that reserved `from` bytes now reserves `to` (0: none), counted in the party's share. */
  moveReservation(party: string, from: number, to: number): void {
    if (from === to) return;
    this.chargeFirstGrant(party, to - from);
    const count = (this.reservations.get(party) ?? 0) + (to > 0 ? 1 : 0) - (from > 0 ? 1 : 0);
    if (count > 0) this.reservations.set(party, count);
    else this.reservations.delete(party);
  }

  /** Adds `bytes` to what `party`'s first grants take beyond their floors (negative: a connection ended). */
  chargeFirstGrant(party: string, bytes: number): void {
    const now = (this.firstGrants.get(party) ?? 0) + bytes;
    if (now > 0) this.firstGrants.set(party, now);
    else this.firstGrants.delete(party);
  }

  /** Credit charged to live connections, bytes (their floors included). */
  get committed(): number {
    return this.charged;
  }

  /** The most credit one connection is ever granted (all others ended): the budget less its reserve, at least the floor. */
  get largestGrant(): number {
    const most = this.budget - this.reserve;
    return most > RECEIVE_FLOOR ? most : RECEIVE_FLOOR;
  }

  /** Connections waiting for credit. */
  get waitingConnections(): number {
    return this.waiters;
  }

  /**
   * A connection begins: its floor is charged. Returns what of it went past the budget less its reserve
   * (the budget was spent), given back with `close`.
   */
  open(): number {
    const line = this.budget - this.reserve;
    const past = this.charged + RECEIVE_FLOOR - line;
    const over = past <= 0 ? 0 : past < RECEIVE_FLOOR ? past : RECEIVE_FLOOR;
    this.charged += RECEIVE_FLOOR;
    this.overdrawn += over;
    return over;
  }

  /**
   * The credit a connection holding `current` may grant, up to `wanted`:
   * all of it if the budget has room, else what is left of the budget
   * (less its `reserve`) beyond its own charge (half of it, so one connection never empties the
   * budget and the next still starts above the floor), and never less than
   * the floor or than `current`; `need` (what the peer's next message needs) whole if the room holds
   * it, else past the room within the `overcommit` if `who` (the connection asking) is the oldest whose
   * message does not fit the room; else no part of `need` past the floor. Charges nothing (see `move`).
   */
  grantable(current: number, wanted: number, need = 0, who?: CreditWaiter, party?: string): number {
    const free = this.budget - this.reserve - this.charged;
    // What a message a BLOCKED waits for may take: the overcommit past the budget less its reserve and
    // the floors of connections opened while it was spent.
    const spare = free + this.overcommit + this.overdrawn;
    // No room is held back from the others for a claimant: one needs at most the overcommit, so while it
    // does not fit, nothing is free past the line either (what reads return goes to it first: `serve`).
    const claimant = this.claimant;
    const shortfall = claimant === undefined ? 0 : this.claimMore - spare;
    const granted = grantFrom(free, current, wanted, need);
    if (need <= granted || who === undefined) {
      if (who !== undefined) this.unclaim(who);
      return granted;
    }
    const base = charge(current);
    const more = need - base;
    // A message past what the overcommit ever holds waits for the budget alone, and keeps nobody waiting.
    if (more > this.overcommit) {
      this.unclaim(who);
      return granted;
    }
    const penalized = party !== undefined && this.penalized.has(party);
    if (more > spare) {
      if (!penalized) this.claims.set(who, { party, more });
      // A penalized party's claimant gives way to the first other party's message that asks.
      if (claimant === undefined || (!penalized && claimant !== who && this.claimantParty !== undefined && this.penalized.has(this.claimantParty))) {
        this.claimant = who;
        this.claimantParty = party;
      }
      if (this.claimant === who) this.claimMore = more;
      return granted;
    }
    // Behind every other party's waiting message (`penalized`), whoever asks first.
    if (penalized && this.claims.size > 0) return granted;
    if (claimant !== undefined && claimant !== who) {
      // Ahead of a claimant that does not fit, only a waiter that holds at least what it lacks: its
      // peer waits too, so its credit returns only once its message comes and is read, and then the
      // claimant fits. In 3 of flow fuzz seeds 1-300 the claimant needed a few hundred bytes of credit
      // such a waiter held, and each waited for the other for good.
      if (shortfall <= 0 || base < shortfall) return granted;
    } else this.claimant = undefined;
    this.claims.delete(who);
    return need;
  }

  /**
   * A connection of `party` was closed for holding the overcommit unused: the party's connections go
   * behind every other party's message waiting for it (`penalized`), the claimant first.
   */
  penalize(party: string): void {
    this.penalized.delete(party);
    this.penalized.add(party);
    if (this.penalized.size > PENALIZED_PARTIES) this.penalized.delete(this.penalized.values().next().value as string);
    for (const [w, claim] of this.claims) if (claim.party === party) this.claims.delete(w);
    if (this.claimantParty !== party) return;
    const next = this.claims.entries().next();
    if (next.done === true) return;
    const [w, claim] = next.value;
    this.claimant = w;
    this.claimantParty = claim.party;
    this.claimMore = claim.more;
  }

  /**
   * What the messages peers' BLOCKED frames wait for may take past the budget less its reserve, when
   * the budget alone has no room for them: the largest window of a live connection (a message needs
   * at most its window), so each waiting message fits it once the ones before it are read. At most the
   * budget less its reserve (`windowWithin`); with every default 32 MiB, within the reserve.
   */
  get overcommit(): number {
    const largest = -this.windows.min();
    return largest > 0 ? largest : 0;
  }

  /** A connection announced a receive window of `window` bytes: at its start, or raised from `from`. */
  noteWindow(window: number, from = 0): void {
    if (from > 0) this.windows.remove(-from);
    this.windows.add(-window);
  }

  /** A connection whose receive window was `window` bytes ended: its window no longer counts in `overcommit`. */
  dropWindow(window: number): void {
    this.windows.remove(-window);
  }

  /** What the budget less its reserve has left for grants, bytes (negative: a message took the overcommit, or floors did). */
  get room(): number {
    return this.budget - this.reserve - this.charged;
  }

  /**
   * Whether a connection's message waits for the overcommit (a claimant): a message granted from it that
   * its peer fills slower than the minimum pace is then keeping it waiting (connection/timeouts.ts).
   */
  get contended(): boolean {
    return this.claimant !== undefined;
  }

  /** `who` no longer waits for a message (it began, or the connection ended): the next one may take the overcommit. */
  unclaim(who: CreditWaiter | undefined): void {
    if (who === undefined) return;
    if (who === this.claimant) this.claimant = undefined;
    this.claims.delete(who);
  }

  /**
   * The credit a connection that opens now (`open`, then `grantable(0, window)`) grants: what its
   * handshake announces, known before the connection exists (a server's ACCEPT is sealed first).
   */
  opening(window: number): number {
    return grantFrom(this.budget - this.reserve - this.charged - RECEIVE_FLOOR, 0, window, 0);
  }

  /** A connection's credit went from `from` to `to` bytes (it granted more, or the application read). */
  move(from: number, to: number): void {
    this.charged += charge(to) - charge(from);
  }

  /** A connection holding `credit` and `datagrams` bytes of unread datagrams, whose floor went `overdraw` past the line (`open`), ended: its charge returns. */
  close(credit: number, datagrams: number, overdraw = 0): void {
    this.charged -= charge(credit) + datagrams;
    this.overdrawn -= overdraw;
    // Visits waiters even with no room to offer: ended ones leave the list only when visited, and
    // each end visits more than one, so the list never keeps more ended connections than it had.
    this.serve(true);
  }

  /**
   * Charges an unread datagram of `bytes` (its credit) if the budget has room for it (its `reserve`
   * aside), or `always` (a connection's first: one datagram's worth is its floor). Datagrams take no
   * window credit, so they are charged as they arrive, and dropped when there is no room (they may be).
   */
  holdDatagram(bytes: number, always: boolean): boolean {
    if (!always && this.charged + bytes > this.budget - this.reserve) return false;
    this.charged += bytes;
    return true;
  }

  /** The application read a datagram charged with `holdDatagram`. */
  releaseDatagram(bytes: number): void {
    this.charged -= bytes;
    if (this.waiters > 0) this.serve();
  }

  /** `w` granted less than it wants: it is offered credit as it returns. */
  wait(w: CreditWaiter): void {
    if (w.creditWaiting) return;
    w.creditWaiting = true;
    this.waiting.push(w);
    this.waiters++;
  }

  /**
   * Credit returned: offers it to the waiting connections, oldest first, a
   * few of them per call (each that still wants more goes to the back), while
   * the budget has room (`always`: whether or not).
   */
  serve(always = false): void {
    // The claimant first: it may take the overcommit, which only credit returning makes room in, and
    // it may be anywhere in the list (it is asked again when visited there, and leaves it then).
    // Waiters are visited while the overcommit has room too: one whose message fits it was passed over
    // for the claimant (flow fuzz seed 288: nobody asked it again, nobody read, and it waited for good).
    const most = this.budget - this.reserve + this.overcommit + this.overdrawn;
    const claimant = this.claimant;
    if (claimant !== undefined && this.charged < most) claimant.topUpCredit();
    for (let visits = this.waiters < VISITS_PER_RETURN ? this.waiters : VISITS_PER_RETURN; visits > 0 && (always || this.charged < most); visits--) {
      const w = this.waiting.peek() as CreditWaiter;
      this.waiting.shift();
      if (w.topUpCredit()) {
        this.waiting.push(w);
      } else {
        w.creditWaiting = false;
        this.waiters--;
      }
    }
  }
}
