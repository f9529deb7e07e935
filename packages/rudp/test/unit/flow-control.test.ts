/**
 * Flow control both ways: a message leaves only once the peer's limit covers
 * its last byte; credit is announced in MAX_DATA once a quarter window has
 * been read, in a frame that parses back to the new limit.
 */
import { describe, expect, it } from 'vitest';
import { WROTE_BLOCKED, WROTE_MAX_DATA } from '../../src/core/announced-limit.js';
import { creditOf } from '../../src/core/credit.js';
import { FlowControl } from '../../src/core/flow-control.js';
import { SendQueue } from '../../src/core/send/send-queue.js';
import { ReceivePool } from '../../src/core/receive/receive-pool.js';
import type { ChunkRef } from '../../src/core/send/outgoing-message.js';
import type { Frame } from '../../src/wire/frame.js';
import { framesIn, payloadBytes, writerWithRoom } from './fixtures.js';

/** Writes the owed MAX_DATA (if any) and returns the limits it carried. */
function announced(f: FlowControl, room = 100): number[] {
  const w = writerWithRoom(room);
  f.writeIfDue(w);
  return framesIn(w).map((fr) => (fr.type === 'max-data' ? fr.limit : Number.NaN));
}

describe('FlowControl: sending', () => {
  it('allows the stream up to the peer\'s limit, inclusive, and not a byte more', () => {
    const f = new FlowControl(1_000, 500);
    expect(f.peerWindow).toBe(500);
    expect(f.allows(500)).toBe(true);
    expect(f.allows(501)).toBe(false);
  });

  it('MAX_DATA raises the limit; a stale, lower one does not lower it', () => {
    const f = new FlowControl(1_000, 500);
    // 300 bytes of messages begun: the peer read at most those, so a limit of 800 is its window of 500 still.
    f.onMaxData(800, 300);
    expect(f.allows(800)).toBe(true);
    expect(f.allows(801)).toBe(false);
    f.onMaxData(600, 300);
    expect(f.allows(800)).toBe(true);
    // The window (largest message) is what the handshake said, not the limit.
    expect(f.peerWindow).toBe(500);
  });

  it('a limit past what we began plus the window says the peer raised its window: larger messages may go', () => {
    const f = new FlowControl(1_000, 500);
    f.onMaxData(5_300, 300);
    expect(f.peerWindow).toBe(5_000);
    // Never lowered by a later, smaller estimate (more begun since, not yet read).
    f.onMaxData(5_400, 2_000);
    expect(f.peerWindow).toBe(5_000);
  });

  it('a raise is repeated, after a packet\'s data and where room is left, until one that carried it is acknowledged; never owed on its own', () => {
    const f = new FlowControl(1_000, 500);
    f.raiseReceiveWindow(8_000);
    // The limit and the window that grew with it (WINDOW, always beside the MAX_DATA while unacknowledged).
    expect(owed(f)).toEqual([
      ['max-data', 8_000],
      ['window', 8_000],
    ]);
    // Not owed any more (no packet just for it), but packets with data repeat it where it fits: the first may be lost.
    expect(f.due).toBe(false);
    const repeated = (room: number): [string, number][] => {
      const w = writerWithRoom(room);
      f.repeatRaiseIfRoom(w);
      return framesIn(w).map(valueOf);
    };
    expect(repeated(100)).toEqual([
      ['max-data', 8_000],
      ['window', 8_000],
    ]);
    expect(repeated(2)).toEqual([]);
    // Room for MAX_DATA (3 bytes) but not for WINDOW beside it: neither, so an ACK of a packet with MAX_DATA
    // always means the peer has the window too.
    expect(repeated(5)).toEqual([]);
    expect(repeated(6)).toHaveLength(2);
    f.onMaxDataAcked();
    expect(repeated(100)).toEqual([]);
    // A credit update alone is not repeated: its loss is repaired when its packet is declared lost.
    f.onRead(5_000);
    expect(announced(f)).toEqual([13_000]);
    expect(announced(f)).toEqual([]);
    expect(repeated(100)).toEqual([]);
  });

  it('raiseReceiveWindow within the window grows the grant alone; at or below the grant it does nothing; past the window it grows both', () => {
    const MiB = 1024 * 1024;
    const f = new FlowControl(32 * MiB, 5_000);
    expect([f.window, f.grant, f.limit]).toEqual([32 * MiB, MiB, MiB]);
    expect(f.raiseReceiveWindow(8 * MiB)).toBe(true);
    expect([f.window, f.grant, f.limit]).toEqual([32 * MiB, 8 * MiB, 8 * MiB]);
    expect(owed(f)).toEqual([['max-data', 8 * MiB]]);
    expect(f.raiseReceiveWindow(8 * MiB)).toBe(false);
    expect(f.raiseReceiveWindow(4 * MiB)).toBe(false);
    expect(f.due).toBe(false);
    expect([f.window, f.grant]).toEqual([32 * MiB, 8 * MiB]);
    expect(f.raiseReceiveWindow(64 * MiB)).toBe(true);
    expect([f.window, f.grant, f.limit]).toEqual([64 * MiB, 64 * MiB, 64 * MiB]);
  });

  it('raiseReceiveWindow grows our window and announces the new limit at once; it never shrinks', () => {
    const f = new FlowControl(1_000, 500);
    f.onRead(100);
    expect(f.due).toBe(false);
    f.raiseReceiveWindow(8_000);
    expect(f.window).toBe(8_000);
    expect(f.due).toBe(true);
    const w = writerWithRoom(100);
    expect(f.writeIfDue(w)).toBe(WROTE_MAX_DATA);
    expect(framesIn(w)).toEqual([
      { type: 'max-data', limit: 8_100 },
      { type: 'window', window: 8_000 },
    ]);
    f.raiseReceiveWindow(2_000);
    expect(f.window).toBe(8_000);
    expect(f.due).toBe(false);
  });

  it('WINDOW raises our view of the peer\'s window; a smaller or equal one (a stale copy, a hostile peer) changes nothing', () => {
    const f = new FlowControl(1_000, 500);
    f.onWindow(5_000);
    expect(f.peerWindow).toBe(5_000);
    f.onWindow(2_000);
    f.onWindow(5_000);
    f.onWindow(0);
    expect(f.peerWindow).toBe(5_000);
    // The window, not the limit: a message up to it may be sent, and waits (BLOCKED) past the limit.
    expect(f.allows(4_000)).toBe(false);
    expect(owed(f)).toEqual([['blocked', 4_000]]);
  });

  it("a raise the endpoint's budget has no credit for still announces the window at once, beside an unchanged limit, until acknowledged; lost, again", () => {
    const KiB = 1024;
    // 256 KiB less its sixteenth: 240 KiB, all granted to one raised connection but the floor of the next.
    const pool = new ReceivePool(256 * KiB);
    const holder = new FlowControl(8 * KiB, 5_000, pool);
    holder.raiseReceiveWindow(232 * KiB);
    const f = new FlowControl(8 * KiB, 5_000, pool);
    expect(f.limit).toBe(8 * KiB);
    expect(f.raiseReceiveWindow(128 * KiB)).toBe(true);
    // No credit (before, nothing was owed: the peer never heard of the raise until credit returned).
    expect(f.limit).toBe(8 * KiB);
    expect(f.due).toBe(true);
    expect(owed(f)).toEqual([
      ['max-data', 8 * KiB],
      ['window', 128 * KiB],
    ]);
    f.onMaxDataLost();
    expect(owed(f)).toEqual([
      ['max-data', 8 * KiB],
      ['window', 128 * KiB],
    ]);
    f.onMaxDataAcked();
    f.onMaxDataLost();
    // Known to have arrived: a later loss owes the limit alone.
    expect(owed(f)).toEqual([['max-data', 8 * KiB]]);
  });

  it('the handshake\'s window replaces the stand-in one', () => {
    const f = new FlowControl(1_000, 1_000);
    f.setPeerWindow(300);
    expect(f.peerWindow).toBe(300);
    expect(f.allows(300)).toBe(true);
    expect(f.allows(301)).toBe(false);
  });

  it('holds a queued message beyond the peer\'s limit until MAX_DATA covers its last byte', () => {
    // Each message takes its bytes and MESSAGE_CREDIT of the window.
    const end = creditOf(200) + creditOf(100);
    const f = new FlowControl(1 << 20, end - 50);
    const q = new SendQueue(f, 1_000);
    q.push(new Uint8Array(200));
    q.push(new Uint8Array(100));
    const chunks: ChunkRef[] = [];
    q.fillNewData(writerWithRoom(1_000), chunks, 0, { rememberSmall: () => undefined });
    // The first message fits; the second ends 50 past the limit.
    expect(chunks.map((c) => c.message.id)).toEqual([0]);
    expect(q.hasNewData()).toBe(false);
    f.onMaxData(end - 1, q.startedStreamEnd);
    expect(q.hasNewData()).toBe(false);
    f.onMaxData(end, q.startedStreamEnd);
    expect(q.hasNewData()).toBe(true);
    q.fillNewData(writerWithRoom(1_000), chunks, 0, { rememberSmall: () => undefined });
    expect(chunks.map((c) => c.message.id)).toEqual([0, 1]);
  });
});

describe('FlowControl: receiving', () => {
  it('announces credit once a quarter window has been read, not before', () => {
    const f = new FlowControl(1_000, 1_000);
    expect(f.due).toBe(false);
    f.onRead(249);
    expect(f.due).toBe(false);
    expect(announced(f)).toEqual([]);
    f.onRead(1);
    expect(f.due).toBe(true);
    expect(announced(f)).toEqual([1_250]);
    expect(f.due).toBe(false);
    // The next quarter counts from what was announced.
    f.onRead(249);
    expect(f.due).toBe(false);
    f.onRead(1);
    expect(announced(f)).toEqual([1_500]);
  });

  it('one large read announces at once, with everything read', () => {
    const f = new FlowControl(1_000, 1_000);
    f.onRead(5_000);
    expect(announced(f)).toEqual([6_000]);
  });

  it('a lost MAX_DATA is announced again with the current limit', () => {
    const f = new FlowControl(1_000, 1_000);
    f.onRead(300);
    expect(announced(f)).toEqual([1_300]);
    f.onMaxDataLost();
    expect(f.due).toBe(true);
    f.onRead(100);
    expect(announced(f)).toEqual([1_300]);
  });

  it('writes the frame only if it fits; otherwise it stays owed', () => {
    const f = new FlowControl(1_000, 1_000);
    f.onRead(300);
    // 1,300 is a two-byte varint: the frame takes 3 bytes.
    const small = writerWithRoom(2);
    expect(f.writeIfDue(small)).toBe(0);
    expect(payloadBytes(small)).toBe(0);
    expect(f.due).toBe(true);
    const exact = writerWithRoom(3);
    expect(f.writeIfDue(exact)).toBe(WROTE_MAX_DATA);
    expect(payloadBytes(exact)).toBe(3);
    expect(f.due).toBe(false);
    expect(f.writeIfDue(writerWithRoom(100))).toBe(0);
  });
});

/** Writes what is owed and returns the frames, as `[type, limit]`. */
function owed(f: FlowControl): [string, number][] {
  const w = writerWithRoom(100);
  f.writeIfDue(w);
  return framesIn(w).map(valueOf);
}

/** A flow-control frame's type and value (its limit, or WINDOW's window). */
function valueOf(fr: Frame): [string, number] {
  return [fr.type, fr.type === 'max-data' || fr.type === 'blocked' ? fr.limit : fr.type === 'window' ? fr.window : Number.NaN];
}

describe('FlowControl: BLOCKED', () => {
  it('a sender held back says BLOCKED once per limit, with the limit its message needs', () => {
    const f = new FlowControl(1_000, 5_000, undefined, 1_000);
    expect(f.allows(1_500)).toBe(false);
    expect(owed(f)).toEqual([['blocked', 1_500]]);
    // Asked again for the same limit (each time it looks at its queue): nothing more owed.
    expect(f.allows(1_500)).toBe(false);
    expect(f.due).toBe(false);
    // A larger one is said again.
    expect(f.allows(2_000)).toBe(false);
    expect(owed(f)).toEqual([['blocked', 2_000]]);
  });

  it('a lost BLOCKED is said again while the sender still waits, and not once MAX_DATA covers it; its loss owes no MAX_DATA', () => {
    const f = new FlowControl(1_000, 5_000, undefined, 1_000);
    f.allows(1_500);
    const w = writerWithRoom(100);
    // Only BLOCKED was owed: the packet is marked as carrying that alone (before: as MAX_DATA).
    expect(f.writeIfDue(w)).toBe(WROTE_BLOCKED);
    f.onBlockedLost();
    // Before, a lost BLOCKED-only packet also sent the unchanged limit again (a MAX_DATA of 1,000).
    expect(owed(f)).toEqual([['blocked', 1_500]]);
    f.onMaxData(1_500, 0);
    f.onBlockedLost();
    expect(f.due).toBe(false);
    f.onMaxDataLost();
    expect(owed(f)).toEqual([['max-data', 1_000]]);
  });

  it('a BLOCKED owed but not yet sent is dropped when MAX_DATA covers it first', () => {
    const f = new FlowControl(1_000, 5_000, undefined, 1_000);
    f.allows(1_500);
    expect(f.due).toBe(true);
    f.onMaxData(2_000, 0);
    expect(f.due).toBe(false);
  });

  it('a receiver grows its limit (not its grant) to fit what the peer waits for, and not at all for a limit past its window', () => {
    const g = new FlowControl(64 * 1024 * 1024, 5_000);
    expect(g.limit).toBe(1024 * 1024);
    // A limit already granted: nothing to answer.
    g.onPeerBlocked(1_000);
    expect(g.peerWaiting).toBe(false);
    expect(g.answerBlocked()).toBe(false);
    // A limit past the window is not answered at all: no message could begin on part of it.
    const past = new FlowControl(64 * 1024 * 1024, 5_000);
    past.onPeerBlocked(2 ** 53 - 1);
    expect(past.peerWaiting).toBe(true);
    expect(past.answerBlocked()).toBe(false);
    expect([past.limit, past.due]).toEqual([1024 * 1024, false]);
    g.onPeerBlocked(64 * 1024 * 1024);
    expect(g.peerWaiting).toBe(true);
    expect(g.answerBlocked()).toBe(true);
    expect(g.grant).toBe(1024 * 1024);
    expect(g.limit).toBe(64 * 1024 * 1024);
    // Past the first grant the credit is the one message's: a smaller message finds only the grant.
    expect(g.reserved).toBe(63 * 1024 * 1024);
    expect(g.creditFor(64 * 1024)).toBe(1024 * 1024);
    expect(g.creditFor(63 * 1024 * 1024)).toBe(64 * 1024 * 1024);
    expect(owed(g)).toEqual([['max-data', 64 * 1024 * 1024]]);
    // Answered: nothing more to grant.
    expect(g.answerBlocked()).toBe(false);
    expect(g.due).toBe(false);
    // The message begins: the reservation ends, and once it is read the limit follows the grant again.
    g.began(64 * 1024 * 1024);
    expect(g.reserved).toBe(0);
    g.onRead(64 * 1024 * 1024);
    expect(g.grant).toBe(1024 * 1024);
    expect(g.credit).toBe(1024 * 1024);
  });

  it('the reserved part shrinks as reading lets the grant alone reach it; a message that begins ends it only if it is as large', () => {
    const MiB = 1024 * 1024;
    const g = new FlowControl(64 * MiB, 5_000);
    g.onRead(MiB / 2);
    expect(g.limit).toBe(1.5 * MiB);
    g.onPeerBlocked(4 * MiB);
    expect(g.answerBlocked()).toBe(true);
    expect([g.limit, g.reserved, g.wanted, g.creditFor(256)]).toEqual([4 * MiB, 2.5 * MiB, 3.5 * MiB, MiB]);
    // Messages sent before the large one are read: the grant alone now reaches 2.5 MiB.
    g.onRead(MiB);
    expect([g.reserved, g.wanted, g.creditFor(256)]).toEqual([1.5 * MiB, 2.5 * MiB, MiB]);
    // A message smaller than the reserved part leaves it; one exactly as large ends it.
    g.began(1.5 * MiB - 1);
    expect(g.reserved).toBe(1.5 * MiB);
    g.began(1.5 * MiB);
    expect([g.reserved, g.wanted, g.creditFor(256)]).toEqual([0, MiB, g.credit]);
  });

  it('a second BLOCKED while the first large message is still arriving reserves only past the limit before it: the second message is not refused', () => {
    const MiB = 1024 * 1024;
    const g = new FlowControl(64 * MiB, 5_000);
    g.onPeerBlocked(2 * MiB);
    g.answerBlocked();
    // The first large message (1.5 MiB, from 0.5 MiB) begins and is still arriving (a loss): nothing read yet.
    g.began(1.5 * MiB);
    // The sender's next message, 3 MiB, begins where the first ends (2 MiB, the limit before this answer).
    g.onPeerBlocked(5 * MiB);
    expect(g.answerBlocked()).toBe(true);
    expect(g.reserved).toBe(3 * MiB);
    expect(g.creditFor(3 * MiB)).toBe(5 * MiB);
    expect(g.creditFor(256)).toBe(2 * MiB);
  });

  it('a reservation never met fades as reading reaches it: the grant alone covers the limit, and what is wanted is the grant', () => {
    const MiB = 1024 * 1024;
    const g = new FlowControl(64 * MiB, 5_000);
    g.onPeerBlocked(2 * MiB);
    g.answerBlocked();
    expect(g.reserved).toBe(MiB);
    g.onRead(1.5 * MiB);
    expect([g.reserved, g.wanted, g.creditFor(256)]).toEqual([0, MiB, g.credit]);
    expect(g.limit).toBe(2.5 * MiB);
  });

  it("a BLOCKED the endpoint's budget has no room for is not answered in part: nothing is granted or reserved until all of it fits", () => {
    const KiB = 1024;
    // 3 MiB less its sixteenth (192 KiB): the first grant (1 MiB), and 1,856 KiB left. Until the follow-up
    // of attack round 13 the answer was half of that (928 KiB), reserved: credit the peer could not use
    // (it sends nothing until its message fits), held until the rest came.
    const pool = new ReceivePool(3 * 1024 * KiB);
    const g = new FlowControl(64 * 1024 * KiB, 5_000, pool);
    expect(g.limit).toBe(1024 * KiB);
    g.onPeerBlocked(8 * 1024 * KiB);
    expect(g.answerBlocked()).toBe(false);
    expect(g.limit).toBe(1024 * KiB);
    expect(g.reserved).toBe(0);
    expect(g.creditFor(256)).toBe(1024 * KiB);
    expect(g.wanted).toBe(8 * 1024 * KiB);
    expect(pool.committed).toBe(1024 * KiB);
  });

  it("a BLOCKED the budget's room holds is answered whole, not with half the room, when the grant wants more than the message needs", () => {
    const KiB = 1024;
    // 1 MiB less its sixteenth: 960 KiB. An idle connection holds 704 KiB; the next one starts with the
    // floor and half of what is left (130 KiB) while its grant is 1 MiB: 126 KiB stay in the budget.
    const pool = new ReceivePool(1024 * KiB);
    new FlowControl(704 * KiB, 5_000, pool);
    const g = new FlowControl(8 * 1024 * KiB, 5_000, pool);
    expect([g.limit, g.grant]).toEqual([130 * KiB, 1024 * KiB]);
    // Its peer's next message needs 100 KiB more: less than the room, more than half of it.
    g.onPeerBlocked(230 * KiB);
    expect(g.answerBlocked()).toBe(true);
    // Before: 193 KiB (half the room, as if for the whole grant), and the 63 KiB left were offered again
    // only when credit returned: with every other connection idle, never, and the message waited for good.
    expect(g.limit).toBe(230 * KiB);
    expect(g.peerWaiting).toBe(false);
    expect(pool.committed).toBe(704 * KiB + 230 * KiB);
  });

  it('a message sent in order before the one a BLOCKED waits for finds the limit it had before the answer', () => {
    const g = new FlowControl(8 * 1024 * 1024, 5_000);
    // 600 KiB read, 400 KiB held: the limit is then 1.6 MiB (a quarter of the grant read announces it).
    g.onRead(600 * 1024);
    expect(g.limit).toBe(1624 * 1024);
    // The peer's next message ends at 4 MiB: it begins at or below 1.6 MiB.
    g.onPeerBlocked(4 * 1024 * 1024);
    expect(g.answerBlocked()).toBe(true);
    expect(g.limit).toBe(4 * 1024 * 1024);
    // A message that began before it (below the old limit) still finds the old credit, 1 MiB.
    expect(g.creditFor(256)).toBe(1024 * 1024);
    // The message itself, however little below the old limit it begins, finds the whole credit.
    expect(g.creditFor((4096 - 1624) * 1024)).toBe(g.credit);
  });
});

describe('FlowControl: frames repeated while their packets are in flight', () => {
  it("a probe timeout owes again the MAX_DATA and the BLOCKED of packets in flight, and only those", () => {
    const MiB = 1024 * 1024;
    const f = new FlowControl(64 * MiB, 64 * MiB, undefined, MiB);
    // The sender waits past the peer's limit: BLOCKED, written once.
    expect(f.allows(2 * MiB)).toBe(false);
    expect(owed(f)).toEqual([['blocked', 2 * MiB]]);
    expect(f.due).toBe(false);
    f.onProbeTimeout(false, false);
    expect(f.due).toBe(false);
    f.onProbeTimeout(false, true);
    expect(owed(f)).toEqual([['blocked', 2 * MiB]]);
    // The receiver side: a MAX_DATA in flight goes again (the latest limit).
    f.onRead(MiB / 2);
    expect(owed(f).map(([type]) => type)).toEqual(['max-data']);
    f.onProbeTimeout(true, false);
    expect(owed(f)).toEqual([['max-data', f.limit]]);
    // Once the peer's limit covers what it waited for, the BLOCKED is not owed again.
    f.onMaxData(2 * MiB, 0);
    f.onProbeTimeout(false, true);
    expect(f.due).toBe(false);
  });

  it("the answer to a BLOCKED rides on ACK-only packets until a packet that carried it is acknowledged, and not once its message began", () => {
    const MiB = 1024 * 1024;
    const g = new FlowControl(64 * MiB, 5_000);
    const repeated = (): [string, number][] => {
      const w = writerWithRoom(100);
      g.repeatAnswerIfRoom(w);
      return framesIn(w).map(valueOf);
    };
    // No BLOCKED answered: nothing to repeat.
    expect(repeated()).toEqual([]);
    g.onPeerBlocked(4 * MiB);
    expect(g.answerBlocked()).toBe(true);
    expect(owed(g)).toEqual([['max-data', 4 * MiB]]);
    // Sent once; until it is known to have arrived, every ACK-only packet carries it again.
    expect(repeated()).toEqual([['max-data', 4 * MiB]]);
    expect(repeated()).toEqual([['max-data', 4 * MiB]]);
    g.onMaxDataAcked();
    expect(repeated()).toEqual([]);
    // A second answer, not acknowledged, whose message begins: no longer repeated in ACKs.
    g.onPeerBlocked(8 * MiB);
    expect(g.answerBlocked()).toBe(true);
    owed(g);
    expect(repeated()).toEqual([['max-data', 8 * MiB]]);
    g.began(8 * MiB);
    expect(repeated()).toEqual([]);
  });
});
