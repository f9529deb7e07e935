/**
 * Receive credit granted lazily (flow-control.ts), as TCP's receive-buffer
 * autotuning does: a connection grants `INITIAL_GRANT` at first and grows
 * its grant toward its window only while its application keeps up and the
 * peer says it waits for credit (BLOCKED). Before, every connection granted
 * its whole window (32 MiB by default) from the handshake on, so a peer made
 * an application that had not read yet hold 32 MiB a connection (attack
 * round 13, 3: 32 connections, +1,109 MiB). The largest message is still the
 * window's: one larger than the grant waits for the grant to grow, never
 * refused.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import { INITIAL_GRANT, MESSAGE_CREDIT } from '../src/core/credit.js';
import { CLIENT, SERVER, makePair, messagesOf } from './helpers/pair.js';
import { filledBytes } from './helpers/filled-bytes.js';

const WINDOW = 32 * 1024 * 1024;
const MESSAGE = 64 * 1024;

/** What the server connection holds: partial messages and whole ones not read. */
const held = (c: Connection): number => c.reassembly.partialBytes + c.reassembly.unreadBytes;

/** A message whose bytes say where they sit, so a misplaced piece shows. */
const patterned = (length: number, seed: number): Uint8Array => filledBytes(length, (k) => (k * 31 + seed) & 0xff, 256);

describe('receive credit granted lazily', () => {
  it('an application that does not read holds at most the first grant a connection, however much its peer queues', () => {
    let reading = true;
    const p = makePair({ seed: 11, serverReads: () => reading });
    p.sim.runFor(500);
    // The connection is accepted; from now on the application reads nothing.
    reading = false;
    for (let i = 0; i < 256; i++) p.conn.send(patterned(MESSAGE, i));
    p.sim.wake(CLIENT);
    p.sim.runFor(5_000);
    const server = p.serverConn() as Connection;
    // Before: the whole 16 MiB queued (the 32 MiB window took it all).
    expect(held(server)).toBeLessThanOrEqual(INITIAL_GRANT);
    expect(held(server)).toBeGreaterThan(INITIAL_GRANT - 2 * (MESSAGE + MESSAGE_CREDIT));
    expect(server.flow.limit).toBe(INITIAL_GRANT);
    // The peer still sees the window as the largest message.
    expect(p.conn.maxMessageSize()).toBe(WINDOW - MESSAGE_CREDIT);
  });

  it('a paused application grants nothing for a message larger than the first grant; it arrives once the application reads', () => {
    const p = makePair({ seed: 12 });
    p.onServerEvent = (e) => {
      if (e.type === 'incoming') e.connection.pause();
    };
    p.sim.runFor(500);
    const big = patterned(4 * 1024 * 1024, 7);
    p.conn.send(big);
    p.sim.wake(CLIENT);
    p.sim.runFor(3_000);
    const server = p.serverConn() as Connection;
    // Before: all 4 MiB held by an application that reads nothing.
    expect(held(server)).toBe(0);
    expect(server.flow.limit).toBe(INITIAL_GRANT);
    server.resume();
    // The peer's BLOCKED (the limit its message needs) was kept: resuming grants it at once.
    expect(server.flow.limit).toBeGreaterThanOrEqual(big.length + MESSAGE_CREDIT);
    p.sim.wake(SERVER);
    p.sim.runFor(5_000);
    const got = messagesOf(p.serverEvents);
    expect(got).toHaveLength(1);
    expect(Buffer.compare(got[0] as Uint8Array, big)).toBe(0);
  });

  it('a BLOCKED heard while an unread datagram waits is answered once the datagram is read: the larger message behind it arrives', () => {
    const p = makePair({ seed: 18 });
    p.onServerEvent = (e) => {
      if (e.type === 'incoming') e.connection.pause();
    };
    p.sim.runFor(500);
    // A datagram, then a message larger than the first grant: the peer says BLOCKED while the
    // datagram waits unread (a whole message unread: not answered yet).
    p.conn.send(Uint8Array.of(1, 2, 3), { reliable: false });
    const big = patterned(2 * INITIAL_GRANT, 4);
    p.conn.send(big);
    p.sim.wake(CLIENT);
    p.sim.runFor(2_000);
    const server = p.serverConn() as Connection;
    expect(server.flow.peerWaiting).toBe(true);
    // The application resumes and reads what is there: the datagram, and nothing else yet.
    server.resume();
    for (let e = p.server.pollEvent(); e !== undefined; e = p.server.pollEvent()) p.serverEvents.push({ at: p.sim.now, event: e });
    expect(messagesOf(p.serverEvents).map((m) => m.length)).toEqual([3]);
    // Before: reading a datagram never answered the peer, which waited for MAX_DATA for good.
    expect(server.flow.limit).toBeGreaterThanOrEqual(big.length + MESSAGE_CREDIT);
    p.sim.wake(SERVER);
    p.sim.runFor(5_000);
    const got = messagesOf(p.serverEvents);
    expect(got).toHaveLength(2);
    expect(Buffer.compare(got[1] as Uint8Array, big)).toBe(0);
  });

  it('a lost BLOCKED and a lost answer are sent again: the message larger than the grant arrives', () => {
    const p = makePair({ seed: 19, link: { delayMs: 20 } });
    p.sim.runFor(500);
    const server = p.serverConn() as Connection;
    /** Drops the first two datagrams `ep` sends whose packet took an owed frame of `flow` (BLOCKED or MAX_DATA) that `when` picks. */
    const dropOwed = (ep: typeof p.client, flow: typeof server.flow, when: () => boolean): (() => number) => {
      let took = false;
      let dropped = 0;
      const write = flow.writeIfDue.bind(flow);
      flow.writeIfDue = (w) => {
        const was = flow.due;
        const wrote = write(w);
        if (was && !flow.due && when()) took = true;
        return wrote;
      };
      const poll = ep.pollTransmit.bind(ep);
      ep.pollTransmit = (now) => {
        for (;;) {
          took = false;
          const t = poll(now);
          if (t === undefined || !took || dropped >= 2) return t;
          dropped++;
        }
      };
      return () => dropped;
    };
    // The client sends nothing but BLOCKED that needs a flow frame; the server's answer is the MAX_DATA past the first grant.
    const blockedDropped = dropOwed(p.client, p.conn.flow, () => true);
    const answerDropped = dropOwed(p.server, server.flow, () => server.flow.limit > INITIAL_GRANT);
    const big = patterned(3 * INITIAL_GRANT, 9);
    p.conn.send(big);
    p.sim.wake(CLIENT);
    p.sim.runFor(10_000);
    expect([blockedDropped(), answerDropped()]).toEqual([2, 2]);
    const got = messagesOf(p.serverEvents);
    expect(got).toHaveLength(1);
    expect(Buffer.compare(got[0] as Uint8Array, big)).toBe(0);
  });

  it('unread datagrams are held up to the grant, not the window: a paused application holds 1 MiB of them, not 32', () => {
    const p = makePair({ seed: 20 });
    p.onServerEvent = (e) => {
      if (e.type === 'incoming') e.connection.pause();
    };
    p.sim.runFor(500);
    const size = p.conn.maxDatagramSize();
    // 4 MiB of datagrams, paced over 8 s so that none are lost to the send buffer or the path.
    for (let i = 0; i < 80; i++) {
      p.sim.schedule(p.sim.now + i * 100, () => {
        for (let k = 0; k < 4 * 1024 * 1024 / size / 80; k++) p.conn.send(patterned(size, k), { reliable: false });
        p.sim.wake(CLIENT);
      });
    }
    p.sim.runFor(10_000);
    const server = p.serverConn() as Connection;
    // As many as the grant holds, each counted 256 bytes longer (before: the 32 MiB window, so all 4 MiB).
    expect(server.reassembly.unreadBytes).toBe(Math.floor(INITIAL_GRANT / (size + MESSAGE_CREDIT)) * size);
    expect(server.reassembly.datagramsDropped).toBeGreaterThan(0);
  });

  it('a reading application is sent a message as large as its window first: the grant grows to fit it, and it arrives whole', () => {
    const p = makePair({ seed: 13 });
    p.sim.runFor(500);
    const big = patterned(WINDOW - MESSAGE_CREDIT, 3);
    // Before a grant that grows, such a message had to fit the first limit: refused, or (without BLOCKED) stuck.
    p.conn.send(big);
    p.sim.wake(CLIENT);
    p.sim.runFor(20_000);
    const got = messagesOf(p.serverEvents);
    expect(got).toHaveLength(1);
    expect(Buffer.compare(got[0] as Uint8Array, big)).toBe(0);
    expect((p.serverConn() as Connection).flow.grant).toBe(WINDOW);
  });

  it("a reading application's grant grows to its window while the peer is held back by it, and no further", () => {
    const p = makePair({ seed: 14, link: { delayMs: 50 } });
    p.sim.runFor(500);
    const grants: number[] = [];
    const COUNT = 1_024;
    for (let i = 0; i < COUNT; i++) p.conn.send(patterned(MESSAGE, i));
    p.sim.wake(CLIENT);
    const server = (): Connection => p.serverConn() as Connection;
    for (let t = 0; t < 20_000 && messagesOf(p.serverEvents).length < COUNT; t += 50) {
      p.sim.runFor(50);
      grants.push(server().flow.grant);
    }
    expect(messagesOf(p.serverEvents)).toHaveLength(COUNT);
    // 64 MiB over a path that takes all a window gives: each doubling, from 1 MiB to the 32 MiB window.
    expect(grants[0]).toBe(INITIAL_GRANT);
    expect(Math.max(...grants)).toBe(WINDOW);
    expect(server().flow.credit).toBeLessThanOrEqual(WINDOW);
  });

  it("a peer's BLOCKED answered while the application keeps up is credit for that one message, not a grant: small messages cannot fill it", () => {
    let reading = true;
    const p = makePair({ seed: 21, serverReads: () => reading });
    p.sim.runFor(500);
    const server = p.serverConn() as Connection;
    // A peer that waits for nothing says it waits for the whole window (a 10-byte frame) while the
    // application has nothing unread, so it is answered.
    p.conn.flow.allows(WINDOW);
    p.conn.host.wake(p.conn);
    p.sim.wake(CLIENT);
    p.sim.runFor(500);
    expect(server.flow.limit).toBe(WINDOW);
    // Before: the grant itself became the window, for good.
    expect(server.flow.grant).toBe(INITIAL_GRANT);
    // The application stops reading; the peer queues 16 MiB of 64 KiB messages under that limit.
    reading = false;
    for (let i = 0; i < 256; i++) p.conn.send(patterned(MESSAGE, i));
    p.sim.wake(CLIENT);
    p.sim.runFor(5_000);
    // Before: all 16 MiB held (any message could take the credit granted for the BLOCKED).
    expect(held(server)).toBeLessThanOrEqual(INITIAL_GRANT);
    expect(held(server)).toBeGreaterThan(INITIAL_GRANT - 2 * (MESSAGE + MESSAGE_CREDIT));
    // Reading again delivers those the grant held, in order. The rest were refused (their packets
    // acknowledged: lost to a peer that sent past the credit it had, as any sender past its limit).
    reading = true;
    for (let e = p.server.pollEvent(); e !== undefined; e = p.server.pollEvent()) p.serverEvents.push({ at: p.sim.now, event: e });
    const got = messagesOf(p.serverEvents);
    expect(got.length).toBe(Math.floor(INITIAL_GRANT / (MESSAGE + MESSAGE_CREDIT)));
    got.forEach((m, i) => expect(Buffer.compare(m, patterned(MESSAGE, i))).toBe(0));
  });

  it('messages larger than the grant one after another on a lossy path arrive whole (the first by a BLOCKED, the rest by the grant reading it earned)', () => {
    const p = makePair({ seed: 24, link: { delayMs: 20, loss: 0.05 } });
    p.sim.runFor(500);
    // Each larger than the grant (and the one before it may still be missing pieces when the next one's BLOCKED comes).
    const sent = [3, 5, 2, 6].map((mib, i) => patterned(mib * 1024 * 1024, 40 + i));
    for (const m of sent) p.conn.send(m);
    p.sim.wake(CLIENT);
    for (let t = 0; t < 60_000 && messagesOf(p.serverEvents).length < sent.length; t += 500) p.sim.runFor(500);
    const got = messagesOf(p.serverEvents);
    expect(got.map((m) => m.length)).toEqual(sent.map((m) => m.length));
    got.forEach((m, i) => expect(Buffer.compare(m, sent[i] as Uint8Array)).toBe(0));
  });

  it('the credit a BLOCKED got for a large message returns to the grant once the message is read', () => {
    let reading = true;
    const p = makePair({ seed: 22, serverReads: () => reading });
    p.sim.runFor(500);
    const server = p.serverConn() as Connection;
    const big = patterned(4 * INITIAL_GRANT, 6);
    p.conn.send(big);
    p.sim.wake(CLIENT);
    p.sim.runFor(3_000);
    expect(messagesOf(p.serverEvents)).toHaveLength(1);
    // Reading the 4 MiB message in a round trip grew the grant by rate (4 × what was read, at most the
    // window); the BLOCKED itself added nothing.
    expect(server.flow.grant).toBe(Math.min(WINDOW, 4 * (big.length + MESSAGE_CREDIT)));
    expect(server.flow.reserved).toBe(0);
  });

  it('an explicit receiveWindow smaller than the first grant is granted whole, as before; one larger is the cap the grant grows to', () => {
    const small = makePair({ seed: 15, server: { receiveWindow: 8 * 1024 } });
    small.sim.runFor(500);
    expect(small.conn.maxMessageSize()).toBe(8 * 1024 - MESSAGE_CREDIT);
    expect((small.serverConn() as Connection).flow.limit).toBe(8 * 1024);

    const large = makePair({ seed: 16, server: { receiveWindow: 4 * 1024 * 1024 } });
    large.sim.runFor(500);
    expect(large.conn.maxMessageSize()).toBe(4 * 1024 * 1024 - MESSAGE_CREDIT);
    expect((large.serverConn() as Connection).flow.limit).toBe(INITIAL_GRANT);
    const big = patterned(4 * 1024 * 1024 - MESSAGE_CREDIT, 5);
    large.conn.send(big);
    large.sim.wake(CLIENT);
    large.sim.runFor(5_000);
    expect(messagesOf(large.serverEvents)).toHaveLength(1);
    expect((large.serverConn() as Connection).flow.grant).toBe(4 * 1024 * 1024);
  });

  it('raiseReceiveWindow within the window grants that much at once; at or below the grant it changes nothing', () => {
    const p = makePair({ seed: 23 });
    p.sim.runFor(500);
    const server = p.serverConn() as Connection;
    expect(server.flow.limit).toBe(INITIAL_GRANT);
    // Before: a no-op (8 MiB is within the 32 MiB window), so the grant stayed 1 MiB until reading grew it.
    server.raiseReceiveWindow(8 * 1024 * 1024);
    expect(server.flow.grant).toBe(8 * 1024 * 1024);
    expect(server.flow.limit).toBe(8 * 1024 * 1024);
    expect(server.receiveWindow()).toBe(WINDOW);
    // The peer may now send 8 MiB before the application reads anything.
    const big = patterned(8 * 1024 * 1024 - MESSAGE_CREDIT, 8);
    p.onServerEvent = undefined;
    server.pause();
    p.conn.send(big);
    p.sim.wake(SERVER);
    p.sim.wake(CLIENT);
    for (let t = 0; t < 20_000 && server.reassembly.unreadBytes === 0; t += 500) p.sim.runFor(500);
    expect(server.reassembly.unreadBytes).toBe(big.length);
    // Less than the grant: nothing changes, nothing is announced.
    server.raiseReceiveWindow(2 * 1024 * 1024);
    expect(server.flow.grant).toBe(8 * 1024 * 1024);
    expect(server.flow.due).toBe(false);
    // The whole window: granted whole.
    server.raiseReceiveWindow(WINDOW);
    expect(server.flow.grant).toBe(WINDOW);
    expect(server.flow.limit).toBe(WINDOW);
  });

  it('raiseReceiveWindow grants the raised window at once (the forum server raises 8 KiB to 128 KiB after login)', () => {
    const p = makePair({ seed: 17, server: { receiveWindow: 8 * 1024 } });
    p.sim.runFor(500);
    const server = p.serverConn() as Connection;
    server.raiseReceiveWindow(128 * 1024);
    expect(server.flow.limit).toBe(128 * 1024);
    p.sim.wake(SERVER);
    p.sim.runFor(300);
    expect(p.conn.maxMessageSize()).toBe(128 * 1024 - MESSAGE_CREDIT);
  });
});
