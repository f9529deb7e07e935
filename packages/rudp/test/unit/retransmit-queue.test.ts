/**
 * The resend queue's purpose rules: resends of lost chunks with spaced
 * copies, probes, tail copies, and each entry dropped once it has no purpose
 * (its chunk acknowledged, a tail copy overtaken by new data) or held while
 * the repair packet that may rebuild its message is in flight.
 */
import { describe, expect, it } from 'vitest';
import type { SentPacket } from '../../src/core/recovery/sent-packet.js';
import { type ChunkRef, OutgoingMessage } from '../../src/core/send/outgoing-message.js';
import { RetransmitQueue } from '../../src/core/send/retransmit-queue.js';
import { framesIn, writerWithRoom } from './fixtures.js';

const CHUNK = 50;

function message(id: number, length: number): OutgoingMessage {
  return new OutgoingMessage(id, new Uint8Array(length).fill(id), 0, CHUNK);
}

function lostPacket(pn: number, chunks: readonly ChunkRef[]): SentPacket {
  return { pn, timeSent: 0, size: 100, chunks, retransmission: false, ackLargest: -1, carriedMaxData: false, carriedBlocked: false, delivered: 0, deliveredTime: 0, firstSentTime: 0, appLimited: false, leftQueueEmpty: false, pingOnly: false };
}

const ref = (message: OutgoingMessage, index = 0): ChunkRef => ({ message, index, notBefore: 0 });

/** What one packet of `room` bytes carries from the queue at `now`, as [message id, chunk index]. */
function fillAt(q: RetransmitQueue, now: number, newDataFollows = false, room = 1_000): [number, number][] {
  const w = writerWithRoom(room);
  const chunks: ChunkRef[] = [];
  const any = q.fill(now, w, chunks, newDataFollows);
  expect(any).toBe(chunks.length > 0);
  // What was reported is what was written.
  expect(framesIn(w).map((f) => (f.type === 'fragment' ? f.messageId : -1))).toEqual(chunks.map((c) => c.message.id));
  return chunks.map((c) => [c.message.id, c.index]);
}

function rq(inFlight: (pn: number) => boolean = () => false, copies = 1, spacing = 3): RetransmitQueue {
  return new RetransmitQueue({ redundantCopies: copies, redundantSpacingMs: spacing }, { inFlight });
}

describe('RetransmitQueue: resends of a lost packet', () => {
  it('queues its unacknowledged chunks; a one-packet message also gets spaced copies', () => {
    const q = rq(() => false, 2, 3);
    const a = message(0, 10);
    const b = message(1, 10);
    b.ack(0);
    q.requeueLost(100, lostPacket(5, [ref(a), ref(b)]));
    // The resend now, copies at +3 and +6 ms; nothing of the acknowledged b.
    expect(q.length).toBe(3);
    expect(q.earliest()).toBe(0);
    expect(fillAt(q, 100)).toEqual([[0, 0]]);
    expect(q.earliest()).toBe(103);
    expect(fillAt(q, 102.9)).toEqual([]);
    expect(fillAt(q, 103)).toEqual([[0, 0]]);
    expect(fillAt(q, 105)).toEqual([]);
    expect(fillAt(q, 106)).toEqual([[0, 0]]);
    expect(q.length).toBe(0);
    expect(q.earliest()).toBe(Number.POSITIVE_INFINITY);
  });

  it('a chunk that several lost packets carried (a resend lost in the same run) is queued once, with one set of copies', () => {
    const q = rq(() => false, 1, 3);
    const a = message(0, 10);
    const b = message(1, 10);
    q.requeueLost(100, lostPacket(5, [ref(a)]));
    q.requeueLost(100, lostPacket(7, [ref(a), ref(b)]));
    q.requeueLost(100, lostPacket(9, [ref(a), ref(b)]));
    // a: one resend and its copy; b: the same. Not a packet per loss declared.
    expect(q.length).toBe(4);
    expect(fillAt(q, 100)).toEqual([
      [0, 0],
      [1, 0],
    ]);
    expect(fillAt(q, 100)).toEqual([]);
    // Once the resend left, a later loss of a packet that carried the chunk queues it again; the copy
    // still waiting serves it, so no second copy.
    q.requeueLost(101, lostPacket(11, [ref(a)]));
    expect(fillAt(q, 101)).toEqual([[0, 0]]);
    expect(fillAt(q, 103)).toEqual([
      [0, 0],
      [1, 0],
    ]);
    expect(q.length).toBe(0);
  });

  it('a lost previous copy (a redundant chunk) queues nothing: the packet that first carried the message decides its resend', () => {
    const q = rq(() => false, 1, 3);
    const a = message(0, 10);
    const b = message(1, 10);
    q.requeueLost(0, lostPacket(5, [ref(b), { message: a, index: 0, notBefore: 0, redundant: true }]));
    expect(fillAt(q, 0)).toEqual([[1, 0]]);
    expect(fillAt(q, 3)).toEqual([[1, 0]]);
    expect(q.length).toBe(0);
  });

  it('chunks of a multi-packet message get no copies', () => {
    const q = rq(() => false, 2, 3);
    const big = message(0, 120);
    q.requeueLost(0, lostPacket(5, [ref(big, 1), ref(big, 2)]));
    expect(q.length).toBe(2);
    expect(fillAt(q, 0)).toEqual([
      [0, 1],
      [0, 2],
    ]);
    expect(q.length).toBe(0);
  });

  it('drops a resend or copy whose chunk was acknowledged meanwhile', () => {
    const q = rq(() => false, 1, 3);
    const a = message(0, 10);
    q.requeueLost(0, lostPacket(5, [ref(a)]));
    a.ack(0);
    // Told of it, as the connection tells it of every acknowledgement.
    q.noteAcked();
    expect(q.pruneAndCheckReady(10)).toBe(false);
    expect(q.length).toBe(0);
    const b = message(1, 10);
    q.requeueLost(0, lostPacket(6, [ref(b)]));
    b.ack(0);
    expect(fillAt(q, 10)).toEqual([]);
    expect(q.length).toBe(0);
  });

  it('pruneAndCheckReady says whether anything may go now', () => {
    const q = rq(() => false, 1, 3);
    expect(q.pruneAndCheckReady(0)).toBe(false);
    q.requeueLost(0, lostPacket(5, [ref(message(0, 10))]));
    expect(q.pruneAndCheckReady(0)).toBe(true);
    fillAt(q, 0);
    expect(q.pruneAndCheckReady(2)).toBe(false);
    expect(q.pruneAndCheckReady(3)).toBe(true);
  });

  it('never puts the same chunk twice in one packet, and keeps what does not fit for the next', () => {
    const q = rq(() => false, 1, 0);
    const a = message(0, 10);
    q.requeueLost(0, lostPacket(5, [ref(a)]));
    // Resend and copy are both due at once: one per packet.
    expect(fillAt(q, 0)).toEqual([[0, 0]]);
    expect(fillAt(q, 0)).toEqual([[0, 0]]);
    const big = message(1, 120);
    q.requeueLost(0, lostPacket(6, [ref(big, 0), ref(big, 1)]));
    // Room for one 50-byte chunk and its header only.
    expect(fillAt(q, 0, false, 60)).toEqual([[1, 0]]);
    expect(fillAt(q, 0, false, 60)).toEqual([[1, 1]]);
    expect(fillAt(q, 0)).toEqual([]);
  });
});

describe('RetransmitQueue: resends that wait for repairs', () => {
  it('a message covered by a later repair waits while that repair packet is in flight', () => {
    const flying = new Set([9]);
    const q = rq((pn) => flying.has(pn), 0);
    const a = message(0, 10);
    a.lastRepairPn = 9;
    q.requeueLost(0, lostPacket(5, [ref(a)]));
    expect(q.pruneAndCheckReady(0)).toBe(false);
    expect(fillAt(q, 0)).toEqual([]);
    expect(q.length).toBe(1);
    // The repair packet was acknowledged without the peer rebuilding it (or was lost): resend.
    flying.delete(9);
    expect(q.pruneAndCheckReady(0)).toBe(true);
    expect(fillAt(q, 0)).toEqual([[0, 0]]);
  });

  it('a repair older than the lost packet does not hold the resend', () => {
    const q = rq(() => true, 0);
    const a = message(0, 10);
    a.lastRepairPn = 5;
    q.requeueLost(0, lostPacket(5, [ref(a)]));
    expect(fillAt(q, 0)).toEqual([[0, 0]]);
  });
});

describe('RetransmitQueue: probes', () => {
  it('re-sends the live chunks of the oldest packet that has any, ahead of everything else', () => {
    const q = rq(() => false, 0);
    const done = message(0, 10);
    done.ack(0);
    const b = message(1, 10);
    const c = message(2, 10);
    const queued = message(3, 10);
    q.requeueLost(0, lostPacket(1, [ref(queued)]));
    expect(q.queueProbe(50, [lostPacket(2, [ref(done)]), lostPacket(3, [ref(b), ref(c)]), lostPacket(4, [ref(message(4, 10))])])).toBe(true);
    expect(fillAt(q, 50)).toEqual([
      [2, 0],
      [1, 0],
      [3, 0],
    ]);
  });

  it('returns false (the probe must be a PING) when nothing in flight has live data', () => {
    const q = rq();
    const done = message(0, 10);
    done.ack(0);
    expect(q.queueProbe(0, [lostPacket(2, [ref(done)]), lostPacket(3, [])])).toBe(false);
    expect(q.length).toBe(0);
  });
});

describe('RetransmitQueue: tail copies', () => {
  it('a tail copy goes at its time if nothing newer was sent', () => {
    const q = rq();
    const m = message(0, 10);
    m.firstSentAt = 100;
    q.noteNewData(100);
    q.queueTailCopy(m, 110);
    expect(fillAt(q, 109)).toEqual([]);
    expect(fillAt(q, 110)).toEqual([[0, 0]]);
  });

  it('is dropped once new data left after the message (that packet\'s repairs cover it)', () => {
    const q = rq();
    const m = message(0, 10);
    m.firstSentAt = 100;
    q.queueTailCopy(m, 110);
    q.noteNewData(105);
    expect(q.pruneAndCheckReady(200)).toBe(false);
    expect(q.length).toBe(0);
  });

  it('is dropped when the packet being built carries new data, but a resend is not', () => {
    const q = rq(() => false, 0);
    const m = message(0, 10);
    m.firstSentAt = 100;
    q.queueTailCopy(m, 100);
    q.requeueLost(100, lostPacket(5, [ref(message(1, 10))]));
    expect(fillAt(q, 100, true)).toEqual([[1, 0]]);
    expect(q.length).toBe(0);
  });

  it('is dropped when the message is acknowledged', () => {
    const q = rq();
    const m = message(0, 10);
    q.queueTailCopy(m, 10);
    m.ack(0);
    expect(fillAt(q, 10)).toEqual([]);
    expect(q.length).toBe(0);
  });

  it('clear() drops everything', () => {
    const q = rq();
    q.queueTailCopy(message(0, 10), 10);
    q.requeueLost(0, lostPacket(5, [ref(message(1, 10))]));
    q.clear();
    expect(q.length).toBe(0);
    expect(q.pruneAndCheckReady(1_000)).toBe(false);
  });
});

describe('RetransmitQueue: a chunk already waiting is not queued again, on every path an entry comes and goes', () => {
  /** Declares packet `pn`, which carried `c`, lost at `now`; returns how many entries the queue holds then. */
  const lose = (q: RetransmitQueue, now: number, pn: number, c: ChunkRef): number => {
    q.requeueLost(now, lostPacket(pn, [c]));
    return q.length;
  };
  /** A queue (`copies` spaced 3 ms apart) and a 10-byte message (one chunk). */
  const setup = (copies = 0): [RetransmitQueue, OutgoingMessage] => [rq(() => false, copies, 3), message(0, 10)];

  it('a resend queued, then sent, then lost again is queued again, once', () => {
    const [q, a] = setup();
    lose(q, 0, 5, ref(a));
    expect(lose(q, 0, 6, ref(a))).toBe(1);
    expect(fillAt(q, 0)).toEqual([[0, 0]]);
    // The resend left: it no longer waits, so the next loss queues the chunk again, and only once.
    lose(q, 10, 7, ref(a));
    expect(lose(q, 10, 8, ref(a))).toBe(1);
    expect(fillAt(q, 10)).toEqual([[0, 0]]);
    expect(q.length).toBe(0);
  });

  it('a spaced copy waiting serves a new loss, and once it is due it counts as the resend', () => {
    const [q, a] = setup(1);
    lose(q, 0, 5, ref(a));
    expect(fillAt(q, 0)).toEqual([[0, 0]]);
    // Only the copy (due at 3) waits: a resend is queued, no second copy.
    expect(lose(q, 1, 6, ref(a))).toBe(2);
    expect(fillAt(q, 1)).toEqual([[0, 0]]);
    // The copy is due now: it is the resend, nothing more is queued.
    expect(lose(q, 3, 7, ref(a))).toBe(1);
    expect(fillAt(q, 3)).toEqual([[0, 0]]);
    // Nothing waits any more: a loss queues the resend and its copy again.
    expect(lose(q, 4, 8, ref(a))).toBe(2);
  });

  it('a probe resend waiting counts: a loss declared after the probe queues nothing more until it left', () => {
    const [q, a] = setup();
    expect(q.queueProbe(50, [lostPacket(5, [ref(a)])])).toBe(true);
    expect(lose(q, 50, 5, ref(a))).toBe(1);
    expect(fillAt(q, 50)).toEqual([[0, 0]]);
    expect(lose(q, 60, 9, ref(a))).toBe(1);
  });

  it('a tail copy waiting does not count (it is optional): the loss queues a resend', () => {
    const [q, a] = setup();
    q.queueTailCopy(a, 0);
    expect(lose(q, 0, 5, ref(a))).toBe(2);
  });

  it('after clear() nothing counts as waiting', () => {
    const [q, a] = setup();
    lose(q, 0, 5, ref(a));
    q.clear();
    expect(lose(q, 0, 6, ref(a))).toBe(1);
  });

  it('a chunk resent in pieces (the datagram size fell): each piece waiting counts, and the whole chunk no longer waits', () => {
    const q = rq(() => false, 0);
    const a = message(0, 40);
    lose(q, 0, 5, ref(a));
    // Room for one piece a packet: the whole chunk is cut in two pieces, the first leaves.
    q.packetRoom = 30;
    expect(fillAt(q, 0, false, 30)).toEqual([[0, 0]]);
    expect(q.length).toBe(1);
    const piece = (k: number): ChunkRef => ({ message: a, index: 0, piece: k, notBefore: 0 });
    // The second piece still waits; the first left, so its loss queues it again.
    expect(lose(q, 1, 6, piece(1))).toBe(1);
    expect(lose(q, 1, 7, piece(0))).toBe(2);
    // Nothing waits for the whole chunk (it was replaced by its pieces): a packet that carried it whole queues it.
    expect(lose(q, 1, 8, ref(a))).toBe(3);
  });
});
