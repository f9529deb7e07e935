/**
 * The endpoint's receive budget (`maxReceiveBufferBytes`): each connection's
 * window bounds what its peer can make it hold, and the budget bounds the sum
 * over connections. Before it, 16 peers that each began a message as large as
 * a 1 MiB window allowed and sent half of it made the server hold 16 MiB
 * (each message allocated whole once a quarter of it had come), whatever the
 * server could afford; with a 4 MiB budget they now hold at most 4 MiB, each
 * message still completes once its sender sends the rest, and a connection
 * opened while the budget is spent still exchanges messages within its floor.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import { Endpoint, type EndpointConfig } from '../src/core/endpoint.js';
import type { EndpointEvent } from '../src/core/events.js';
import { DEFAULT_MAX_RECEIVE_BUFFER_BYTES, RECEIVE_FLOOR } from '../src/core/receive/receive-pool.js';
import { INITIAL_GRANT } from '../src/core/flow-control.js';
import { SimNetwork } from '../src/testing/sim-network.js';
import { deterministicCrypto } from '../src/testing/deterministic-crypto.js';
import { nodeCryptoProvider } from '../src/node/crypto-provider.js';

const SERVER = '10.0.0.2:4000';
const WINDOW = 1024 * 1024;
const BUDGET = 4 * 1024 * 1024;

/** The byte at `offset` of client `i`'s message: a misplaced or foreign byte shows. */
const byteAt = (i: number, offset: number): number => (offset * 131 + i * 17 + 7) & 0xff;

interface Peer {
  readonly address: string;
  readonly endpoint: Endpoint;
  readonly conn: Connection;
  /** Datagrams past this many bytes sent are dropped (the sender stopped part way); `Infinity`: none. */
  cutAfter: number;
  sent: number;
}

interface Herd {
  readonly sim: SimNetwork;
  readonly server: Endpoint;
  readonly peers: Peer[];
  /** The server's connections, as they were accepted. */
  readonly accepted: Connection[];
  /** Messages the server read, per connection. */
  readonly received: Map<Connection, Uint8Array[]>;
  /** Adds a client (at 10.0.1.(i + 1), or `address`) and starts its handshake. */
  addPeer(address?: string): Peer;
  /** The server application reads what it has (as it does at each datagram and timer). */
  read(): void;
}

function herd(seed: number, server: Partial<EndpointConfig>): Herd {
  const sim = new SimNetwork({ seed, defaultLink: { delayMs: 20, jitterMs: 2 } });
  const endpoint = new Endpoint({ random: sim.random('server'), acceptIncoming: true, crypto: deterministicCrypto(nodeCryptoProvider, sim.random('server-crypto')), ...server });
  const accepted: Connection[] = [];
  const received = new Map<Connection, Uint8Array[]>();
  const read = (): void => {
    for (let e: EndpointEvent | undefined = endpoint.pollEvent(); e !== undefined; e = endpoint.pollEvent()) {
      if (e.type === 'incoming') accepted.push(e.connection);
      if (e.type === 'message') received.set(e.connection, [...(received.get(e.connection) ?? []), e.data]);
    }
  };
  sim.addNode(SERVER, endpoint, { onActivity: read });
  const peers: Peer[] = [];
  const addPeer = (at?: string): Peer => {
    const i = peers.length;
    const address = at ?? `10.0.1.${i + 1}:5000`;
    const client = new Endpoint({ random: sim.random(`client-${i}`), crypto: deterministicCrypto(nodeCryptoProvider, sim.random(`client-crypto-${i}`)) });
    const poll = client.pollTransmit.bind(client);
    const peer: Peer = { address, endpoint: client, conn: undefined as unknown as Connection, cutAfter: Number.POSITIVE_INFINITY, sent: 0 };
    client.pollTransmit = (now: number) => {
      for (let t = poll(now); t !== undefined; t = poll(now)) {
        peer.sent += t.data.length;
        if (peer.sent <= peer.cutAfter) return t;
      }
      return undefined;
    };
    sim.addNode(address, client, { onActivity: () => void drainEvents(client) });
    (peer as { conn: Connection }).conn = client.connect(sim.now, SERVER);
    sim.wake(address);
    peers.push(peer);
    return peer;
  };
  return { sim, server: endpoint, peers, accepted, received, addPeer, read };
}

function drainEvents(e: Endpoint): void {
  while (e.pollEvent() !== undefined);
}

/** What the server's connections hold: partial messages (their buffers or held pieces, and bits) and whole ones not read. */
function heldBytes(h: Herd): number {
  let total = 0;
  for (const c of h.accepted) total += c.reassembly.partialBytes + c.reassembly.unreadBytes;
  return total;
}

/**
 * 24 peers (at `addressOf(i)`, else each its own address) whose server application never reads (paused, as
 * the Node API pauses a connection nothing consumes) each queue 2 MiB of 16 KiB messages; runs 5 s.
 */
function floodUnread(h: Herd, addressOf?: (i: number) => string): Peer[] {
  const greedy = Array.from({ length: 24 }, (_, i) => h.addPeer(addressOf?.(i)));
  runUntil(h, () => greedy.every((p) => p.conn.state === 'established') && h.accepted.length === 24, 3_000);
  for (const c of h.accepted) c.pause();
  for (const [i, p] of greedy.entries()) {
    for (let k = 0; k < 128; k++) p.conn.send(new Uint8Array(16 * 1024).fill((i + k) & 0xff));
    h.sim.wake(p.address);
  }
  h.sim.runFor(5_000);
  return greedy;
}

/** The server's connection to `p`. */
function serverConnection(h: Herd, p: Peer): Connection {
  return h.accepted.find((c) => c.localCid === p.conn.remoteCid) as Connection;
}

/** The credit the server's connection to `p` grants its peer now (what its limit lets the peer send). */
function creditTo(h: Herd, p: Peer): number {
  return serverConnection(h, p).flow.credit;
}

/**
 * 30 connections from 6 addresses whose windows the server raised to 32 MiB, idle: under the default
 * budget they hold its 960 MiB (credit announced is never taken back). Returns their peers.
 */
function holdBudgetIdle(h: Herd): Peer[] {
  const idle = Array.from({ length: 30 }, (_, i) => h.addPeer(`10.0.7.${1 + (i % 6)}:${5000 + i}`));
  runUntil(h, () => idle.every((p) => p.conn.state === 'established') && h.accepted.length === 30, 3_000);
  for (const c of h.accepted) c.raiseReceiveWindow(32 * 1024 * 1024);
  h.sim.runFor(500);
  return idle;
}

/**
 * Each peer sends one message as large as the server's credit lets it start (at most its window), and
 * stops after half of it; returns the messages.
 */
function beginHalfMessages(h: Herd): Uint8Array[] {
  return h.peers.map((p, i) => {
    expect(p.conn.state).toBe('established');
    const m = Uint8Array.from({ length: Math.min(p.conn.maxMessageSize(), creditTo(h, p) - 256) }, (_, k) => byteAt(i, k));
    p.cutAfter = p.sent + m.length / 2;
    p.conn.send(m);
    h.sim.wake(p.address);
    return m;
  });
}

function runUntil(h: Herd, done: () => boolean, limitMs: number): void {
  const end = h.sim.now + limitMs;
  while (!done() && h.sim.now < end) h.sim.runFor(100);
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
    const big = Uint8Array.from({ length: WINDOW - 256 }, (_, k) => byteAt(1, k));
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

  it("one address's greedy connections take no more than its share of the budget in first grants: a newcomer from another address gets its whole first grant", () => {
    // 24 connections from one address (its ports 5000…5023) that the server application never reads, each
    // queueing 2 MiB, against a 16 MiB budget: their first grants stop at the party's share (a quarter of
    // the budget less its reserve, 3.75 MiB), and the rest start at their 4 KiB floors. Before, they took
    // the budget's 15 MiB, and a newcomer from another address started at its floor: its 200 messages
    // of 1,000 to 2,990 bytes took 7.4 s (4 KiB a round trip).
    const budget = 16 * 1024 * 1024;
    const share = (budget - budget / 16) / 4;
    const h = herd(14, { maxReceiveBufferBytes: budget });
    floodUnread(h, (i) => `10.0.9.9:${5000 + i}`);
    expect(heldBytes(h)).toBeLessThanOrEqual(share + 24 * RECEIVE_FLOOR);
    // (Bytes held: each 16 KiB message takes 256 bytes more of credit.)
    expect(heldBytes(h)).toBeGreaterThan(share * 0.95);

    const late = h.addPeer('10.0.2.1:5000');
    runUntil(h, () => late.conn.state === 'established', 2_000);
    expect(creditTo(h, late)).toBe(INITIAL_GRANT);
    const sent = Array.from({ length: 200 }, (_, k) => new Uint8Array(1_000 + 10 * k).fill(k));
    for (const m of sent) late.conn.send(m);
    h.sim.wake(late.address);
    const conn = (): Connection | undefined => h.accepted.find((c) => c.localCid === late.conn.remoteCid);
    const start = h.sim.now;
    runUntil(h, () => (h.received.get(conn() as Connection)?.length ?? 0) === sent.length, 30_000);
    expect(h.received.get(conn() as Connection)?.map((m) => [m.length, m[0]])).toEqual(sent.map((m) => [m.length, m[0]]));
    // A round trip or two (40 ms each), where the floor took 7.4 s.
    expect(h.sim.now - start).toBeLessThanOrEqual(500);
  });

  it("a connection that starts at its floor because its address's share is spent earns its grant by reading: a 1 MiB run of messages arrives", () => {
    const budget = 16 * 1024 * 1024;
    const h = herd(15, { maxReceiveBufferBytes: budget });
    // Four idle connections of one address take its share (3.75 MiB) in first grants; the fifth starts at the floor.
    const idle = Array.from({ length: 4 }, (_, i) => h.addPeer(`10.0.9.9:${5000 + i}`));
    runUntil(h, () => idle.every((p) => p.conn.state === 'established'), 2_000);
    const fifth = h.addPeer('10.0.9.9:5004');
    runUntil(h, () => fifth.conn.state === 'established', 2_000);
    expect(creditTo(h, fifth)).toBe(RECEIVE_FLOOR);
    const sent = Array.from({ length: 256 }, (_, k) => new Uint8Array(3_000 + k).fill(k));
    for (const m of sent) fifth.conn.send(m);
    h.sim.wake(fifth.address);
    const conn = (): Connection => h.accepted.find((c) => c.localCid === fifth.conn.remoteCid) as Connection;
    runUntil(h, () => (h.received.get(conn())?.length ?? 0) === sent.length, 30_000);
    expect(h.received.get(conn())?.map((m) => m.length)).toEqual(sent.map((m) => m.length));
    // It read, so its grant grew by rate past the floor.
    expect(conn().flow.grant).toBeGreaterThan(64 * 1024);
  });

  it("credit reserved for messages BLOCKED frames ask for counts in the address's share: 30 connections of one address asking for 32 MiB messages they never send leave a newcomer its first grant", () => {
    // Every default (a 1 GiB budget, 32 MiB windows). Before, the 30 reservations (the limit each
    // BLOCKED was answered with) counted nowhere: they held 960 MiB, the newcomer from another address
    // got its 4 KiB floor, and its 4 MiB message had not arrived after 60 s (it never would).
    const h = herd(16, {});
    const greedy = Array.from({ length: 30 }, (_, i) => h.addPeer(`10.0.9.9:${5000 + i}`));
    runUntil(h, () => greedy.every((p) => p.conn.state === 'established') && h.accepted.length === 30, 3_000);
    for (const p of greedy) {
      // The peer says BLOCKED for a window-sized message, and never starts it.
      const allows = p.conn.flow.allows.bind(p.conn.flow);
      p.conn.flow.allows = (end: number): boolean => allows(end) && end <= INITIAL_GRANT;
      p.conn.send(new Uint8Array(p.conn.maxMessageSize()));
      h.sim.wake(p.address);
    }
    h.sim.runFor(2_000);
    const share = h.server.receivePool.partyShare;
    // Its share (240 MiB) and the floors of its connections: each reservation takes some 31 MiB of it.
    expect(h.server.stats().receiveBuffer.granted).toBeLessThanOrEqual(share + 30 * RECEIVE_FLOOR);
    expect(h.server.stats().receiveBuffer.granted).toBeGreaterThan(share - 32 * 1024 * 1024);

    const late = h.addPeer('10.0.2.1:5000');
    runUntil(h, () => late.conn.state === 'established', 2_000);
    expect(creditTo(h, late)).toBe(INITIAL_GRANT);
    const big = Uint8Array.from({ length: 4 * 1024 * 1024 }, (_, k) => byteAt(5, k));
    late.conn.send(big);
    for (let k = 0; k < 100; k++) late.conn.send(new Uint8Array(2_000).fill(k));
    h.sim.wake(late.address);
    const conn = (): Connection => h.accepted.find((c) => c.localCid === late.conn.remoteCid) as Connection;
    const start = h.sim.now;
    runUntil(h, () => (h.received.get(conn())?.length ?? 0) === 101, 30_000);
    expect(h.received.get(conn())?.length).toBe(101);
    expect(Buffer.compare(h.received.get(conn())?.[0] as Uint8Array, big)).toBe(0);
    // A round trip for the BLOCKED, and the 4 MiB at the link's pace.
    expect(h.sim.now - start).toBeLessThanOrEqual(2_000);
  });

  it("a reservation answered again (its peer read a message meanwhile) keeps counting whole in the address's share: 30 connections that BLOCKED past the window, then sent a small message, leave a newcomer its first grant", () => {
    // Every default (a 1 GiB budget, 32 MiB windows). Each peer says BLOCKED for twice its window (the
    // server answers its window's worth), then sends 100-byte messages; their read answers the BLOCKED
    // again, for the credit the read freed. Before, that second answer replaced the reservation's count
    // in the share with the increment (some 100 bytes): the 30 connections held 960 MiB again (495 MiB
    // after one round of small messages), and the newcomer had its 4 KiB floor.
    const h = herd(19, {});
    const greedy = Array.from({ length: 30 }, (_, i) => h.addPeer(`10.0.9.9:${5000 + i}`));
    runUntil(h, () => greedy.every((p) => p.conn.state === 'established') && h.accepted.length === 30, 3_000);
    let small = false;
    for (const p of greedy) {
      const allows = p.conn.flow.allows.bind(p.conn.flow);
      p.conn.flow.allows = (end: number): boolean => (small ? allows(end) && end <= INITIAL_GRANT : allows(64 * 1024 * 1024) && false);
      p.conn.send(new Uint8Array(100));
      h.sim.wake(p.address);
    }
    h.sim.runFor(1_000);
    small = true;
    // A send wakes the connection: both messages leave; and once more, for the connections answered since.
    for (let round = 0; round < 4; round++) {
      for (const p of greedy) p.conn.send(new Uint8Array(100));
      for (const p of greedy) h.sim.wake(p.address);
      h.sim.runFor(1_000);
    }
    expect(h.received.size).toBe(30);
    const share = h.server.receivePool.partyShare;
    expect(h.server.stats().receiveBuffer.granted).toBeLessThanOrEqual(share + 30 * RECEIVE_FLOOR + 30 * 1024);

    const late = h.addPeer('10.0.2.1:5000');
    runUntil(h, () => late.conn.state === 'established', 2_000);
    expect(creditTo(h, late)).toBe(INITIAL_GRANT);
  });

  it("an address's honest large messages take turns in its share, never waiting for good: 6 connections of one address each send a 3 MiB message at once", () => {
    // A 32 MiB budget (its share 7.5 MiB) and 4 MiB windows: the 6 reservations (some 2 MiB each,
    // beyond the first grants) do not fit the share together; each waits until the ones before begin.
    const h = herd(17, { receiveWindow: 4 * 1024 * 1024, maxReceiveBufferBytes: 32 * 1024 * 1024 });
    const peers = Array.from({ length: 6 }, (_, i) => h.addPeer(`10.0.9.9:${5000 + i}`));
    runUntil(h, () => peers.every((p) => p.conn.state === 'established') && h.accepted.length === 6, 3_000);
    const sent = peers.map((p, i) => {
      const m = Uint8Array.from({ length: 3 * 1024 * 1024 }, (_, k) => byteAt(i, k));
      p.conn.send(m);
      h.sim.wake(p.address);
      return m;
    });
    const conn = (p: Peer): Connection => serverConnection(h, p);
    runUntil(h, () => peers.every((p) => (h.received.get(conn(p))?.length ?? 0) === 1), 30_000);
    for (const [i, p] of peers.entries()) expect(Buffer.compare(h.received.get(conn(p))?.[0] as Uint8Array, sent[i] as Uint8Array), `peer ${i}`).toBe(0);
    for (const p of peers) p.conn.close(h.sim.now);
    for (const p of peers) h.sim.wake(p.address);
    runUntil(h, () => h.server.connectionCount === 0, 5_000);
    expect(h.server.stats().receiveBuffer).toEqual({ budget: 32 * 1024 * 1024, granted: 0, waiting: 0 });
  });

  it("a BLOCKED waiting for room in its address's share is answered as soon as the reservation before it begins, even if nothing is read then", () => {
    // A 16 MiB budget (its share 3.75 MiB), 4 MiB windows: two connections of one address each send a
    // 3 MiB message. The first one's reservation (2 MiB past its first grant) fills the share; the
    // second waits. The first's application then stops reading (its message arrives, unread).
    // Before, the second was asked again only when some connection read or ended: here, never.
    const h = herd(18, { receiveWindow: 4 * 1024 * 1024, maxReceiveBufferBytes: 16 * 1024 * 1024 });
    const [a, b] = [h.addPeer('10.0.9.9:5000'), h.addPeer('10.0.9.9:5001')] as [Peer, Peer];
    runUntil(h, () => a.conn.state === 'established' && b.conn.state === 'established' && h.accepted.length === 2, 3_000);
    const conn = (p: Peer): Connection => serverConnection(h, p);
    const sent = [a, b].map((p, i) => {
      const m = Uint8Array.from({ length: 3 * 1024 * 1024 }, (_, k) => byteAt(i, k));
      p.conn.send(m);
      h.sim.wake(p.address);
      return m;
    });
    // The first answered stops being read the moment it is answered.
    while (conn(a).flow.limit <= INITIAL_GRANT && conn(b).flow.limit <= INITIAL_GRANT) h.sim.step();
    const [first, second] = conn(a).flow.limit > INITIAL_GRANT ? [a, b] : [b, a];
    conn(first).pause();
    // The second's BLOCKED (a few ms of jitter behind) finds the share full.
    while (!conn(second).flow.shareWaiting && conn(second).flow.limit <= INITIAL_GRANT) h.sim.step();
    expect(conn(second).flow.shareWaiting).toBe(true);
    runUntil(h, () => (h.received.get(conn(second))?.length ?? 0) === 1, 5_000);
    expect(h.received.get(conn(first))).toBeUndefined();
    expect(Buffer.compare(h.received.get(conn(second))?.[0] as Uint8Array, sent[second === a ? 0 : 1] as Uint8Array)).toBe(0);
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

  it('under a budget, idle connections leave a newcomer its whole window: 60 idle default connections and a 128 MiB budget, the 61st is sent a 32 MiB message', () => {
    // Before, each idle connection granted its whole 32 MiB window: the first three spent the budget,
    // and the 61st got the 4 KiB floor (its peer could send no message over 3,840 bytes).
    const h = herd(7, { maxReceiveBufferBytes: 128 * 1024 * 1024 });
    const idle = Array.from({ length: 60 }, () => h.addPeer());
    runUntil(h, () => idle.every((p) => p.conn.state === 'established'), 3_000);
    expect(h.server.stats().receiveBuffer.granted).toBe(60 * INITIAL_GRANT);
    const late = h.addPeer();
    runUntil(h, () => late.conn.state === 'established', 2_000);
    expect(creditTo(h, late)).toBe(INITIAL_GRANT);
    expect(late.conn.maxMessageSize()).toBe(32 * 1024 * 1024 - 256);
    const big = Uint8Array.from({ length: 32 * 1024 * 1024 - 256 }, (_, k) => byteAt(61, k));
    late.conn.send(big);
    h.sim.wake(late.address);
    const conn = (): Connection | undefined => h.accepted.find((c) => c.localCid === late.conn.remoteCid);
    runUntil(h, () => (h.received.get(conn() as Connection)?.length ?? 0) === 1, 30_000);
    expect(Buffer.compare(h.received.get(conn() as Connection)?.[0] as Uint8Array, big)).toBe(0);
    expect(h.server.stats().receiveBuffer.waiting).toBe(0);
  });
  it("idle connections that hold the whole default budget in raised grants no longer stall a newcomer's large message: 30 connections of 6 addresses at 32 MiB, two newcomers' 8 MiB messages arrive", () => {
    // Every default (a 1 GiB budget, 32 MiB windows). 30 connections from 6 addresses (5 each: a raise is
    // not counted in an address's share of first grants) are granted their whole window, as a grant
    // grown by reading is, and their peers go idle: they hold 960 MiB, all the budget grants. Before,
    // a newcomer then started at its 4 KiB floor and its message waited for good (the BLOCKED it sent
    // was answered with the floor: not one more byte came back while nobody read). Now a message a
    // BLOCKED waits for may take up to the largest window past the budget, oldest first.
    const h = herd(20, {});
    const idle = holdBudgetIdle(h);
    const budget = DEFAULT_MAX_RECEIVE_BUFFER_BYTES;
    const spent = budget - budget / 16;
    expect(h.server.stats().receiveBuffer.granted).toBeGreaterThan(spent - 64 * 1024);
    const held = (): number[] => idle.map((p) => creditTo(h, p));
    expect(held().filter((c) => c === 32 * 1024 * 1024).length).toBeGreaterThanOrEqual(29);

    const late = [h.addPeer('10.0.2.1:5000'), h.addPeer('10.0.2.2:5000')];
    runUntil(h, () => late.every((p) => p.conn.state === 'established'), 2_000);
    for (const p of late) expect(creditTo(h, p)).toBe(RECEIVE_FLOOR);
    const sent = late.map((p, i) => {
      const m = Uint8Array.from({ length: 8 * 1024 * 1024 }, (_, k) => byteAt(40 + i, k));
      p.conn.send(m);
      h.sim.wake(p.address);
      return m;
    });
    const conn = (p: Peer): Connection => serverConnection(h, p);
    let most = 0;
    const start = h.sim.now;
    runUntil(
      h,
      () => {
        most = Math.max(most, h.server.receivePool.committed);
        return late.every((p) => (h.received.get(conn(p) as Connection)?.length ?? 0) === 1);
      },
      30_000,
    );
    for (const [i, p] of late.entries()) expect(Buffer.compare(h.received.get(conn(p) as Connection)?.[0] ?? new Uint8Array(0), sent[i] as Uint8Array), `newcomer ${i}`).toBe(0);
    // A round trip for each BLOCKED, the second message after the first was read, each at the link's pace.
    expect(h.sim.now - start).toBeLessThanOrEqual(10_000);
    // Past the budget less its sixteenth by one window at most (and the floors): within the budget.
    expect(most).toBeLessThanOrEqual(spent + 32 * 1024 * 1024 + 2 * RECEIVE_FLOOR);
    expect(most).toBeLessThanOrEqual(budget);
    // The idle connections' credit is untouched: their peers may still send what they were granted.
    expect(held().filter((c) => c === 32 * 1024 * 1024).length).toBeGreaterThanOrEqual(29);
  });

  it("connections whose grants grew by reading and then went idle no longer stall a newcomer's large message: 4 addresses at 4 MiB under a 16 MiB budget", () => {
    // A 16 MiB budget (15 MiB beyond its sixteenth) and 4 MiB windows. Four peers of four addresses
    // each send 12 MiB of 64 KiB messages that the server reads at once: their grants grow by rate to
    // the window, and then they go idle holding it (credit announced is never taken back). Before, a
    // newcomer from a fifth address had its floor and its 3 MiB message waited for good.
    const h = herd(22, { receiveWindow: 4 * 1024 * 1024, maxReceiveBufferBytes: 16 * 1024 * 1024 });
    const fast = Array.from({ length: 4 }, (_, i) => h.addPeer(`10.0.8.${i + 1}:5000`));
    runUntil(h, () => fast.every((p) => p.conn.state === 'established') && h.accepted.length === 4, 3_000);
    for (const p of fast) {
      for (let k = 0; k < 192; k++) p.conn.send(new Uint8Array(64 * 1024).fill(k & 0xff));
      h.sim.wake(p.address);
    }
    const conn = (p: Peer): Connection => serverConnection(h, p);
    runUntil(h, () => fast.every((p) => (h.received.get(conn(p) as Connection)?.length ?? 0) === 192), 30_000);
    h.sim.runFor(1_000);
    expect(fast.map((p) => conn(p)?.flow.grant)).toEqual(fast.map(() => 4 * 1024 * 1024));
    // They hold the budget: what is left is less than the newcomer's message needs.
    expect(h.server.stats().receiveBuffer.granted).toBeGreaterThan(15 * 1024 * 1024 - 3 * 1024 * 1024);

    const late = h.addPeer('10.0.2.9:5000');
    runUntil(h, () => late.conn.state === 'established', 2_000);
    const m = Uint8Array.from({ length: 3 * 1024 * 1024 }, (_, k) => byteAt(60, k));
    late.conn.send(m);
    h.sim.wake(late.address);
    const start = h.sim.now;
    runUntil(h, () => (h.received.get(conn(late) as Connection)?.length ?? 0) === 1, 20_000);
    expect(Buffer.compare(h.received.get(conn(late) as Connection)?.[0] ?? new Uint8Array(0), m)).toBe(0);
    expect(h.sim.now - start).toBeLessThanOrEqual(5_000);
    expect(h.server.stats().receiveBuffer.granted).toBeLessThanOrEqual(15 * 1024 * 1024 + 4 * 1024 * 1024 + 5 * RECEIVE_FLOOR);
  });

  it("connections opened while idle ones hold the budget do not shrink the overcommit: a newcomer's message as large as the window, then another's 8 MiB, both arrive", () => {
    // As above, 30 idle connections hold the default budget's 960 MiB. Newcomers then open, each
    // charged its 4 KiB floor past the line (the reserve is for them). Before, those floors counted
    // against the overcommit: with three or more, a message as large as the window (32 MiB less 256
    // bytes, what `maxMessageSize` allows) never fit it, its connection stayed the one allowed to take
    // it, and an 8 MiB message that did fit waited behind it: neither arrived, for good, and no timer
    // closed anyone (the claimant had taken nothing). A hostile peer gets there by opening a few idle
    // connections and sending one BLOCKED. Now the overcommit comes on top of such floors.
    const h = herd(23, {});
    holdBudgetIdle(h);
    const late: Peer[] = [];
    for (let i = 0; late.length < 4 || h.server.receivePool.room > -4 * RECEIVE_FLOOR; i++) {
      late.push(h.addPeer(`10.0.4.${i + 1}:5000`));
      runUntil(h, () => late.every((p) => p.conn.state === 'established'), 2_000);
    }
    for (const p of late) expect(creditTo(h, p)).toBe(RECEIVE_FLOOR);
    const [near, other] = late as [Peer, Peer];
    const whole = Uint8Array.from({ length: near.conn.maxMessageSize() }, (_, k) => byteAt(70, k));
    expect(whole.length).toBe(32 * 1024 * 1024 - 256);
    near.conn.send(whole);
    h.sim.wake(near.address);
    h.sim.runFor(500);
    const m = Uint8Array.from({ length: 8 * 1024 * 1024 }, (_, k) => byteAt(71, k));
    other.conn.send(m);
    h.sim.wake(other.address);
    const conn = (p: Peer): Connection => serverConnection(h, p);
    let most = 0;
    runUntil(
      h,
      () => {
        most = Math.max(most, h.server.receivePool.committed);
        return [near, other].every((p) => (h.received.get(conn(p) as Connection)?.length ?? 0) === 1);
      },
      20_000,
    );
    expect(Buffer.compare(h.received.get(conn(other) as Connection)?.[0] ?? new Uint8Array(0), m)).toBe(0);
    expect(Buffer.compare(h.received.get(conn(near) as Connection)?.[0] ?? new Uint8Array(0), whole)).toBe(0);
    // Past the budget less its sixteenth by one window and the newcomers' floors at most.
    const budget = DEFAULT_MAX_RECEIVE_BUFFER_BYTES;
    expect(most).toBeLessThanOrEqual(budget - budget / 16 + 32 * 1024 * 1024 + (late.length + 1) * RECEIVE_FLOOR);
    expect([near, other].every((p) => p.conn.state === 'established')).toBe(true);
  });

  it("a peer that takes the overcommit for a message it never sends is closed after 10 s, and the next waiting message goes: the stall is not total", () => {
    // As above: 30 idle connections hold the default budget's 960 MiB. A hostile peer then says BLOCKED
    // for a 30 MiB message and never sends it: its answer takes 30 MiB of the 32 MiB overcommit, and an
    // honest newcomer's 8 MiB message, which does not fit what is left, waits. Credit announced cannot be
    // taken back; before, the newcomer waited for good. Now a peer that has not begun such a message
    // within OVERCOMMIT_START_MS (10 s) and four probe timeouts is closed, and its credit returns.
    const h = herd(21, {});
    const idle = holdBudgetIdle(h);
    const hostile = h.addPeer('10.0.3.1:5000');
    runUntil(h, () => hostile.conn.state === 'established', 2_000);
    const allows = hostile.conn.flow.allows.bind(hostile.conn.flow);
    hostile.conn.flow.allows = (end: number): boolean => allows(end) && end <= RECEIVE_FLOOR;
    hostile.conn.send(new Uint8Array(30 * 1024 * 1024));
    h.sim.wake(hostile.address);
    const conn = (p: Peer): Connection => serverConnection(h, p);
    runUntil(h, () => creditTo(h, hostile) > RECEIVE_FLOOR, 2_000);
    expect(creditTo(h, hostile)).toBe(30 * 1024 * 1024 + 256);
    expect(conn(hostile)?.flow.holdsOvercommit).toBe(true);

    const late = h.addPeer('10.0.2.1:5000');
    runUntil(h, () => late.conn.state === 'established', 2_000);
    const m = Uint8Array.from({ length: 8 * 1024 * 1024 }, (_, k) => byteAt(50, k));
    late.conn.send(m);
    h.sim.wake(late.address);
    const start = h.sim.now;
    h.sim.runFor(5_000);
    // Waiting, behind the hostile peer's unused overcommit.
    expect(h.received.get(conn(late) as Connection)).toBeUndefined();
    expect(conn(hostile)?.state).toBe('established');
    runUntil(h, () => (h.received.get(conn(late) as Connection)?.length ?? 0) === 1, 30_000);
    expect(Buffer.compare(h.received.get(conn(late) as Connection)?.[0] ?? new Uint8Array(0), m)).toBe(0);
    // 10 s and four probe timeouts after its answer left, then the 8 MiB at the link's pace.
    expect(h.sim.now - start).toBeLessThanOrEqual(20_000);
    expect(hostile.conn.state === 'draining' || hostile.conn.state === 'closed').toBe(true);
    // The idle connections, whose peers asked for nothing, are untouched.
    expect(idle.every((p) => p.conn.state === 'established')).toBe(true);
  });

  it('an honest peer whose path is down for 15 s right after its overcommit answer leaves is not closed: its time to begin counts from the answer acknowledged', () => {
    // As below: a 2.5 MiB budget, two default connections, the second's 1.5 MiB message takes the
    // overcommit. Its path then goes down for 15 s in both directions as the answer leaves (a train
    // tunnel, a handover: the 30 s idle timeout rides it out). Before, the time to begin its message
    // counted from the answer leaving: at 10 s and four probe timeouts the honest peer was closed,
    // code 3 "protocol violation", though nothing had reached it. Now it counts from the peer's
    // acknowledgment of a packet sent with or after the answer.
    const h = herd(24, { maxReceiveBufferBytes: 2.5 * 1024 * 1024 });
    const first = h.addPeer();
    const second = h.addPeer();
    runUntil(h, () => first.conn.state === 'established' && second.conn.state === 'established', 2_000);
    const big = Uint8Array.from({ length: 1.5 * 1024 * 1024 }, (_, k) => byteAt(3, k));
    second.conn.send(big);
    h.sim.wake(second.address);
    const conn = (): Connection => h.accepted.find((c) => c.localCid === second.conn.remoteCid) as Connection;
    const end = h.sim.now + 2_000;
    while (!conn().flow.holdsOvercommit && h.sim.now < end) h.sim.step();
    expect(conn().flow.holdsOvercommit).toBe(true);
    h.sim.setLinks(SERVER, second.address, { delayMs: 20, jitterMs: 2, loss: 1 });
    h.sim.runFor(15_000);
    h.sim.setLinks(SERVER, second.address, { delayMs: 20, jitterMs: 2 });
    runUntil(h, () => (h.received.get(conn())?.length ?? 0) === 1 || conn().state !== 'established', 10_000);
    expect(conn().closeReason?.code).toBeUndefined();
    expect(conn().state).toBe('established');
    expect(Buffer.compare(h.received.get(conn())?.[0] ?? new Uint8Array(0), big)).toBe(0);
  });

  it('an honest peer on a slow lossy path (1 Mbit/s, 10% loss, a 1 MiB queue) takes the overcommit while earlier messages are still resent, and is not closed', () => {
    // The worst honest case the session 33 review found short of an outage: the BLOCKED for the large
    // message leaves once the earlier messages' chunks have all left once, so the answer comes while
    // their losses are still being resent, at 1 Mbit/s behind a bloated queue. The message begins a
    // round trip or so after the answer's acknowledgment (at most 0.7 s in the review's runs, 256 kbit/s
    // and 30% burst loss included), far inside the 10 s and four probe timeouts.
    const h = herd(26, { maxReceiveBufferBytes: 2.5 * 1024 * 1024 });
    const first = h.addPeer();
    const second = h.addPeer();
    h.sim.setLinks(SERVER, second.address, { delayMs: 100, bandwidthBps: 1_000_000, queueBytes: 1024 * 1024, loss: 0.1 });
    runUntil(h, () => first.conn.state === 'established' && second.conn.state === 'established', 5_000);
    const sent = Array.from({ length: 9 }, (_, i) => Uint8Array.from({ length: 100_000 }, (_, k) => byteAt(80 + i, k)));
    sent.push(Uint8Array.from({ length: 1.5 * 1024 * 1024 }, (_, k) => byteAt(90, k)));
    for (const m of sent) second.conn.send(m);
    h.sim.wake(second.address);
    const conn = (): Connection => h.accepted.find((c) => c.localCid === second.conn.remoteCid) as Connection;
    let took = false;
    runUntil(
      h,
      () => {
        took ||= conn().flow.holdsOvercommit;
        return (h.received.get(conn())?.length ?? 0) === sent.length || conn().state !== 'established';
      },
      60_000,
    );
    expect(took).toBe(true);
    expect(conn().closeReason).toBeUndefined();
    const got = h.received.get(conn()) ?? [];
    expect(got.length).toBe(sent.length);
    for (const [i, m] of sent.entries()) expect(Buffer.compare(got[i] as Uint8Array, m), `message ${i}`).toBe(0);
  });

  it("an address's connections that each take the overcommit in turn and never send delay a newcomer's message by some 11 s each, not for good: 6 of one address, 65 s (a known weakness)", () => {
    // As above, 30 idle connections hold the default budget. Twelve connections of one hostile address
    // each say BLOCKED for a 30 MiB message they never send, before an honest newcomer's 8 MiB one. The
    // overcommit goes oldest first, one 30 MiB answer at a time: each holds it 10 s and four probe
    // timeouts from its acknowledgment, is closed, and the next takes it. The address's share of the
    // budget (reservations count in it) lets six of them reserve; the honest message goes after those
    // six. Recorded as it is (SECURITY.md): each further address adds as much.
    const h = herd(27, {});
    holdBudgetIdle(h);
    const hostile = Array.from({ length: 12 }, (_, i) => h.addPeer(`10.0.3.1:${6000 + i}`));
    runUntil(h, () => hostile.every((p) => p.conn.state === 'established'), 2_000);
    for (const p of hostile) {
      const allows = p.conn.flow.allows.bind(p.conn.flow);
      p.conn.flow.allows = (end: number): boolean => allows(end) && end <= RECEIVE_FLOOR;
      p.conn.send(new Uint8Array(30 * 1024 * 1024));
      h.sim.wake(p.address);
    }
    h.sim.runFor(500);
    const late = h.addPeer('10.0.2.1:5000');
    runUntil(h, () => late.conn.state === 'established', 2_000);
    const m = Uint8Array.from({ length: 8 * 1024 * 1024 }, (_, k) => byteAt(95, k));
    late.conn.send(m);
    h.sim.wake(late.address);
    const start = h.sim.now;
    const conn = (p: Peer): Connection => serverConnection(h, p);
    runUntil(h, () => (h.received.get(conn(late) as Connection)?.length ?? 0) === 1, 120_000);
    expect(Buffer.compare(h.received.get(conn(late) as Connection)?.[0] ?? new Uint8Array(0), m)).toBe(0);
    const waited = h.sim.now - start;
    const closed = hostile.filter((p) => conn(p)?.state !== 'established').length;
    expect(closed).toBe(6);
    expect(waited).toBeGreaterThan(5 * 10_000);
    expect(waited).toBeLessThanOrEqual(closed * 12_000);
    expect(h.server.receivePool.committed).toBeLessThanOrEqual(DEFAULT_MAX_RECEIVE_BUFFER_BYTES);
  });

  it('a peer that takes the overcommit and sends one datagram of its message holds it for as long as it keeps the connection alive: a newcomer\'s message waits for good (a known weakness)', () => {
    // As above, 30 idle connections hold the default budget. A hostile peer says BLOCKED for a 30 MiB
    // message, takes the overcommit, and sends the first datagram of it and nothing more of it (its
    // connection stays alive: ACKs, keep-alives). The message has begun, so no timer runs; the server
    // holds 4 KiB of it and has granted 30 MiB past the budget that nothing returns. An honest
    // newcomer's 8 MiB message then waits as long as the hostile peer likes. Recorded as it is
    // (SECURITY.md, Known weaknesses): the overcommit bounds memory, not this.
    const h = herd(28, {});
    holdBudgetIdle(h);
    const hostile = h.addPeer('10.0.3.1:5000');
    runUntil(h, () => hostile.conn.state === 'established', 2_000);
    const conn = (p: Peer): Connection => serverConnection(h, p);
    // The hostile sender's queue lets one packet of new data leave, then has none (resends still go).
    const sq = hostile.conn.sendQueue;
    const fill = sq.fillNewData.bind(sq);
    const hasNew = sq.hasNewData.bind(sq);
    const hasReliable = sq.hasNewReliableData.bind(sq);
    let packets = 0;
    sq.hasNewData = () => packets < 1 && hasNew();
    sq.hasNewReliableData = () => packets < 1 && hasReliable();
    sq.fillNewData = (w, chunks, now, small) => {
      if (packets >= 1) return 0;
      const before = chunks.length;
      const n = fill(w, chunks, now, small);
      if (chunks.length > before) packets++;
      return n;
    };
    hostile.conn.send(new Uint8Array(30 * 1024 * 1024));
    h.sim.wake(hostile.address);
    h.sim.runFor(3_000);
    expect(conn(hostile)?.flow.credit).toBe(30 * 1024 * 1024 + 256);
    expect(conn(hostile)?.flow.holdsOvercommit).toBe(false);
    expect(conn(hostile)?.reassembly.partialBytes).toBeLessThan(8 * 1024);
    const late = h.addPeer('10.0.2.1:5000');
    runUntil(h, () => late.conn.state === 'established', 2_000);
    late.conn.send(new Uint8Array(8 * 1024 * 1024));
    h.sim.wake(late.address);
    h.sim.runFor(60_000);
    expect(h.received.get(conn(late) as Connection)).toBeUndefined();
    expect(conn(late)?.flow.credit).toBe(RECEIVE_FLOOR);
    expect(conn(hostile)?.state).toBe('established');
  });

  it('a peer that never acknowledges the overcommit answer (or anything sent after it) still gives it back: closed within the idle timeout and a few probe timeouts', () => {
    // The time to begin counts from the acknowledgment. A peer that acknowledges nothing sent with or
    // after the answer (here every datagram to it is lost from before its BLOCKED, while its own still
    // arrive) has the credit until the idle timeout (30 s) and a few probe timeouts at most: an idle
    // or unacknowledged timer, or the overcommit one, closes it, and the credit returns.
    const h = herd(25, { maxReceiveBufferBytes: 2.5 * 1024 * 1024 });
    const first = h.addPeer();
    const second = h.addPeer();
    runUntil(h, () => first.conn.state === 'established' && second.conn.state === 'established', 2_000);
    h.sim.setLink(SERVER, second.address, { delayMs: 20, jitterMs: 2, loss: 1 });
    second.conn.send(new Uint8Array(1.5 * 1024 * 1024));
    h.sim.wake(second.address);
    const conn = (): Connection => h.accepted.find((c) => c.localCid === second.conn.remoteCid) as Connection;
    runUntil(h, () => conn().flow.holdsOvercommit, 2_000);
    expect(conn().flow.holdsOvercommit).toBe(true);
    const charged = h.server.receivePool.committed;
    const start = h.sim.now;
    runUntil(h, () => conn().state !== 'established', 60_000);
    expect(conn().state).not.toBe('established');
    expect(conn().overcommitTimer?.ackedAt).toBe(Number.POSITIVE_INFINITY);
    expect(h.sim.now - start).toBeLessThanOrEqual(30_000 + 4 * 2_000);
    expect(h.server.receivePool.committed).toBeLessThan(charged - 1024 * 1024);
  });

  it('a BLOCKED the budget has no room for is answered in full at once, past the budget within the overcommit, not in part', () => {
    // A 2.5 MiB budget (2,400 KiB beyond its reserve): two default connections take their 1 MiB
    // first grants, leaving 352 KiB. The second's peer then needs 1.5 MiB for one message. Until the
    // follow-up of attack round 13 its BLOCKED was answered with 1 MiB and half of what was left, and
    // the rest waited for the first connection to read or end; a part is credit the peer cannot use
    // (it sends nothing until its message fits), and parts held so by several waiting peers added up
    // to the whole budget with none of them whole. Now it takes the overcommit (the largest window,
    // here 2,400 KiB) at once: its message arrives though the first connection never reads or ends.
    const h = herd(9, { maxReceiveBufferBytes: 2.5 * 1024 * 1024 });
    const first = h.addPeer();
    const second = h.addPeer();
    runUntil(h, () => first.conn.state === 'established' && second.conn.state === 'established', 2_000);
    expect(creditTo(h, first)).toBe(INITIAL_GRANT);
    expect(creditTo(h, second)).toBe(INITIAL_GRANT);
    const big = Uint8Array.from({ length: 1.5 * 1024 * 1024 }, (_, k) => byteAt(2, k));
    second.conn.send(big);
    h.sim.wake(second.address);
    runUntil(h, () => creditTo(h, second) > INITIAL_GRANT, 2_000);
    expect(creditTo(h, second)).toBe(1.5 * 1024 * 1024 + 256);
    const conn = (): Connection => h.accepted.find((c) => c.localCid === second.conn.remoteCid) as Connection;
    runUntil(h, () => (h.received.get(conn())?.length ?? 0) === 1, 10_000);
    expect(Buffer.compare(h.received.get(conn())?.[0] as Uint8Array, big)).toBe(0);
    // Past the budget less its sixteenth by the overcommit at most.
    expect(h.server.stats().receiveBuffer.granted).toBeLessThanOrEqual(2400 * 1024 + h.server.receivePool.overcommit);
    expect(h.server.receivePool.overcommit).toBe(2400 * 1024);
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
    const big = Uint8Array.from({ length: most - 256 }, (_, k) => byteAt(3, k));
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
