import { describe, expect, it } from 'vitest';
import { FlowControl } from '../../src/core/flow-control.js';
import { type CreditWaiter, RECEIVE_FLOOR, ReceivePool } from '../../src/core/receive/receive-pool.js';

const MiB = 1024 * 1024;

/** A waiter that takes what `flow` can grant when offered, as a connection does. */
function waiter(flow: FlowControl, log: string[], name: string): CreditWaiter & { ended: boolean } {
  return {
    creditWaiting: false,
    ended: false,
    topUpCredit(): boolean {
      log.push(name);
      return !this.ended && flow.topUp();
    },
  };
}

describe('ReceivePool', () => {
  it('grants whole windows while the budget has room, then half of what is left beyond a sixteenth, never less than the floor', () => {
    const pool = new ReceivePool(4 * MiB);
    const windows = Array.from({ length: 6 }, () => new FlowControl(MiB, MiB, pool).limit);
    // 4 MiB less its reserve (256 KiB): three whole windows, then halves of the rest.
    expect(windows.slice(0, 3)).toEqual([MiB, MiB, MiB]);
    expect(windows[3]).toBe(RECEIVE_FLOOR + Math.floor((MiB - 256 * 1024 - RECEIVE_FLOOR) / 2));
    for (let i = 4; i < 6; i++) expect(windows[i]).toBeLessThan(windows[i - 1] as number);
    expect(pool.committed).toBeLessThanOrEqual(4 * MiB - 256 * 1024);
    const none = new ReceivePool(0);
    expect(new FlowControl(MiB, MiB, none).limit).toBe(RECEIVE_FLOOR);
    expect(new FlowControl(1_024, MiB, none).limit).toBe(1_024);
    expect(none.committed).toBe(2 * RECEIVE_FLOOR);
  });

  it('without a shortage a read announces as without a pool: one MAX_DATA per quarter window', () => {
    const pooled = new FlowControl(MiB, MiB, new ReceivePool(256 * MiB));
    const plain = new FlowControl(MiB, MiB);
    for (let i = 0; i < 40; i++) {
      expect(pooled.onRead(100_000)).toBe(false);
      plain.onRead(100_000);
      expect(pooled.limit).toBe(plain.limit);
      expect(pooled.due).toBe(plain.due);
    }
  });

  it('never takes back credit granted, and what a read returns goes to the oldest waiting connection', () => {
    const pool = new ReceivePool(MiB + MiB / 4);
    const a = new FlowControl(MiB, MiB, pool);
    const b = new FlowControl(MiB, MiB, pool);
    expect(a.credit).toBe(MiB);
    expect(b.credit).toBeLessThan(MiB / 8);
    const log: string[] = [];
    const wb = waiter(b, log, 'b');
    pool.wait(wb);
    pool.wait(wb);
    expect(pool.waitingConnections).toBe(1);
    const before = b.limit;
    // a's application reads half its window: a keeps a whole window (what it read came back to it first),
    // b is offered the little room left, and neither limit ever goes down.
    a.onRead(MiB / 2);
    expect(a.credit).toBe(MiB);
    expect(b.limit).toBeGreaterThanOrEqual(before);
    expect(b.credit).toBeLessThan(MiB / 4);
    expect(log).toEqual(['b']);
    // When a ends, b is offered all of it.
    a.release(0);
    expect(log).toEqual(['b', 'b']);
    expect(b.credit).toBe(MiB);
    expect(b.due).toBe(true);
    expect(pool.waitingConnections).toBe(0);
    b.release(0);
    expect(pool.committed).toBe(0);
  });

  it('offers returned credit to a few waiters at a time, and drops ended ones even with nothing to offer', () => {
    const pool = new ReceivePool(0);
    const log: string[] = [];
    const flows = Array.from({ length: 20 }, () => new FlowControl(MiB, MiB, pool));
    const waiters = flows.map((f, i) => waiter(f, log, String(i)));
    for (const w of waiters) pool.wait(w);
    expect(pool.waitingConnections).toBe(20);
    for (const [i, w] of waiters.entries()) {
      w.ended = true;
      (flows[i] as FlowControl).release(0);
    }
    expect(pool.waitingConnections).toBe(0);
    expect(pool.committed).toBe(0);
    // 8 visits a return at most: the first end visited 8, and every waiter was visited once it had ended.
    expect(log.slice(0, 8)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
  });
});

describe("ReceivePool: a party's share of first grants", () => {
  it("a party's first connection has its whole first grant; later ones share a quarter of the budget, then start at the floor; an end gives its part back", () => {
    // 16 MiB less its sixteenth, a quarter of it: 3.75 MiB for one party's first grants beyond their floors.
    const pool = new ReceivePool(16 * MiB);
    expect(pool.partyShare).toBe(3.75 * MiB);
    const flows = Array.from({ length: 5 }, () => new FlowControl(32 * MiB, 5_000, pool, 5_000, '10.0.0.1'));
    // 1 MiB each while the share lasts (1 MiB less the floor taken by each), what is left of it, then the floor.
    expect(flows.map((f) => f.grant)).toEqual([MiB, MiB, MiB, 0.75 * MiB + 3 * RECEIVE_FLOOR + RECEIVE_FLOOR, RECEIVE_FLOOR]);
    expect(flows.map((f) => f.limit)).toEqual(flows.map((f) => f.grant));
    // Another party is not held back by this one's share.
    expect(new FlowControl(32 * MiB, 5_000, pool, 5_000, '10.0.0.2').grant).toBe(MiB);
    // No party (a client's connection): no share.
    expect(pool.firstGrant(undefined, MiB)).toBe(MiB);
    // One ends: its part of the share returns, and the next connection of the party has its whole first grant.
    flows[0]?.release(0);
    expect(new FlowControl(32 * MiB, 5_000, pool, 5_000, '10.0.0.1').grant).toBe(MiB);
  });

  it("even under a budget smaller than a first grant, a party's first connection has its whole first grant", () => {
    const pool = new ReceivePool(2 * MiB);
    expect(pool.partyShare).toBeLessThan(MiB);
    expect(new FlowControl(32 * MiB, 5_000, pool, 5_000, '10.0.0.1').grant).toBe(MiB);
    expect(new FlowControl(32 * MiB, 5_000, pool, 5_000, '10.0.0.1').grant).toBe(RECEIVE_FLOOR);
  });

  it("credit a BLOCKED reserves counts in the party's share: past it the next waits (one always goes), and a message that begins or an end gives it back", () => {
    // A 64 MiB budget: the party's share is 15 MiB.
    const pool = new ReceivePool(64 * MiB);
    expect(pool.partyShare).toBe(15 * MiB);
    const party = '10.0.0.1';
    const flows = Array.from({ length: 3 }, () => new FlowControl(32 * MiB, 5_000, pool, 5_000, party));
    const shares = (): number => (pool as unknown as { firstGrants: Map<string, number> }).firstGrants.get(party) ?? 0;
    const firsts = 3 * (MiB - RECEIVE_FLOOR);
    expect(shares()).toBe(firsts);
    const [a, b, c] = flows as [FlowControl, FlowControl, FlowControl];
    // a's peer waits for an 8 MiB message: 7 MiB past its grant, within the share.
    a.onPeerBlocked(8 * MiB);
    expect(a.answerBlocked()).toBe(true);
    expect([a.limit, a.reserved, shares()]).toEqual([8 * MiB, 7 * MiB, firsts + 7 * MiB]);
    // b's, 8 MiB more: past the share, so it waits, the limit unchanged.
    b.onPeerBlocked(9 * MiB);
    expect(b.answerBlocked()).toBe(false);
    expect([b.limit, b.shareWaiting, shares()]).toEqual([MiB, true, firsts + 7 * MiB]);
    // a's message begins: its reservation leaves the share, and b's fits.
    a.began(8 * MiB);
    expect(shares()).toBe(firsts);
    expect(b.answerBlocked()).toBe(true);
    expect([b.limit, b.shareWaiting, shares()]).toEqual([9 * MiB, false, firsts + 8 * MiB]);
    // A party's only reservation goes whatever the share: c's, once b ends (giving back its first grant and reservation).
    b.release(0);
    a.release(0);
    c.onPeerBlocked(31 * MiB);
    expect(c.answerBlocked()).toBe(true);
    expect(c.limit).toBe(31 * MiB);
    c.release(0);
    expect(shares()).toBe(0);
    expect(pool.committed).toBe(0);
    expect((pool as unknown as { reservations: Map<string, number> }).reservations.size).toBe(0);
  });

  it("a reservation answered again keeps its whole count in the party's share until messages fill it", () => {
    // A 64 MiB budget: the party's share is 15 MiB.
    const pool = new ReceivePool(64 * MiB);
    const party = '10.0.0.1';
    const shares = (): number => (pool as unknown as { firstGrants: Map<string, number> }).firstGrants.get(party) ?? 0;
    const [a, b] = [new FlowControl(32 * MiB, 5_000, pool, 5_000, party), new FlowControl(32 * MiB, 5_000, pool, 5_000, party)] as [FlowControl, FlowControl];
    const firsts = 2 * (MiB - RECEIVE_FLOOR);
    a.onPeerBlocked(12 * MiB);
    expect(a.answerBlocked()).toBe(true);
    expect(shares()).toBe(firsts + 11 * MiB);
    // A second BLOCKED, one byte more: before, the count fell to that byte (the limit kept 12 MiB).
    a.onPeerBlocked(12 * MiB + 1);
    expect(a.answerBlocked()).toBe(true);
    expect(shares()).toBe(firsts + 11 * MiB + 1);
    // A 100-byte message begins (as large as the one-byte gap): it fills 100 bytes of the reservation, no more.
    a.began(100);
    expect(shares()).toBe(firsts + 11 * MiB + 1);
    a.onRead(100);
    expect(shares()).toBe(firsts + 11 * MiB + 1 - 100);
    // So b's 8 MiB does not fit beside it; it would have before.
    b.onPeerBlocked(9 * MiB);
    expect(b.answerBlocked()).toBe(false);
    expect(b.shareWaiting).toBe(true);
    // A message as large as the rest begins: the count is given back.
    a.began(12 * MiB + 1 - 100);
    expect(shares()).toBe(firsts);
    a.release(0);
    b.release(0);
    expect(shares()).toBe(0);
    expect(pool.committed).toBe(0);
  });
});

describe('ReceivePool: the overcommit for messages BLOCKED frames wait for', () => {
  /** Idle 1 MiB connections until the budget (less its reserve) is spent: three whole, then halves of what is left, down to the floor. */
  function spend(pool: ReceivePool): FlowControl[] {
    const idle: FlowControl[] = [];
    for (let f = new FlowControl(MiB, MiB, pool); ; f = new FlowControl(MiB, MiB, pool)) {
      idle.push(f);
      if (f.credit === RECEIVE_FLOOR) return idle;
    }
  }

  /** A flow whose peer waits (BLOCKED) for a message of `bytes` credit past its limit, answered at once; its waiter. */
  function blockedFor(flow: FlowControl, bytes: number, log: string[], name: string): CreditWaiter & { ended: boolean } {
    const w = waiter(flow, log, name);
    flow.waiter = w;
    flow.onPeerBlocked(flow.limit + bytes);
    flow.answerBlocked();
    return w;
  }

  it('past a spent budget the oldest waiting message takes up to the largest window, the next one once the first is read; a part is never granted', () => {
    const pool = new ReceivePool(4 * MiB);
    const idle = spend(pool);
    expect(pool.overcommit).toBe(MiB);
    const log: string[] = [];
    const a = new FlowControl(MiB, MiB, pool);
    const b = new FlowControl(MiB, MiB, pool);
    expect([a.credit, b.credit]).toEqual([RECEIVE_FLOOR, RECEIVE_FLOOR]);
    const spent = 4 * MiB - 256 * 1024;
    // a waits for 600 KB past its floor, then b for 600 KB: a takes the overcommit, b waits (no part of it).
    const wa = blockedFor(a, 600_000, log, 'a');
    expect(a.credit).toBe(RECEIVE_FLOOR + 600_000);
    const wb = blockedFor(b, 600_000, log, 'b');
    expect(b.credit).toBe(RECEIVE_FLOOR);
    pool.wait(wb);
    expect(pool.committed).toBeLessThanOrEqual(spent + pool.overcommit);
    // a's message arrives and is read: b is asked first, and takes what the read returned.
    a.began(600_000);
    a.onRead(600_000);
    expect(log).toContain('b');
    expect(b.credit).toBe(RECEIVE_FLOOR + 600_000);
    expect(a.credit).toBeLessThanOrEqual(RECEIVE_FLOOR + 600_000);
    expect(pool.committed).toBeLessThanOrEqual(spent + pool.overcommit);
    void wa;
    for (const f of [...idle, a, b]) f.release(0);
    expect(pool.committed).toBe(0);
  });

  it("a party penalized for holding the overcommit unused goes behind another party's waiting message, though its own asked first", () => {
    const pool = new ReceivePool(4 * MiB);
    const idle = spend(pool);
    const log: string[] = [];
    const [a, c, d] = ['10.0.3.1', '10.0.3.1', '10.0.2.1'].map((party) => new FlowControl(MiB, MiB, pool, MiB, party)) as [FlowControl, FlowControl, FlowControl];
    // a takes the overcommit; c (a's address) and then d (another) wait for it.
    blockedFor(a, 600_000, log, 'a');
    expect(a.credit).toBe(RECEIVE_FLOOR + 600_000);
    pool.wait(blockedFor(c, 600_000, log, 'c'));
    pool.wait(blockedFor(d, 600_000, log, 'd'));
    expect([c.credit, d.credit]).toEqual([RECEIVE_FLOOR, RECEIVE_FLOOR]);
    // a never began its message and is closed for it: its address is penalized, and its credit returns.
    // Before, c (the older) took it, and the address's connections could keep d waiting a turn each.
    a.forfeitOvercommit();
    a.release(0);
    expect(d.credit).toBe(RECEIVE_FLOOR + 600_000);
    expect(c.credit).toBe(RECEIVE_FLOOR);
    // Once no other party's message waits, the penalized address's connections take it again.
    d.began(600_000);
    d.onRead(600_000);
    expect(c.credit).toBe(RECEIVE_FLOOR + 600_000);
    for (const f of [...idle, c, d]) f.release(0);
    expect(pool.committed).toBe(0);
  });

  it('the overcommit is the largest window of the connections still open: it shrinks back when the one raised past the others ends', () => {
    // Before, it was the largest window ever announced: one connection raised to 3 MiB (an upload)
    // and ended left the bound on what the budget grants 3 MiB past its line for good.
    const pool = new ReceivePool(4 * MiB);
    const a = new FlowControl(MiB, MiB, pool);
    const b = new FlowControl(MiB, MiB, pool);
    expect(pool.overcommit).toBe(MiB);
    b.raiseReceiveWindow(3 * MiB);
    expect(pool.overcommit).toBe(3 * MiB);
    b.raiseReceiveWindow(2 * MiB);
    expect(pool.overcommit).toBe(3 * MiB);
    b.release(0);
    expect(pool.overcommit).toBe(MiB);
    const c = new FlowControl(2 * MiB, MiB, pool);
    c.raiseReceiveWindow(3 * MiB);
    a.release(0);
    expect(pool.overcommit).toBe(3 * MiB);
    c.release(0);
    expect(pool.overcommit).toBe(0);
    expect(pool.committed).toBe(0);
  });

  it('first come, first served: while the oldest waiting message does not fit, a later smaller one does not take the overcommit', () => {
    const pool = new ReceivePool(4 * MiB);
    const idle = spend(pool);
    const log: string[] = [];
    const holder = new FlowControl(MiB, MiB, pool);
    blockedFor(holder, 700_000, log, 'holder');
    expect(holder.credit).toBe(RECEIVE_FLOOR + 700_000);
    const big = new FlowControl(MiB, MiB, pool);
    const small = new FlowControl(MiB, MiB, pool);
    const wBig = blockedFor(big, 500_000, log, 'big');
    pool.wait(wBig);
    expect(big.credit).toBe(RECEIVE_FLOOR);
    // Room for 100 KB past the budget is left: the small message would fit, but the big one came first.
    blockedFor(small, 100_000, log, 'small');
    expect(small.credit).toBe(RECEIVE_FLOOR);
    // When the big one's waiting ends (its connection ends), the small one may go.
    big.release(0);
    small.topUp();
    expect(small.credit).toBe(RECEIVE_FLOOR + 100_000);
    for (const f of [...idle, holder, small]) f.release(0);
    expect(pool.committed).toBe(0);
  });
});

describe('ReceivePool: floors of connections opened while the budget is spent do not shrink the overcommit (session 33 review)', () => {
  it("a claimant whose message needs nearly the whole overcommit is not kept out by later connections' floors, and does not keep the others out for good", () => {
    // Before: idle connections held the budget less its reserve; three connections opened after them
    // (their floors, 12 KiB, past the line, as a spent budget allows) left the overcommit 12 KiB short of
    // a message as large as the window. Its connection became the claimant and could never fit while
    // the idle ones stayed, and a small message of a fourth connection, which did fit, waited behind it
    // for good (it held less than the claimant lacked). A hostile peer opens the connections and sends
    // the one BLOCKED; honest ones do it too (any message within a few floors of the window).
    const pool = new ReceivePool(4 * MiB);
    const idle: FlowControl[] = [];
    for (let f = new FlowControl(MiB, MiB, pool); ; f = new FlowControl(MiB, MiB, pool)) {
      idle.push(f);
      if (f.credit === RECEIVE_FLOOR) break;
    }
    const log: string[] = [];
    const late = Array.from({ length: 3 }, () => new FlowControl(MiB, MiB, pool));
    const near = new FlowControl(MiB, MiB, pool);
    const small = new FlowControl(MiB, MiB, pool);
    const wNear = waiter(near, log, 'near');
    near.waiter = wNear;
    near.onPeerBlocked(MiB);
    near.answerBlocked();
    pool.wait(wNear);
    const wSmall = waiter(small, log, 'small');
    small.waiter = wSmall;
    small.onPeerBlocked(small.limit + 100_000);
    small.answerBlocked();
    pool.wait(wSmall);
    pool.serve();
    // The claimant takes the overcommit; the small message, which the rest of it cannot hold, waits its turn.
    expect(near.credit).toBe(MiB);
    expect(small.credit).toBe(RECEIVE_FLOOR);
    const most = 4 * MiB - 256 * 1024 + pool.overcommit + 5 * RECEIVE_FLOOR;
    // Past the budget less its reserve by the overcommit and the floors opened while it was spent, no more.
    expect(pool.committed).toBeLessThanOrEqual(most);
    // Its message arrives and is read: the small one goes.
    near.began(MiB);
    near.onRead(MiB);
    expect(small.credit).toBe(RECEIVE_FLOOR + 100_000);
    expect(pool.committed).toBeLessThanOrEqual(most);
    for (const f of [...idle, ...late, near, small]) f.release(0);
    expect(pool.committed).toBe(0);
  });
});
