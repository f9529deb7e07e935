/**
 * The send queue: messages cut into chunks at queue time, new data in queue
 * order within the peer's credit, the cursor to the first chunk never sent
 * (kept right across compaction), and MESSAGE_ACK's "everything below n".
 */
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGES_AHEAD, creditOf } from '../../src/core/credit.js';
import { FlowControl } from '../../src/core/flow-control.js';
import type { ChunkRef, OutgoingMessage } from '../../src/core/send/outgoing-message.js';
import { SendQueue } from '../../src/core/send/send-queue.js';
import type { FragmentFrame } from '../../src/wire/frame.js';
import { writeAck } from '../../src/wire/ack-frame.js';
import { framesIn, writerWithRoom } from './fixtures.js';

const ROOM = 100;

function queue(peerWindow = 1 << 20): { q: SendQueue; flow: FlowControl } {
  const flow = new FlowControl(1 << 20, peerWindow);
  return { q: new SendQueue(flow, ROOM), flow };
}

/** Fills one packet of `room` bytes with new data, which then leaves; returns the chunks and the fragments as parsed. */
function fill(q: SendQueue, room = ROOM, small: OutgoingMessage[] = []): { chunks: ChunkRef[]; frags: FragmentFrame[] } {
  const w = writerWithRoom(room);
  const chunks: ChunkRef[] = [];
  q.fillNewData(w, chunks, 0, { rememberSmall: (_now, m) => small.push(m) });
  q.packetLeft();
  const frags = framesIn(w).filter((f): f is FragmentFrame => f.type === 'fragment');
  return { chunks, frags };
}

/** Message `id`, which has started to leave. */
function sent(q: SendQueue, id: number): OutgoingMessage {
  const m = q.message(id);
  if (m === undefined) throw new Error(`message ${id} has not left`);
  return m;
}

/** Sends everything new, `room` bytes a packet. */
function sendAll(q: SendQueue, room = ROOM): void {
  for (let i = 0; i < 1_000 && q.hasNewData(); i++) fill(q, room);
}

/** Acknowledges every chunk of `m` (as its packets' ACKs would). */
function ackAll(m: OutgoingMessage): void {
  for (let i = 0; i < m.chunkCount; i++) m.ack(i);
}

const bytes = (n: number, v = 1): Uint8Array => new Uint8Array(n).fill(v);

describe('SendQueue: queueing', () => {
  it('numbers messages consecutively and places them end to end in the stream', () => {
    const { q } = queue();
    const ids = [q.push(bytes(10)), q.push(bytes(0)), q.push(bytes(300))];
    expect(ids).toEqual([0, 1, 2]);
    expect(q.bufferedAmount).toBe(310);
    sendAll(q);
    const [a, b, c] = ids.map((id) => sent(q, id)) as [OutgoingMessage, OutgoingMessage, OutgoingMessage];
    expect([a.id, b.id, c.id]).toEqual([0, 1, 2]);
    // In window credit: each message's bytes and MESSAGE_CREDIT.
    expect([a.streamStart, b.streamStart, c.streamStart]).toEqual([0, creditOf(10), creditOf(10) + creditOf(0)]);
    expect(c.streamEnd).toBe(creditOf(10) + creditOf(0) + creditOf(300));
  });

  it('cuts a message into chunks that, with their fragment header, fit one packet payload', () => {
    const { q } = queue();
    const id = q.push(bytes(1_000));
    const frames = [fill(q).frags];
    const m = sent(q, id);
    expect(m.chunkCount).toBe(Math.ceil(1_000 / m.chunkSize));
    for (let i = 0; i < m.chunkCount; i++) {
      const frags = frames[i] ?? fill(q).frags;
      expect(frags).toHaveLength(1);
      expect(frags[0]?.offset).toBe(i * m.chunkSize);
      expect(frags[0]?.data.length).toBe(Math.min(m.chunkSize, 1_000 - i * m.chunkSize));
    }
    // And not much smaller: a chunk leaves at most a couple of bytes of its packet unused.
    const w = writerWithRoom(ROOM);
    const q2 = queue().q;
    q2.push(bytes(1_000));
    q2.fillNewData(w, [], 0, { rememberSmall: () => undefined });
    expect(w.room()).toBeLessThanOrEqual(2);
  });

  it('a 16 KiB message fills full-size packets to the byte: its offsets take two bytes, not the four of its length', () => {
    // The bulk benchmark's messages and payload room (1472-byte datagrams, sealed): every packet but the last is full.
    const room = 1472 - 9 - 16;
    const q = new SendQueue(new FlowControl(1 << 20, 1 << 20), room);
    const id = q.push(bytes(16 * 1024));
    const left: number[] = [];
    while (q.hasNewData()) {
      const w = writerWithRoom(room);
      q.fillNewData(w, [], 0, { rememberSmall: () => undefined });
      left.push(w.room());
    }
    const m = sent(q, id);
    expect(left).toHaveLength(m.chunkCount);
    left.pop();
    // The first chunk's offset 0 takes one byte: its packet has one to spare.
    expect(left).toEqual([1, ...new Array<number>(m.chunkCount - 2).fill(0)]);
  });
});

describe('SendQueue: messages cut across packets', () => {
  /** Fills packets of `room` bytes until nothing new is left; the room each one had left. */
  function fillAll(q: SendQueue, room: number): number[] {
    const left: number[] = [];
    for (let i = 0; i < 1_000 && q.hasNewData(); i++) {
      const w = writerWithRoom(room);
      q.fillNewData(w, [], 0, { rememberSmall: () => undefined });
      left.push(w.room());
    }
    return left;
  }

  it('a stream of messages larger than the kept-whole size fills every packet but the last, each message cut where its packet ends', () => {
    const room = 1472 - 9 - 16;
    const q = new SendQueue(new FlowControl(1 << 20, 1 << 20), room, 256);
    for (let i = 0; i < 50; i++) q.push(bytes(1_000, i));
    const left = fillAll(q, room);
    // 50 messages of 1,000 bytes in one packet each would take 50 packets; cut where packets end, 35.
    expect(left.length).toBeLessThanOrEqual(Math.ceil((50 * 1_010) / room));
    // A packet is left with room only when a first piece would be under 64 bytes (it waits for the next).
    expect(left.slice(0, -1).every((n) => n < 64 + 12)).toBe(true);
  });

  it('messages up to the kept-whole size, and any that fit what the packet has left, leave in one piece', () => {
    const room = 1472 - 9 - 16;
    const q = new SendQueue(new FlowControl(1 << 20, 1 << 20), room, 1_000);
    const ids = Array.from({ length: 20 }, (_, i) => q.push(bytes(1_000, i)));
    const left = fillAll(q, room);
    expect(left).toHaveLength(20);
    expect(ids.every((id) => sent(q, id).chunkCount === 1)).toBe(true);
  });

  it('behind an ACK alone a message that fits a packet of its own waits for the next one, whole (cut, it would need both)', () => {
    const room = 1472 - 9 - 16;
    const q = new SendQueue(new FlowControl(1 << 20, 1 << 20), room, 256);
    const id = q.push(bytes(1_430));
    const w = writerWithRoom(room);
    // An ACK of ten ranges: 1,430 bytes no longer fit behind it, but would in a packet of their own.
    writeAck(w, Array.from({ length: 10 }, (_, i) => ({ lo: 1_000 - 20 * i, hi: 1_010 - 20 * i })), 0);
    expect(w.room()).toBeLessThan(1_430 + 8);
    const chunks: ChunkRef[] = [];
    q.fillNewData(w, chunks, 0, { rememberSmall: () => undefined });
    expect(chunks).toEqual([]);
    const next = fill(q, room);
    expect(next.chunks.map((c) => c.message.id)).toEqual([id]);
    expect(sent(q, id).chunkCount).toBe(1);
  });

  it('an unordered message that fits a packet of its own is not cut behind other data; an ordered one on another channel is', () => {
    const room = 1472 - 9 - 16;
    const run = (ordered: boolean): number[] => {
      const q = new SendQueue(new FlowControl(1 << 20, 1 << 20), room, 256);
      const ids = Array.from({ length: 4 }, () => q.push(bytes(1_000), 3, ordered));
      fillAll(q, room);
      return ids.map((id) => sent(q, id).chunkCount);
    };
    expect(run(false)).toEqual([1, 1, 1, 1]);
    expect(run(true).some((n) => n > 1)).toBe(true);
  });

  it('a first piece shorter than 64 bytes is not cut: the message waits for the next packet', () => {
    const q = new SendQueue(new FlowControl(1 << 20, 1 << 20), 400, 0);
    const a = q.push(bytes(340));
    const b = q.push(bytes(300));
    const first = writerWithRoom(400);
    q.fillNewData(first, [], 0, { rememberSmall: () => undefined });
    expect(sent(q, a).chunkCount).toBe(1);
    expect(sent(q, b).nextChunk).toBe(0);
    expect(sent(q, b).chunkCount).toBe(1);
  });
});

describe('SendQueue: new data', () => {
  it('writes never-sent chunks in queue order while they fit, then picks up where it stopped', () => {
    const { q } = queue();
    const big = q.push(bytes(250, 2));
    q.push(bytes(5, 3));
    const small: OutgoingMessage[] = [];
    const sent: [number, number][] = [];
    for (let i = 0; i < 10 && q.hasNewData(); i++) {
      const { chunks, frags } = fill(q, ROOM, small);
      expect(frags.map((f) => [f.messageId, f.offset])).toEqual(chunks.map((c) => [c.message.id, c.message.offsetOf(c.index)]));
      sent.push(...chunks.map((c): [number, number] => [c.message.id, c.index]));
    }
    expect(sent).toEqual([...Array.from({ length: (q.message(big) as OutgoingMessage).chunkCount }, (_, i): [number, number] => [0, i]), [1, 0]]);
    expect(q.hasNewData()).toBe(false);
    // Only the one-chunk message is reported as a small message sent.
    expect(small.map((m) => m.id)).toEqual([1]);
    expect(fill(q).chunks).toEqual([]);
  });

  it('several small messages share a packet', () => {
    const { q } = queue();
    for (let i = 0; i < 3; i++) q.push(bytes(20, i));
    const { frags } = fill(q);
    expect(frags.map((f) => f.messageId)).toEqual([0, 1, 2]);
    expect(frags.map((f) => f.data[0])).toEqual([0, 1, 2]);
  });

  it('stops at the first message the peer\'s credit does not cover, even if a later one would fit', () => {
    const { q, flow } = queue(creditOf(60) + 40);
    q.push(bytes(60));
    q.push(bytes(60));
    q.push(bytes(1));
    expect(fill(q).chunks.map((c) => c.message.id)).toEqual([0]);
    expect(q.hasNewData()).toBe(false);
    flow.onMaxData(2 * creditOf(60) + creditOf(1), q.startedStreamEnd);
    expect(q.hasNewData()).toBe(true);
    expect(fill(q).chunks.map((c) => c.message.id)).toEqual([1, 2]);
  });

  it('a message pushed after everything was sent is new data again', () => {
    const { q } = queue();
    q.push(bytes(5));
    fill(q);
    expect(q.hasNewData()).toBe(false);
    q.push(bytes(5));
    expect(q.hasNewData()).toBe(true);
    expect(fill(q).chunks.map((c) => c.message.id)).toEqual([1]);
  });

  it('the cursor stays on the first unsent message across compaction of acknowledged ones', () => {
    const { q } = queue();
    const ms = Array.from({ length: 200 }, (_, i) => q.push(bytes(40, i % 250)));
    // Send the first 150, two per packet.
    for (let i = 0; i < 75; i++) fill(q);
    // The peer acknowledges the first 120 (more than the 64 kept before compaction, over half the outbox).
    for (const id of ms.slice(0, 120)) ackAll(sent(q, id));
    q.compact();
    // Internal: the acknowledged front was spliced off. The outbox holds the 30 sent and unacknowledged and
    // message 150, started for the last packet (it did not fit); the other 49 were never in it.
    expect((q as unknown as { outbox: unknown[] }).outbox.length).toBe(31);
    const next = fill(q).chunks.map((c) => c.message.id);
    expect(next).toEqual([150, 151]);
    expect(q.bufferedAmount).toBe(80 * 40);
    const rest: number[] = [];
    for (let i = 0; i < 100 && q.hasNewData(); i++) rest.push(...fill(q).chunks.map((c) => c.message.id));
    expect(rest).toEqual(Array.from({ length: 48 }, (_, i) => 152 + i));
  });
});

describe('SendQueue: message ids in flight', () => {
  it('starts no message MAX_MESSAGES_AHEAD or more past the oldest one not acknowledged, whatever the credit', () => {
    // Empty messages take little credit: before, a stream of them ran past the receiver's horizon, which
    // refused (and acknowledged) the rest while the oldest was lost.
    const { q } = queue(2 ** 40);
    const n = MAX_MESSAGES_AHEAD + 10;
    for (let i = 0; i < n; i++) q.push(bytes(0));
    let started = 0;
    for (let i = 0; i < n && q.hasNewData(); i++) started += fill(q, 1_000).chunks.length;
    expect(started).toBe(MAX_MESSAGES_AHEAD);
    expect(q.hasNewData()).toBe(false);
    // The oldest is acknowledged, and a later one: one more may start (the oldest not acknowledged is now 1).
    ackAll(sent(q, 0));
    ackAll(sent(q, 5));
    expect(q.hasNewData()).toBe(true);
    expect(fill(q, 1_000).chunks.map((c) => c.message.id)).toEqual([MAX_MESSAGES_AHEAD]);
    expect(q.hasNewData()).toBe(false);
  });
});

describe('SendQueue: acknowledgement', () => {
  it('ackBelow(n): every sent message below n is complete, each reported once; unsent ones are not', () => {
    // The peer's credit covers messages 0 and 1 only: nothing of 2 and 3 is sent.
    const { q } = queue(creditOf(5) + creditOf(250));
    const ms = [q.push(bytes(5)), q.push(bytes(250)), q.push(bytes(5)), q.push(bytes(5))];
    for (let i = 0; i < 10 && q.hasNewData(); i++) fill(q);
    expect(sent(q, ms[1] as number).allSent).toBe(true);
    // Not started: no OutgoingMessage made for it yet.
    expect(q.message(ms[2] as number)).toBeUndefined();
    expect(q.bufferedAmount).toBe(265);
    const done: number[] = [];
    q.ackBelow(4, (m) => done.push(m.id));
    expect(done).toEqual([0, 1]);
    expect(q.bufferedAmount).toBe(10);
    expect(q.allAcked()).toBe(false);
    // Again: nothing new to report.
    q.ackBelow(2, (m) => done.push(m.id));
    expect(done).toEqual([0, 1]);
  });

  it('ackBelow past every message completes them all', () => {
    const { q } = queue();
    for (let i = 0; i < 3; i++) q.push(bytes(5));
    fill(q);
    const done: number[] = [];
    q.ackBelow(10, (m) => done.push(m.id));
    expect(done).toEqual([0, 1, 2]);
    expect(q.allAcked()).toBe(true);
  });

  it('ackBelow leaves a message whose chunks have not all left: a claim past what was sent is ignored', () => {
    const { q } = queue();
    const id = q.push(bytes(5_000));
    fill(q);
    const m = sent(q, id);
    expect(m.chunkCount).toBeGreaterThan(1);
    expect(m.allSent).toBe(false);
    const done: number[] = [];
    q.ackBelow(id + 1, (x) => done.push(x.id));
    expect(done).toEqual([]);
    expect(m.complete).toBe(false);
    expect(q.allAcked()).toBe(false);
  });

  it('ackBelow stops at n', () => {
    const { q } = queue();
    for (let i = 0; i < 3; i++) q.push(bytes(5));
    fill(q);
    const done: number[] = [];
    q.ackBelow(2, (m) => done.push(m.id));
    expect(done).toEqual([0, 1]);
    expect(q.bufferedAmount).toBe(5);
  });

  it('a partly acknowledged message counts whole in bufferedAmount until its last chunk', () => {
    const { q } = queue();
    const id = q.push(bytes(250));
    q.push(bytes(7));
    for (let i = 0; i < 10 && q.hasNewData(); i++) fill(q);
    const m = sent(q, id);
    m.ack(0);
    expect(q.bufferedAmount).toBe(257);
    for (let i = 1; i < m.chunkCount; i++) m.ack(i);
    expect(q.bufferedAmount).toBe(7);
  });

  it('allAcked once every queued message is complete; compaction drops them from the front only', () => {
    const { q } = queue();
    const a = q.push(bytes(5));
    const b = q.push(bytes(5));
    expect(q.allAcked()).toBe(false);
    fill(q);
    ackAll(sent(q, b));
    expect(q.allAcked()).toBe(false);
    expect(q.bufferedAmount).toBe(5);
    ackAll(sent(q, a));
    expect(q.allAcked()).toBe(true);
    expect(q.bufferedAmount).toBe(0);
    expect(queue().q.allAcked()).toBe(true);
  });
});

describe('datagrams waiting to leave', () => {
  it('past the budget the oldest give way, the newest stays, and the queue keeps no slots for those gone', () => {
    const flow = new FlowControl(1 << 20, 1 << 20);
    const q = new SendQueue(flow, ROOM, 0, 10 * creditOf(10));
    for (let i = 0; i < 100_000; i++) q.pushDatagram(new Uint8Array([i & 0xff, ...new Array<number>(9).fill(0)]), 0);
    expect(q.datagramsDiscarded).toBe(100_000 - 10);
    const slots = (q as unknown as { datagrams: { items: unknown[] } }).datagrams.items.length;
    expect(slots).toBeLessThan(3_000);
    expect(q.bufferedAmount).toBe(100);
    // A datagram larger than the whole budget still leaves, alone.
    const tiny = new SendQueue(flow, ROOM, 0, 0);
    tiny.pushDatagram(new Uint8Array(50), 0);
    tiny.pushDatagram(new Uint8Array(60), 0);
    expect(tiny.datagramsDiscarded).toBe(1);
    expect(tiny.bufferedAmount).toBe(60);
  });
});


describe('SendQueue: the first message none of whose bytes left (firstUnsentId)', () => {
  const room = 1472 - 9 - 16;

  it('a message begun but held for the next packet (it goes whole, and did not fit this one) has not left', () => {
    const q = new SendQueue(new FlowControl(1 << 20, 1 << 20), room, 1_000);
    const [a, b, c] = [q.push(bytes(1_000, 1)), q.push(bytes(1_000, 2)), q.push(bytes(10, 3))];
    expect(q.firstUnsentId()).toBe(a);
    const w = writerWithRoom(room);
    q.fillNewData(w, [], 0, { rememberSmall: () => undefined });
    q.packetLeft();
    // `b` started (it has its OutgoingMessage) but waits, whole, for the next packet: none of it is out.
    expect(q.message(b)?.nextChunk).toBe(0);
    expect(q.firstUnsentId()).toBe(b);
    fill(q, room);
    expect(q.firstUnsentId()).toBe(c + 1);
  });

  it('a message with one fragment out is sent; the ones behind it are not', () => {
    const { q } = queue();
    const [large, next] = [q.push(bytes(1_000)), q.push(bytes(10))];
    fill(q);
    expect(sent(q, large).nextChunk).toBe(1);
    expect(q.firstUnsentId()).toBe(next);
  });

  it('a message written into a packet that never left (a plug-in threw sealing it) has not left; once a packet does, its messages have', () => {
    // Messages of 1,000 bytes go whole: one a packet.
    const q = new SendQueue(new FlowControl(1 << 20, 1 << 20), room, 1_000);
    const [first, second, third] = [q.push(bytes(1_000, 1)), q.push(bytes(1_000, 2)), q.push(bytes(1_000, 3))];
    fill(q, room);
    expect(sent(q, first).nextChunk).toBe(1);
    expect(q.firstUnsentId()).toBe(second);
    // Written: while it is being written (a plug-in's callback asking, the packet then leaving) it counts as sent.
    q.fillNewData(writerWithRoom(room), [], 0, { rememberSmall: () => undefined });
    expect(sent(q, second).nextChunk).toBe(1);
    expect(q.firstUnsentId()).toBe(third);
    // Then lost (its sealing threw): it never left.
    q.packetLost();
    expect(q.firstUnsentId()).toBe(second);
    // Another queue's packet lost meanwhile says nothing of this one's.
    new SendQueue(new FlowControl(1 << 20, 1 << 20), room, 1_000).packetLost();
    expect(q.firstUnsentId()).toBe(second);
  });

  it('messages held back by the peer\'s window have not left', () => {
    const { q } = queue(creditOf(50) + creditOf(20));
    const ids = [q.push(bytes(50)), q.push(bytes(20)), q.push(bytes(30)), q.push(bytes(1))];
    sendAll(q);
    expect(q.firstUnsentId()).toBe(ids[2]);
  });
});
