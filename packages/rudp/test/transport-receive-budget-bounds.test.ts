/**
 * The endpoint-wide receive budget (`maxReceiveBufferBytes`): each connection's
 * window bounds what its peer can make it hold, and the budget bounds the sum
 * over connections. Before it, 16 peers that each began a message as large as
 * a 1 MiB window allowed and sent half of it made the server hold 16 MiB
 * (each message allocated whole once a quarter of it had come), whatever the
 * server could afford; with a 4 MiB budget they now hold at most 4 MiB, each
 * message still completes once its sender sends the rest, and a connection
 * opened while the budget is spent still exchanges messages within its floor.
 * Also: the default budget, and the windows a budget lets a connection announce.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import { DEFAULT_MAX_RECEIVE_BUFFER_BYTES, RECEIVE_FLOOR } from '../src/core/receive/receive-pool.js';
import { INITIAL_GRANT } from '../src/core/credit.js';
import { BUDGET, type Herd, SERVER, WINDOW, BYTE_PERIOD, byteAt, creditTo, floodUnread, heldBytes, herd, runUntil } from './helpers/receive-budget-rig.js';
import { filledBytes } from './helpers/filled-bytes.js';

/**
 * Each peer sends one message as large as the server's credit lets it start (at most its window), and
 * stops after half of it; returns the messages.
 */
function beginHalfMessages(h: Herd): Uint8Array[] {
  return h.peers.map((p, i) => {
    expect(p.conn.state).toBe('established');
    const m = filledBytes(Math.min(p.conn.maxMessageSize(), creditTo(h, p) - 256), (k) => byteAt(i, k), BYTE_PERIOD);
    p.cutAfter = p.sent + m.length / 2;
    p.conn.send(m);
    h.sim.wake(p.address);
    return m;
  });
}

describe('an endpoint-wide receive budget (maxReceiveBufferBytes)', () => {
  it('16 peers each begin a message as large as their window allows and send half: the server holds no more than the budget, and each message completes once the rest is sent', () => {
    const h = herd(1, { receiveWindow: WINDOW, maxReceiveBufferBytes: BUDGET });
    for (let i = 0; i < 16; i++) h.addPeer();
    runUntil(h, () => h.peers.every((p) => p.conn.state === 'established'), 2_000);
    const messages = beginHalfMessages(h);
    // Every sender has sent its half (or all its window lets it before the cut) and retries into the cut.
    h.sim.runFor(3_000);
    const held = heldBytes(h);
    // Without the budget: 16 × 1 MiB (16.0 MiB), each message allocated whole at a quarter.
    expect(held).toBeLessThanOrEqual(BUDGET);
    expect(held).toBeGreaterThan(BUDGET / 2);
    const stats = h.server.stats().receiveBuffer;
    expect(stats.budget).toBe(BUDGET);
    expect(stats.granted).toBeLessThanOrEqual(BUDGET);
    // The first connections took whole windows; the budget held back the later ones (their peers'
    // largest message is still the window: a message larger than the credit waits for it).
    const sizes = messages.map((m) => m.length);
    expect(Math.max(...sizes)).toBe(WINDOW - 256);
    expect(Math.min(...sizes)).toBeLessThan(WINDOW / 16);
    for (const p of h.peers) expect(p.conn.maxMessageSize()).toBe(WINDOW - 256);
    expect(stats.waiting).toBeGreaterThan(0);

    for (const p of h.peers) p.cutAfter = Number.POSITIVE_INFINITY;
    runUntil(h, () => h.accepted.every((c) => (h.received.get(c)?.length ?? 0) === 1), 60_000);
    for (const [i, c] of h.accepted.entries()) {
      const got = h.received.get(c)?.[0];
      const m = messages[h.peers.findIndex((p) => p.conn.remoteCid === c.localCid)] as Uint8Array;
      expect(got?.length, `connection ${i}`).toBe(m.length);
      expect(Buffer.compare(got as Uint8Array, m), `connection ${i}`).toBe(0);
    }
    // All read: what the connections grant again stays within the budget.
    expect(h.server.stats().receiveBuffer.granted).toBeLessThanOrEqual(BUDGET);
  });

  it('a connection opened while the budget is spent still makes progress within its floor: 100 messages of 3,000 bytes arrive, in order', () => {
    // A budget of 0: every connection has its floor only, and 8 of them hold theirs with unfinished messages.
    const h = herd(2, { receiveWindow: WINDOW, maxReceiveBufferBytes: 0 });
    for (let i = 0; i < 8; i++) h.addPeer();
    runUntil(h, () => h.peers.every((p) => p.conn.state === 'established'), 2_000);
    beginHalfMessages(h);
    h.sim.runFor(3_000);
    const late = h.addPeer();
    runUntil(h, () => late.conn.state === 'established', 2_000);
    expect(late.conn.state).toBe('established');
    // The budget is spent by the unfinished messages: the newcomer's credit is its floor.
    expect(creditTo(h, late)).toBe(RECEIVE_FLOOR);
    const sent = Array.from({ length: 100 }, (_, k) => new Uint8Array(3_000).fill(k));
    for (const m of sent) late.conn.send(m);
    h.sim.wake(late.address);
    const conn = (): Connection | undefined => h.accepted.find((c) => c.localCid === late.conn.remoteCid);
    runUntil(h, () => (h.received.get(conn() as Connection)?.length ?? 0) === 100, 30_000);
    expect(h.received.get(conn() as Connection)?.map((m) => m[0])).toEqual(sent.map((m) => m[0]));
    // The others are still stuck half way, holding their floors.
    expect(h.accepted.filter((c) => c.reassembly.partialBytes > 0)).toHaveLength(8);
    expect(heldBytes(h)).toBeLessThanOrEqual(9 * RECEIVE_FLOOR);
  });

  it('credit comes back when a connection ends: one that started short gets its whole window, and its peer sends a message that size', () => {
    const h = herd(3, { receiveWindow: WINDOW, maxReceiveBufferBytes: WINDOW + WINDOW / 4 });
    const first = h.addPeer();
    runUntil(h, () => first.conn.state === 'established', 2_000);
    const second = h.addPeer();
    runUntil(h, () => second.conn.state === 'established', 2_000);
    expect(creditTo(h, first)).toBe(WINDOW);
    // What the first left: the floor and half the rest (beyond the sixteenth kept for the floors of later connections).
    expect(creditTo(h, second)).toBeLessThan(WINDOW / 8);
    expect(second.conn.maxMessageSize()).toBe(WINDOW - 256);
    expect(h.server.stats().receiveBuffer.waiting).toBe(1);
    first.conn.close(h.sim.now);
    h.sim.wake(first.address);
    runUntil(h, () => creditTo(h, second) === WINDOW, 5_000);
    expect(creditTo(h, second)).toBe(WINDOW);
    expect(h.server.stats().receiveBuffer.waiting).toBe(0);
    const big = filledBytes(WINDOW - 256, (k) => byteAt(1, k), BYTE_PERIOD);
    second.conn.send(big);
    h.sim.wake(second.address);
    const conn = (): Connection | undefined => h.accepted.find((c) => c.localCid === second.conn.remoteCid);
    runUntil(h, () => (h.received.get(conn() as Connection)?.length ?? 0) === 1, 30_000);
    expect(Buffer.compare(h.received.get(conn() as Connection)?.[0] as Uint8Array, big)).toBe(0);
  });

  it('every connection gives all it was charged back when it ends, and leaves the list of those waiting for credit, even when the budget never has room', () => {
    // A budget of 40 floors: the window it allows (150 KiB: a budget of 0 allows the floor, which
    // leaves no connection wanting more) goes to the first connection, and the other 19 wait at their floors.
    const budget = 40 * RECEIVE_FLOOR;
    const h = herd(6, { receiveWindow: WINDOW, maxReceiveBufferBytes: budget });
    for (let i = 0; i < 20; i++) h.addPeer();
    runUntil(h, () => h.peers.every((p) => p.conn.state === 'established'), 2_000);
    for (const p of h.peers) p.conn.send(new Uint8Array(1_000), { reliable: false });
    for (const p of h.peers) h.sim.wake(p.address);
    h.sim.runFor(500);
    expect(h.server.stats().receiveBuffer).toEqual({ budget, granted: budget - budget / 16 + 19 * RECEIVE_FLOOR, waiting: 19 });
    for (const p of h.peers) p.conn.close(h.sim.now);
    for (const p of h.peers) h.sim.wake(p.address);
    runUntil(h, () => h.server.connectionCount === 0, 5_000);
    expect(h.server.stats().receiveBuffer).toEqual({ budget, granted: 0, waiting: 0 });
  });

  it('datagrams a paused application leaves unread are held within the budget too (dropped past it), and flow again once it reads', () => {
    const budget = 256 * 1024;
    const h = herd(5, { receiveWindow: WINDOW, maxReceiveBufferBytes: budget });
    const p = h.addPeer();
    runUntil(h, () => p.conn.state === 'established' && h.accepted.length === 1, 2_000);
    const server = h.accepted[0] as Connection;
    server.pause();
    for (let k = 0; k < 600; k++) p.conn.send(new Uint8Array(1_000).fill(k & 0xff), { reliable: false });
    h.sim.wake(p.address);
    h.sim.runFor(3_000);
    // Before: the window's worth (1 MiB of credit: 834 datagrams, all 600 here) held unread.
    expect(server.reassembly.unreadBytes).toBeLessThanOrEqual(budget);
    expect(server.stats().datagramsDropped).toBeGreaterThan(0);
    expect(h.server.stats().receiveBuffer.granted).toBeLessThanOrEqual(budget);
    const held = server.reassembly.unreadBytes / 1_000;
    server.resume();
    h.read();
    h.sim.wake(SERVER);
    expect(h.received.get(server)).toHaveLength(held);
    for (let k = 0; k < 100; k++) p.conn.send(new Uint8Array(1_000).fill(k & 0xff), { reliable: false });
    h.sim.wake(p.address);
    h.sim.runFor(1_000);
    expect(h.received.get(server)).toHaveLength(held + 100);
  });

  it('the default budget is 1 GiB: idle default connections grant their first 1 MiB each, and the 32 MiB window stays the largest message', () => {
    // With a binding default of 256 MiB when every connection granted its whole 32 MiB window, the ninth
    // got a 4 KiB window; granted lazily, 960 idle default connections fit before newcomers start smaller.
    const h = herd(4, {});
    const peers = Array.from({ length: 13 }, () => h.addPeer());
    runUntil(h, () => peers.every((p) => p.conn.state === 'established'), 2_000);
    for (const p of peers) expect(p.conn.maxMessageSize()).toBe(32 * 1024 * 1024 - 256);
    // Each grants its first grant only (1 MiB, not its 32 MiB window) until its application reads.
    // Before: no budget (2^50), so what the connections of every peer granted together had no bound.
    expect(h.server.stats().receiveBuffer).toEqual({ budget: DEFAULT_MAX_RECEIVE_BUFFER_BYTES, granted: 13 * INITIAL_GRANT, waiting: 0 });
    expect(DEFAULT_MAX_RECEIVE_BUFFER_BYTES).toBe(2 ** 30);
  });

  it('with every default, a window past what the 1 GiB budget could grant one connection is announced as that (960 MiB)', () => {
    // Before (no budget by default) a 2 GiB window was announced whole, and the sum over connections was unbounded.
    const h = herd(12, { receiveWindow: 2 * 1024 * 1024 * 1024 });
    const peer = h.addPeer();
    runUntil(h, () => peer.conn.state === 'established', 2_000);
    expect(peer.conn.maxMessageSize()).toBe(960 * 1024 * 1024 - 256);
  });

  it('greedy connections whose application never reads hold no more than the budget, and a newcomer whose application reads still gets its messages through', () => {
    // 24 peers, each from its own address, queue 2 MiB of 16 KiB messages on connections their server
    // application never reads (paused, as the Node API pauses a connection nothing consumes): what they
    // make the server hold is bounded by the 16 MiB budget, not by 24 first grants (24 MiB). A connection
    // opened then, whose application reads, is granted its floor at least: its messages arrive, in order.
    const budget = 16 * 1024 * 1024;
    const h = herd(13, { maxReceiveBufferBytes: budget });
    const greedy = floodUnread(h);
    const held = heldBytes(h);
    expect(held).toBeLessThanOrEqual(budget);
    // The budget is what binds (every greedy peer still has messages queued), not the grants.
    expect(held).toBeGreaterThan(budget - budget / 16 - 24 * 16 * 1024);
    for (const p of greedy) expect(p.conn.bufferedAmount).toBeGreaterThan(0);
    expect(h.server.stats().receiveBuffer.granted).toBeLessThanOrEqual(budget + 24 * RECEIVE_FLOOR);

    const late = h.addPeer();
    runUntil(h, () => late.conn.state === 'established', 2_000);
    expect(creditTo(h, late)).toBeGreaterThanOrEqual(RECEIVE_FLOOR);
    const sent = Array.from({ length: 200 }, (_, k) => new Uint8Array(1_000 + 10 * k).fill(k));
    for (const m of sent) late.conn.send(m);
    h.sim.wake(late.address);
    const conn = (): Connection | undefined => h.accepted.find((c) => c.localCid === late.conn.remoteCid);
    runUntil(h, () => (h.received.get(conn() as Connection)?.length ?? 0) === sent.length, 30_000);
    expect(h.received.get(conn() as Connection)?.map((m) => [m.length, m[0]])).toEqual(sent.map((m) => [m.length, m[0]]));
    // The greedy connections still hold what they held, and the budget with them.
    expect(heldBytes(h)).toBeLessThanOrEqual(budget + RECEIVE_FLOOR);
  });

  it('a window the budget could never grant is not announced: under an 8 MiB budget the largest message is 7.5 MiB, and one that size arrives', () => {
    // Before, the default 32 MiB window was announced whatever the budget: a 16 MiB message was taken
    // by send and waited for credit for good (the budget, less its sixteenth kept for later floors,
    // never grants one connection more than 7.5 MiB), where send refused it before credit was lazy.
    const h = herd(10, { maxReceiveBufferBytes: 8 * 1024 * 1024 });
    const peer = h.addPeer();
    runUntil(h, () => peer.conn.state === 'established', 2_000);
    const most = 8 * 1024 * 1024 - 512 * 1024;
    expect(peer.conn.maxMessageSize()).toBe(most - 256);
    expect(() => peer.conn.send(new Uint8Array(16 * 1024 * 1024))).toThrow(RangeError);
    const big = filledBytes(most - 256, (k) => byteAt(3, k), BYTE_PERIOD);
    peer.conn.send(big);
    h.sim.wake(peer.address);
    const conn = (): Connection => h.accepted.find((c) => c.localCid === peer.conn.remoteCid) as Connection;
    runUntil(h, () => (h.received.get(conn())?.length ?? 0) === 1, 20_000);
    expect(Buffer.compare(h.received.get(conn())?.[0] as Uint8Array, big)).toBe(0);
    expect(conn().receiveWindow()).toBe(most);
    // Nor does a raise past it.
    conn().raiseReceiveWindow(64 * 1024 * 1024);
    expect(conn().receiveWindow()).toBe(most);

    // No budget at all: the floor is all a connection may grant, so it is the window (3,840-byte messages).
    const none = herd(11, { maxReceiveBufferBytes: 0 });
    const small = none.addPeer();
    runUntil(none, () => small.conn.state === 'established', 2_000);
    expect(small.conn.maxMessageSize()).toBe(RECEIVE_FLOOR - 256);
  });
});
