/**
 * Turns for large replies at the server's reply budget (reply-budget.ts):
 * while LST/RDT requests of several parties (IPv4 addresses, IPv6 /48s)
 * wait for room, the party holding and asking for least goes first (ties:
 * first come). Without turns, whichever waiter woke first took each room
 * freed, so the silent connections of a host that queued RDTs before an
 * honest client's took every room before it: the honest RDT waited 16–17 s
 * instead of 5–8 s (32 hosts, `attack/many-hosts-backlog.ts`). Placing a party
 * costs O(parties waiting); finding the first is O(1).
 */

/** A request's place while it waits for room at the server ({@link ReplyTurns.ticket}). */
export interface RoomTicket {
  /** It stopped waiting (it reserved, its connection ended, or it gave up): its party's place is updated. Idempotent. */
  done(): void;
}

interface TicketState extends RoomTicket {
  party: string;
  bytes: number;
  waiting: boolean;
}

/** A party whose large reservations wait, by weight (bytes held and asked for), then arrival. */
interface Entry {
  readonly party: string;
  readonly weight: number;
  readonly seq: number;
  /** The least bytes one of its requests asks for: kept here, as {@link ReplyTurns.firstNeed} runs at every release. */
  readonly least: number;
}

/** The parties whose large reservations wait for the server's room, lightest first. */
export class ReplyTurns {
  private readonly order: Entry[] = [];
  private readonly waiting = new Map<string, Set<TicketState>>();
  private seq = 0;

  /**
   * `heldBy`: what a party holds now (its weight besides what it asks);
   * `onFirstChanged`: another party is first; `onGone`: none of a party's
   * requests waits any more (what was kept to wake them can go).
   */
  constructor(
    private readonly heldBy: (party: string) => number,
    private readonly onFirstChanged: () => void,
    private readonly onGone: (party: string) => void = () => undefined,
  ) {}

  /** A place for one request; call `done` when it stops waiting. */
  ticket(): RoomTicket {
    const t: TicketState = { party: '', bytes: 0, waiting: false, done: () => this.leave(t) };
    return t;
  }

  /** The party whose turn it is, or `undefined`: none waits. */
  get first(): string | undefined {
    return this.order[0]?.party;
  }

  /** Parties waiting (0 once none waits: nothing leaks). */
  get size(): number {
    return this.order.length;
  }

  /**
   * The least bytes a request of the first party asks for, or `Infinity`.
   * O(1): the budget asks at every release of any host's bytes, and walking
   * the first party's requests there (an IPv6 /48's 4,096 connections) cost
   * 35 us per acknowledgement server-wide.
   */
  firstNeed(): number {
    return this.order[0]?.least ?? Number.POSITIVE_INFINITY;
  }

  /** `ticket`'s request of `party` waits for `bytes` (again: its place stays). */
  join(ticket: RoomTicket, party: string, bytes: number): void {
    const t = ticket as TicketState;
    if (t.waiting) return;
    t.waiting = true;
    t.party = party;
    t.bytes = bytes;
    let set = this.waiting.get(party);
    if (set === undefined) this.waiting.set(party, (set = new Set()));
    set.add(t);
    this.place(party);
  }

  /** `ticket`'s request no longer waits (idempotent). */
  leave(ticket: RoomTicket): void {
    const t = ticket as TicketState;
    if (!t.waiting) return;
    t.waiting = false;
    const set = this.waiting.get(t.party);
    set?.delete(t);
    if (set?.size === 0) this.waiting.delete(t.party);
    this.place(t.party);
    if (!this.waiting.has(t.party)) this.onGone(t.party);
  }

  /** Puts `party` where its weight now says (or out, when none of its requests waits). */
  private place(party: string): void {
    const before = this.order[0];
    const at = this.order.findIndex((e) => e.party === party);
    if (at >= 0) this.order.splice(at, 1);
    const set = this.waiting.get(party);
    if (set !== undefined) {
      let asked = 0;
      let least = Number.POSITIVE_INFINITY;
      for (const t of set) {
        asked += t.bytes;
        least = Math.min(least, t.bytes);
      }
      const entry = { party, weight: this.heldBy(party) + asked, seq: ++this.seq, least };
      // Sorted by weight, then arrival: a binary search for the first entry heavier than it.
      let lo = 0;
      let hi = this.order.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((this.order[mid] as Entry).weight <= entry.weight) lo = mid + 1;
        else hi = mid;
      }
      this.order.splice(lo, 0, entry);
    }
    if (this.order[0] !== before) this.onFirstChanged();
  }
}
