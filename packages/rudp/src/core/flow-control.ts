/**
 * Flow control, both directions. Sending: a message may leave only once
 * the peer's announced limit covers its last byte (messages are delivered
 * whole, so one must fit the peer's window). Receiving: whole messages the
 * application has not read count against our window; reading them earns
 * the peer more credit, announced in MAX_DATA once a quarter window has
 * been freed (one small frame per quarter window, not per message). A
 * window raised after the handshake is announced apart from the credit, in
 * WINDOW: the peer may send messages up to it at once, and one past the
 * credit waits for it (BLOCKED), however short the endpoint's budget.
 *
 * In files of their own: the credit a message takes and the first grant (credit.ts); the sender's
 * side, the peer's limit and the BLOCKED owed (peer-limit.ts); the limit announced and the frames owed
 * (announced-limit.ts); the answer to a peer's BLOCKED (blocked-answer.ts). One class chain, so a
 * connection's flow control stays one object.
 *
 * The credit a connection grants (what it announced less what the
 * application read) comes from its endpoint's `ReceivePool` when it has one:
 * a window starts smaller and raises wait while the endpoint's budget is
 * short, and the credit returns as the application reads or the connection
 * ends. The receiver refuses what goes past the credit it granted, not only
 * past its window: an honest sender never sends more.
 *
 * Credit is granted lazily, as TCP's receive-buffer autotuning does: the
 * window (`receiveWindow`) is the most a connection ever grants, and the
 * largest message the peer may send, but a connection grants at first only
 * `INITIAL_GRANT` (its `grant`), announced in the handshake as the first
 * limit beside the window. The limit grows two ways, up to the window, and
 * only as the application reads (the grant with the first, the limit alone
 * with the second): an application that does not read holds
 * at most the first grant a connection (if it pauses the connection, as the
 * Node API does while nothing consumes its messages: one that neither reads
 * nor pauses keeps up by the test below until a whole message waits, so a
 * peer's BLOCKED sent first gets the limit its one message needs). By rate (`growByRate`): when the
 * application reads a quarter of the grant within a round trip, the grant
 * may be what holds the peer back, and it grows to twice itself or four
 * times what was read, as Linux's DRS sizes a TCP window from what the
 * application copied in a round trip. By need (`answerBlocked`): a sender
 * that cannot start its next message for want of credit says so (BLOCKED,
 * with the limit that message needs), and if the application keeps up (the
 * connection checks: not paused, no whole message unread) the limit grows
 * to fit it: a message larger than the grant waits a round trip, never
 * refused. That credit is for the one message, not a larger grant: the
 * grant stays what reading earned, and the credit beyond it is reserved for
 * a message at least as large as the gap (`creditFor`). Before, a BLOCKED
 * grew the grant itself, so a peer's 10-byte frame sent while the
 * application had nothing to read raised its grant to the whole window for
 * good, and any messages could fill it.
 */
import type { PacketWriter } from '../wire/packet.js';
import { type CreditWaiter, RECEIVE_FLOOR, type ReceivePool } from './receive/receive-pool.js';
import { AnnouncedLimit } from './announced-limit.js';
import type { BlockedAnswer } from './blocked-answer.js';
import { firstGrantOf } from './credit.js';

/** Credit in both directions for one connection. */
export class FlowControl extends AnnouncedLimit {
  /** Window credit of the messages the application has read (`creditOf` each). */
  private consumed: number;
  /** The endpoint's budget the credit we grant comes from (`undefined`: none, or given back at the end). */
  private pool: ReceivePool | undefined;
  /** The credit we grant now, at most the window: `initialGrant` at first, grown by `growByRate`, `answerBlocked` and `raiseReceiveWindow`. */
  private grantBytes: number;
  /** When the current measuring round trip began (`growByRate`), ms (`undefined`: none yet, not -Infinity, which would be boxed). */
  private epochStart: number | undefined;
  /** `consumed` when it began. */
  private epochConsumed: number;
  /** The party (the peer's address) whose share of the endpoint's first grants ours counts in (`ReceivePool.partyShare`). */
  private readonly party: string | undefined;
  /** What our first grant took of that share (beyond the floor), given back at the end. */
  private readonly firstBeyond: number;
  /** What our floor went past the endpoint's budget less its reserve as we opened (`ReceivePool.open`), given back at the end. */
  private readonly overdraw: number;
  /** Window credit of every message that began to arrive (`began`): the stream the peer has filled, in any order. */
  private begun: number;
  /** The answer to the peer's BLOCKED: made at the first one (see `BlockedAnswer`). */
  private blocked: BlockedAnswer | undefined;
  /** The connection, as the endpoint's budget knows it (`ReceivePool.grantable`'s `who`): set by it once made. */
  waiter: CreditWaiter | undefined;

  constructor(
    /** Our receive window, bytes (`raiseReceiveWindow` may grow it): the most we grant. */
    receiveWindow: number,
    peerWindow: number,
    pool?: ReceivePool,
    /** The limit the peer granted at first (its handshake), if known; else its window. */
    peerLimit = peerWindow,
    /** A server connection's party (`partyOf` its peer): its first grant counts in the party's share of the budget. */
    party?: string,
  ) {
    super(receiveWindow, peerWindow, peerLimit);
    // Stream offsets, set here, not as `= 0` initializers: see `PeerLimit.blockedAt` (a box each, else).
    this.consumed = 0;
    this.epochConsumed = 0;
    this.begun = 0;
    this.pool = pool;
    this.grantBytes = firstGrantOf(receiveWindow, pool, party);
    let credit = this.grantBytes;
    let overdraw = 0;
    if (pool !== undefined) {
      pool.noteWindow(receiveWindow);
      credit = pool.opening(credit);
      overdraw = pool.open();
      pool.move(0, credit);
    }
    this.overdraw = overdraw;
    this.advertisedLimit = credit;
    this.party = pool === undefined ? undefined : party;
    this.firstBeyond = this.party === undefined ? 0 : Math.max(0, this.grantBytes - RECEIVE_FLOOR);
    if (this.party !== undefined && this.firstBeyond > 0) pool?.chargeFirstGrant(this.party, this.firstBeyond);
  }

  /** The credit we grant the peer now: what we announced less what the application read (what the peer may make us hold). */
  get credit(): number {
    return this.advertisedLimit - this.consumed;
  }

  /** The credit we mean to grant now (`credit` is less while the endpoint's budget is short): grows from `initialGrant` to `window`. */
  get grant(): number {
    return this.grantBytes;
  }

  /**
   * The credit we mean to grant now: the grant, or while a BLOCKED answered waits for its message, what
   * that message needs (at most the window).
   */
  get wanted(): number {
    const grant = this.grantBytes;
    const end = this.blocked?.end ?? 0;
    if (end === 0) return grant;
    const need = end - this.consumed;
    return need > grant ? need : grant;
  }

  /** The credit the message a BLOCKED was answered for needs now (0: none waits): granted whole when the budget has room for it (`ReceivePool.grantable`). */
  private get needed(): number {
    const end = this.blocked?.end ?? 0;
    return end === 0 ? 0 : end - this.consumed;
  }

  /**
   * Credit only the message a BLOCKED was answered for may take: what the limit granted for it goes
   * past both the limit before the answer and what the grant alone would allow now.
   */
  get reserved(): number {
    const b = this.blocked;
    if (b === undefined || b.end === 0) return 0;
    const grantAlone = this.consumed + this.grantBytes;
    const from = b.from > grantAlone ? b.from : grantAlone;
    const top = b.end < this.advertisedLimit ? b.end : this.advertisedLimit;
    return top > from ? top - from : 0;
  }

  /**
   * The credit a message of `bytes` (`creditOf` its length) may find: all of it for a message as large
   * as the reserved part, else the credit less what is reserved (reassembly refuses a message past it).
   */
  creditFor(bytes: number): number {
    if ((this.blocked?.end ?? 0) === 0) return this.credit;
    const reserved = this.reserved;
    return bytes >= reserved ? this.credit : this.credit - reserved;
  }

  /** Reassembly took the first fragment of a message of `bytes` credit: one as large as the reserved part ends the reservation. */
  began(bytes: number): void {
    this.begun += bytes;
    const b = this.blocked;
    // The overcommit answer is begun once every message up to its limit has (the stream is counted from
    // 0 in the same credit). Ended with the reservation, by a message as large as what is reserved, it
    // was dodged: with a grant as large as the window (raised at login) the reservation is 0, and a peer
    // that said BLOCKED for 31 MiB and then sent one byte held the 31 MiB past the budget, timed by
    // nothing, for good; one that said BLOCKED for 30 MiB and then for 3 KiB more, and began a 3 KiB
    // message, the same.
    if (b !== undefined && b.overcommitEnd !== 0 && this.begun >= b.overcommitEnd) b.overcommitEnd = 0;
    if (b !== undefined && b.end !== 0 && bytes >= this.reserved) {
      b.end = 0;
      this.pool?.unclaim(this.waiter);
    }
    // Room in the party's share: a BLOCKED of another of its connections may be waiting for it, and
    // would otherwise be asked again only when some connection reads or ends.
    if (this.recharge()) this.pool?.serve();
  }

  /**
   * The reservation's count in the party's share follows what messages have filled: the answered limit
   * less the larger of `begun` and what the grant alone allows (not the one message's `reserved`, which
   * a second BLOCKED narrows to its increment: counted so, a peer that said BLOCKED twice, or past its
   * window and then read a small message, had the whole limit with only the increment counted, and 30
   * connections of one address held 960 MiB again). Returns whether the count fell.
   */
  private recharge(): boolean {
    const b = this.blocked;
    if (b === undefined || b.shareEnd === 0) return false;
    const grantAlone = this.consumed + this.grantBytes;
    const filled = this.begun > grantAlone ? this.begun : grantAlone;
    const charge = b.shareEnd > filled ? b.shareEnd - filled : 0;
    if (charge === 0) b.shareEnd = 0;
    if (charge >= b.reservedCharge) return false;
    this.chargeReservation(charge);
    return true;
  }

  /** @internal Window credit of every message that began to arrive (`began`): grows as one begins. */
  get begunCredit(): number {
    return this.begun;
  }

  /**
   * Whether the message a BLOCKED waits for was granted from the endpoint's overcommit (past its budget:
   * receive-pool.ts) and has not begun to arrive (nor has every message before it). A peer that holds it so keeps every other waiting
   * message out of the overcommit: the connection gives it a time to begin (connection/timeouts.ts).
   */
  get holdsOvercommit(): boolean {
    return (this.blocked?.overcommitEnd ?? 0) !== 0;
  }

  /** Overcommit answers this connection was given (see `BlockedAnswer.overcommits`). */
  get overcommits(): number {
    return this.blocked?.overcommits ?? 0;
  }

  /** The peer held the overcommit unused and is closed for it: its party goes behind the others for it (`ReceivePool.penalize`). */
  forfeitOvercommit(): void {
    if (this.party !== undefined) this.pool?.penalize(this.party);
  }

  /** Credit went from `held` to `credit` where the budget had `room` left: from the overcommit if it answered a BLOCKED past that room. */
  private noteAnswer(held: number, credit: number, room: number): void {
    const need = this.needed;
    const b = this.blocked;
    // `need` is 0 without an answer: `b` is there past this test.
    if (b === undefined || need === 0 || credit < need || credit - (held > RECEIVE_FLOOR ? held : RECEIVE_FLOOR) <= room || b.overcommitEnd === b.end) return;
    b.overcommitEnd = b.end;
    b.overcommits++;
  }

  /** Whether a BLOCKED waits unanswered for room in the party's share (see `answerBlocked`). */
  get shareWaiting(): boolean {
    return this.blocked?.shareWaiting ?? false;
  }

  /** The reservation now takes `bytes` of the party's share. */
  private chargeReservation(bytes: number): void {
    const b = this.blocked;
    if (this.party !== undefined && this.pool !== undefined) this.pool.moveReservation(this.party, b?.reservedCharge ?? 0, bytes);
    // Without an answer the charge is 0 and stays so: only `answerBlocked` (which made one) charges more.
    if (b !== undefined) b.reservedCharge = bytes;
  }

  /** Our receive window. */
  get window(): number {
    return this.receiveWindow;
  }

  /**
   * The application asks to grant `bytes`: the grant grows to it, and the
   * window too if it is smaller (neither ever shrinks: credit announced
   * cannot be taken back). The new limit is announced at once in MAX_DATA;
   * while the endpoint's budget is short, only what it has room for (`credit`
   * less than the grant then). A larger window is announced at once too, in
   * WINDOW, whatever credit the budget has: the peer may then send messages
   * up to it, and one the credit does not cover waits for it (BLOCKED, as any
   * message past the limit does). Before, the peer learnt the window only
   * from MAX_DATA's limit, so under a short budget it kept the old window and
   * its `send` refused the larger messages the raise was for (the forum
   * server's 8 KiB → 128 KiB at login, past 7,680 sessions under the default
   * budget). A value at or below the window but above the grant
   * grants it too: before, it changed nothing, so an application could not
   * grant a lazily granted connection (1 MiB of a 32 MiB window) more
   * without also raising its window. Returns whether the grant grew.
   */
  raiseReceiveWindow(bytes: number): boolean {
    if (bytes <= this.grantBytes) return false;
    const grows = bytes > this.receiveWindow;
    if (grows) {
      this.pool?.noteWindow(bytes, this.receiveWindow);
      this.receiveWindow = bytes;
    }
    this.grantBytes = bytes;
    if (this.grantMore()) this.noteLimitRaised();
    if (grows) this.announceWindow();
    return true;
  }

  /** The peer says it waits for our limit to reach `limit` (BLOCKED). */
  onPeerBlocked(limit: number): void {
    this.blocked ??= { peerWants: 0, end: 0, from: 0, reservedCharge: 0, shareEnd: 0, shareWaiting: false, overcommits: 0, overcommitEnd: 0 };
    if (limit > this.blocked.peerWants) this.blocked.peerWants = limit;
  }

  /** Whether the peer waits for a limit past the one we announced (a message larger than what we grant). */
  get peerWaiting(): boolean {
    return (this.blocked?.peerWants ?? 0) > this.advertisedLimit;
  }

  /**
   * The peer waits for a limit past ours and the application keeps up (the
   * connection checked: not paused, no whole message unread): the limit
   * grows to fit what the peer waits for if the window allows it now (else it waits for reads), and is
   * announced. The grant does not grow: the credit past it is reserved for
   * the one message (`reserved`). Returns whether the limit grew (while the
   * endpoint's budget is short, only what it has room for: see `topUp`).
   */
  answerBlocked(): boolean {
    const b = this.blocked;
    if (b === undefined || !this.peerWaiting) {
      if (b !== undefined) b.shareWaiting = false;
      return false;
    }
    // A limit past what the window allows now waits for reads: the message cannot begin on part of it
    // (a message leaves once the limit covers all of it). A partial answer held credit no message could
    // use, was answered again at each read (a peer claiming past its window kept its whole window so),
    // and, counted whole, two connections of one address holding one each could wait on each other.
    const end = b.peerWants;
    if (end > this.consumed + this.receiveWindow) {
      b.shareWaiting = false;
      return false;
    }
    if (end > b.end) {
      const grantAlone = this.consumed + this.grantBytes;
      const from = this.advertisedLimit > grantAlone ? this.advertisedLimit : grantAlone;
      const filled = this.begun > grantAlone ? this.begun : grantAlone;
      const charge = end > filled ? end - filled : 0;
      // A server connection's reservation counts in its party's share of the budget: past it, the
      // BLOCKED waits (the connection is offered credit as it returns) until the party's others begin.
      if (this.party !== undefined && this.pool !== undefined && !this.pool.mayReserve(this.party, charge, b.reservedCharge)) {
        b.shareWaiting = true;
        return false;
      }
      b.shareWaiting = false;
      b.shareEnd = end;
      this.chargeReservation(charge);
      b.from = from;
      b.end = end;
    }
    if (!this.grantMore()) return false;
    // Repeated until the peer is known to have it, in ACK-only packets too while its message has not begun
    // (`repeatAnswerIfRoom`): the peer sends nothing but probes meanwhile.
    this.noteLimitRaised();
    return true;
  }

  /**
   * Writes MAX_DATA into an ACK-only packet if it answered a BLOCKED whose message has not begun and is not
   * known to have arrived (and fits). Sent once, a lost answer held the peer's message until our own probe
   * timeout resent it: the peer's probes drew ACKs that did not carry it, 348-524 ms in 4 of 9 forum RDTs at
   * 50 % ACK loss on loopback (attack/README-23-forum-under-loss.md). Returns whether it wrote it.
   */
  repeatAnswerIfRoom(w: PacketWriter): boolean {
    if ((this.blocked?.end ?? 0) === 0) return false;
    return this.repeatRaiseIfRoom(w);
  }

  /**
   * The application is about to read a message of `bytes` credit at `now`
   * (ms; `rttMs` the round trip): if it has read a quarter of the grant
   * within a round trip, the grant may be what holds the peer back (a peer
   * that sends less than that a round trip is held back by something
   * else), so it grows to twice itself or four times what was read,
   * whichever is more, up to the window, as Linux's receive-buffer
   * autotuning grows a TCP window. Call before `onRead`, which announces
   * the new limit.
   */
  growByRate(bytes: number, now: number, rttMs: number): void {
    if (this.grantBytes >= this.receiveWindow) return;
    if (now - (this.epochStart ?? Number.NEGATIVE_INFINITY) > rttMs) {
      this.epochStart = now;
      this.epochConsumed = this.consumed;
    }
    const read = this.consumed + bytes - this.epochConsumed;
    if (read < this.grantBytes / 4) return;
    // Twice what was read in the round trip, and more while the peer's rate still doubles each round
    // trip (a congestion controller's start): four times it, as Linux's DRS does in slow start.
    const grant = Math.max(this.grantBytes * 2, read * 4);
    this.grantBytes = grant < this.receiveWindow ? grant : this.receiveWindow;
    this.epochStart = now;
    this.epochConsumed = this.consumed + bytes;
  }

  /** Grants what `wanted` and the budget allow beyond what is granted, announced in MAX_DATA; whether the limit grew. */
  private grantMore(): boolean {
    const held = this.advertisedLimit - this.consumed;
    const credit = this.take(held);
    if (credit <= held) return false;
    this.advertisedLimit = this.consumed + credit;
    this.maxDataDue = true;
    return true;
  }

  /**
   * The application read a message that took `bytes` of the window (`creditOf` its length). Returns
   * whether the endpoint's budget keeps the connection short of its grant (see `topUp`).
   */
  onRead(bytes: number): boolean {
    const pool = this.pool;
    this.consumed += bytes;
    if (pool === undefined) {
      const limit = this.consumed + this.grantBytes;
      if (limit - this.advertisedLimit >= this.grantBytes / 4) {
        this.advertisedLimit = limit;
        this.maxDataDue = true;
      }
      return false;
    }
    const held = this.advertisedLimit - this.consumed;
    pool.move(held + bytes, held);
    this.recharge();
    // Announced once it is a quarter of what may be granted now: the grant while the budget has room
    // (one MAX_DATA per quarter grant, as without a pool), less while it is short.
    const short = this.topUp();
    pool.serve();
    return short;
  }

  /**
   * Grants what the endpoint's budget now has room for, announced if it
   * adds a quarter of the credit (see `onRead`). Returns whether the budget
   * still keeps the connection short of its grant.
   */
  topUp(): boolean {
    if (this.pool === undefined) return false;
    const held = this.advertisedLimit - this.consumed;
    const wanted = this.wanted;
    const room = this.pool.room;
    const credit = this.pool.grantable(held, wanted, this.needed, this.waiter, this.party);
    // While the peer waits for a limit (BLOCKED, answered in part) any credit is announced: it sends
    // nothing more, so no read would announce a last step smaller than a quarter.
    if (credit > held && (credit - held >= credit / 4 || this.peerWaiting)) {
      this.pool.move(held, credit);
      this.advertisedLimit = this.consumed + credit;
      this.maxDataDue = true;
      this.noteAnswer(held, credit, room);
    }
    return credit < wanted;
  }

  /** The credit the budget lets us grant now (the whole grant without one), charged to it; `held` is granted already. */
  private take(held: number): number {
    const pool = this.pool;
    const wanted = this.wanted;
    if (pool === undefined) return wanted > held ? wanted : held;
    const room = pool.room;
    const credit = pool.grantable(held, wanted, this.needed, this.waiter, this.party);
    pool.move(held, credit);
    if (credit > held) this.noteAnswer(held, credit, room);
    return credit;
  }

  /**
   * Whether an unread datagram taking `bytes` (`creditOf` its length) may be held: always without a
   * pool; with one, if the endpoint's budget has room, or if the connection holds no other (`first`:
   * one datagram's worth is its floor). Charged to the pool if held.
   */
  holdDatagram(bytes: number, first: boolean): boolean {
    return this.pool === undefined || this.pool.holdDatagram(bytes, first);
  }

  /** The application read a datagram `holdDatagram` let in (charged to the pool if it was held while there was one). */
  releaseDatagram(bytes: number): void {
    this.pool?.releaseDatagram(bytes);
  }

  /**
   * The connection ended: the credit it granted, and `datagrams` (the credit of its unread datagrams, all
   * charged: they came while the pool was there), return to the endpoint's budget, once.
   */
  release(datagrams: number): void {
    const pool = this.pool;
    if (pool === undefined) return;
    this.chargeReservation(0);
    if (this.blocked !== undefined) this.blocked.overcommitEnd = 0;
    pool.unclaim(this.waiter);
    pool.dropWindow(this.receiveWindow);
    this.pool = undefined;
    if (this.party !== undefined && this.firstBeyond > 0) pool.chargeFirstGrant(this.party, -this.firstBeyond);
    pool.close(this.advertisedLimit - this.consumed, datagrams, this.overdraw);
  }
}
