/**
 * The resend queue's bookkeeping (queue-tally.ts: counts, earliest time,
 * frame sizes; the prune skipped while nothing was acknowledged; the fill
 * that stops once nothing more fits) checked against a naive model that
 * walks every entry for every question, as the queue did before: random
 * sequences of losses, probes, tail copies, acknowledgements, new data,
 * repair packets coming and going, a datagram size that falls, and packets
 * built as the connection builds them (prune, fill, then the questions asked
 * of the packet sent). Both must answer every question alike and write the
 * same bytes. Then what the queue looks at: a full packet or a poll with
 * nothing acknowledged does not visit the whole queue.
 */
import { describe, expect, it } from 'vitest';
import { expectEqual, expectIs } from '../helpers/cheap-expect.js';
import type { SentPacket } from '../../src/core/recovery/sent-packet.js';
import { type ChunkRef, OutgoingMessage, chunkWireSize, writeChunk } from '../../src/core/send/outgoing-message.js';
import { type RetransmitConfig, RetransmitQueue } from '../../src/core/send/retransmit-queue.js';
import { createRandom, randomChance, randomInt } from '../../src/testing/prng.js';
import type { RandomSource } from '../../src/core/sans-io.js';
import { channelFrameSize, fragmentHeaderBound } from '../../src/wire/frame.js';
import { HEADER_SIZE } from '../../src/wire/packet.js';
import { writerWithRoom } from './fixtures.js';

const CHUNK = 50;
const UNLIMITED_ROOM = 2 ** 30;

/** The queue as it was: one array, every question a walk of it. */
class NaiveQueue {
  queue: ChunkRef[] = [];
  lastNewDataAt = Number.NEGATIVE_INFINITY;
  packetRoom = UNLIMITED_ROOM;

  constructor(
    private readonly config: RetransmitConfig,
    private readonly packets: { inFlight(pn: number): boolean },
  ) {}

  hasResends(): boolean {
    return this.queue.some((r) => r.tail !== true);
  }

  waitingFor(now: number, c: ChunkRef): 'resend' | 'copy' | undefined {
    let found: 'copy' | undefined;
    for (const r of this.queue) {
      if (r.tail === true || r.message !== c.message || r.index !== c.index || r.piece !== c.piece) continue;
      if (r.notBefore <= now) return 'resend';
      found = 'copy';
    }
    return found;
  }

  requeueLost(now: number, p: SentPacket, holdForRepairs: boolean, copies: number, bursty: boolean): void {
    const spacing = bursty ? Math.max(this.config.redundantSpacingMs, 15) : this.config.redundantSpacingMs;
    for (const c of p.chunks) {
      if (c.message.isAcked(c.index, c.piece) || c.redundant === true) continue;
      const waiting = c.message.chunkCount === 1 ? this.waitingFor(now, c) : undefined;
      if (waiting === 'resend') continue;
      const afterRepairs = holdForRepairs && c.message.lastRepairPn > p.pn;
      this.queue.push({ message: c.message, index: c.index, piece: c.piece, notBefore: 0, afterRepairs });
      if (c.message.chunkCount !== 1 || waiting === 'copy') continue;
      for (let k = 1; k <= copies; k++) this.queue.push({ message: c.message, index: c.index, notBefore: now + k * spacing, afterRepairs });
    }
  }

  queueProbe(now: number, inFlight: Iterable<SentPacket>): boolean {
    for (const p of inFlight) {
      const live = p.chunks.filter((c) => !c.message.isAcked(c.index, c.piece));
      if (live.length > 0) {
        for (const c of live) this.queue.unshift({ message: c.message, index: c.index, piece: c.piece, notBefore: now });
        return true;
      }
    }
    return false;
  }

  queueTailCopy(m: OutgoingMessage, notBefore: number): void {
    this.queue.push({ message: m, index: 0, notBefore, tail: true });
  }

  hasReady(now: number): boolean {
    return this.queue.some((r) => this.stillWanted(r) && this.ready(now, r));
  }

  pruneAndCheckReady(now: number): boolean {
    this.queue = this.queue.filter((r) => this.stillWanted(r));
    return this.queue.some((r) => this.ready(now, r));
  }

  fill(now: number, w: ReturnType<typeof writerWithRoom>, chunks: ChunkRef[], newDataFollows: boolean): boolean {
    let any = false;
    const keep: ChunkRef[] = [];
    for (let i = 0; i < this.queue.length; i++) {
      const c = this.queue[i] as ChunkRef;
      if (!this.stillWanted(c) || (c.tail === true && newDataFollows)) continue;
      if (c.piece === undefined && chunkWireSize(c.message, c.index) > this.packetRoom) {
        this.queue.splice(i + 1, 0, ...this.pieces(c));
        continue;
      }
      const carried = chunks.some((x) => x.message === c.message && x.index === c.index && x.piece === c.piece);
      if (!this.ready(now, c) || carried || !writeChunk(w, c.message, c.index, c.piece)) {
        keep.push(c);
        continue;
      }
      chunks.push(c);
      any = true;
    }
    this.queue = keep;
    return any;
  }

  earliest(): number {
    return Math.min(...this.queue.map((r) => r.notBefore));
  }

  private pieces(c: ChunkRef): ChunkRef[] {
    const m = c.message;
    if (m.pieceSize === 0) {
      const annotation = m.delivery === undefined ? 0 : channelFrameSize(m.delivery);
      m.pieceSize = this.packetRoom - annotation - fragmentHeaderBound(m.id, m.data.length, this.packetRoom);
    }
    const out: ChunkRef[] = [];
    for (let k = 0; k < m.pieceCount(c.index); k++) if (!m.isAcked(c.index, k)) out.push({ ...c, piece: k });
    return out;
  }

  private ready(now: number, c: ChunkRef): boolean {
    return c.notBefore <= now && (c.afterRepairs !== true || !this.packets.inFlight(c.message.lastRepairPn));
  }

  private stillWanted(c: ChunkRef): boolean {
    if (c.message.isAcked(c.index, c.piece)) return false;
    return c.tail !== true || this.lastNewDataAt <= c.message.firstSentAt;
  }
}

function packet(pn: number, chunks: readonly ChunkRef[]): SentPacket {
  return { pn, timeSent: 0, size: 100, chunks, retransmission: false, ackLargest: -1, carriedMaxData: false, carriedBlocked: false, delivered: 0, deliveredTime: 0, firstSentTime: 0, appLimited: false, leftQueueEmpty: false, pingOnly: false };
}

const pick = <T>(rng: RandomSource, items: readonly T[]): T => items[randomInt(rng, 0, items.length)] as T;

/** What a packet carried: chunk by chunk, and its payload bytes. */
const described = (chunks: readonly ChunkRef[]): string[] => chunks.map((c) => `${c.message.id}/${c.index}/${c.piece ?? '-'}/${c.notBefore}/${c.tail === true}`);

/** One random run of `steps` operations on both queues, checked after each. */
function runModel(seed: number, steps: number): void {
  const rng = createRandom(seed);
  const config = { redundantCopies: randomInt(rng, 0, 3), redundantSpacingMs: randomInt(rng, 0, 4) };
  const flying = new Set<number>();
  const inFlight = { inFlight: (pn: number): boolean => flying.has(pn) };
  const q = new RetransmitQueue(config, inFlight);
  const model = new NaiveQueue(config, inFlight);
  const messages: OutgoingMessage[] = [];
  const sent: ChunkRef[] = [];
  let now = 0;
  let pn = 1;
  const check = (what: string): void => {
    const at = `seed ${seed}, ${what}`;
    expectIs(q.length, model.queue.length, () => at);
    expectIs(q.earliest(), model.earliest(), () => at);
    expectIs(q.hasResends(), model.hasResends(), () => at);
    expectIs(q.hasReady(now), model.hasReady(now), () => at);
  };
  for (let step = 0; step < steps; step++) {
    const op = randomInt(rng, 0, 100);
    if (op < 12 || messages.length === 0) {
      // A message sent: small (one chunk, sometimes on a channel) or a few chunks of bulk data; ids cross a varint size.
      const id = messages.length === 0 ? randomInt(rng, 0, 80) : (messages[messages.length - 1] as OutgoingMessage).id + randomInt(rng, 1, 4);
      const length = randomChance(rng, 0.75) ? randomInt(rng, 0, 30) : randomInt(rng, 31, 4 * CHUNK);
      const m = new OutgoingMessage(id, new Uint8Array(length).fill(id & 0xff), 0, CHUNK, randomChance(rng, 0.2) ? { channel: 1, ordered: true, predecessorDelta: 1 } : undefined);
      m.firstSentAt = now;
      m.nextChunk = m.chunkCount;
      messages.push(m);
      for (let i = 0; i < m.chunkCount; i++) sent.push({ message: m, index: i, notBefore: 0 });
      if (randomChance(rng, 0.2)) m.lastRepairPn = pn + randomInt(rng, 0, 3);
    } else if (op < 40) {
      // A packet that carried a few chunks (some pieces once the size fell, some proactive copies) is lost.
      const chunks: ChunkRef[] = [];
      for (let k = randomInt(rng, 1, 6); k > 0; k--) {
        const c = pick(rng, sent);
        const piece = c.message.pieceSize > 0 && randomChance(rng, 0.3) ? randomInt(rng, 0, c.message.pieceCount(c.index)) : undefined;
        chunks.push({ ...c, piece, redundant: randomChance(rng, 0.1) ? true : undefined });
      }
      const p = packet(pn - randomInt(rng, 1, 4), chunks);
      const hold = randomChance(rng, 0.5);
      const copies = randomInt(rng, 0, 3);
      const bursty = randomChance(rng, 0.3);
      q.requeueLost(now, p, hold, copies, bursty);
      model.requeueLost(now, p, hold, copies, bursty);
    } else if (op < 45) {
      const inFlightPackets = [packet(pn, [pick(rng, sent), pick(rng, sent)]), packet(pn + 1, [pick(rng, sent)])];
      expectIs(q.queueProbe(now, inFlightPackets), model.queueProbe(now, inFlightPackets));
    } else if (op < 52) {
      const m = pick(rng, messages);
      if (m.chunkCount === 1) {
        const at = now + randomInt(rng, 0, 8);
        q.queueTailCopy(m, at);
        model.queueTailCopy(m, at);
      }
    } else if (op < 64) {
      // Acknowledgements: a chunk or one of its pieces; the connection tells the queue of every one.
      for (let k = randomInt(rng, 1, 4); k > 0; k--) {
        const c = pick(rng, sent);
        if (c.message.isAcked(c.index)) continue;
        if (c.message.pieceSize > 0 && randomChance(rng, 0.5)) c.message.ack(c.index, randomInt(rng, 0, c.message.pieceCount(c.index)));
        else c.message.ack(c.index);
      }
      q.noteAcked();
    } else if (op < 68) {
      now += randomInt(rng, 0, 3);
      q.noteNewData(now);
      model.lastNewDataAt = now;
    } else if (op < 72) {
      // Repair packets sent, acknowledged or lost.
      if (randomChance(rng, 0.6)) flying.add(pn - randomInt(rng, 0, 3));
      else flying.delete(pick(rng, [...flying, 0]));
    } else if (op < 74) {
      // The datagram size falls (a black hole) or comes back.
      const room = pick(rng, [UNLIMITED_ROOM, 1200, 60, 40, 30]);
      q.packetRoom = room;
      model.packetRoom = room;
    } else if (op < 82) {
      now += randomInt(rng, 0, 6);
    } else {
      // A packet built as the connection builds it: prune at `now`, fill, new data maybe, tail copies, then the questions.
      pn++;
      expectIs(q.pruneAndCheckReady(now), model.pruneAndCheckReady(now), () => `seed ${seed} step ${step}: prune`);
      const room = pick(rng, [0, 5, 12, 13, 14, 40, 60, 120, 400, 1200]);
      const w = writerWithRoom(room);
      const mw = writerWithRoom(room);
      const chunks: ChunkRef[] = [];
      const modelChunks: ChunkRef[] = [];
      const newDataFollows = randomChance(rng, 0.3);
      expectIs(q.fill(now, w, chunks, newDataFollows), model.fill(now, mw, modelChunks, newDataFollows), () => `seed ${seed} step ${step}: fill`);
      expectEqual(described(chunks), described(modelChunks), () => `seed ${seed} step ${step}: chunks`);
      expectEqual(w.buf.subarray(HEADER_SIZE, w.pos), mw.buf.subarray(HEADER_SIZE, mw.pos), () => `seed ${seed} step ${step}: bytes`);
      if (newDataFollows) {
        q.noteNewData(now);
        model.lastNewDataAt = now;
        const m = pick(rng, messages);
        if (m.chunkCount === 1 && randomChance(rng, 0.5)) {
          m.firstSentAt = now;
          q.queueTailCopy(m, now + 2);
          model.queueTailCopy(m, now + 2);
        }
      }
    }
    check(`step ${step} (op ${op})`);
  }
  // The last entries drain once everything is acknowledged.
  for (const c of sent) if (!c.message.isAcked(c.index)) c.message.ack(c.index);
  q.noteAcked();
  expect(q.pruneAndCheckReady(now)).toBe(false);
  expect(q.length).toBe(0);
  expect(q.earliest()).toBe(Number.POSITIVE_INFINITY);
  expect(q.hasResends()).toBe(false);
}

describe('RetransmitQueue against a model that walks the whole queue', () => {
  it('answers alike and writes the same packets through random losses, probes, tail copies, acknowledgements and packets', () => {
    for (let seed = 1; seed <= 60; seed++) runModel(seed, 400);
  });
});

/** A message that counts how often the queue asks whether a chunk of it was acknowledged (once per entry looked at). */
class CountedMessage extends OutgoingMessage {
  static looks = 0;
  override isAcked(i: number, piece?: number): boolean {
    CountedMessage.looks++;
    return super.isAcked(i, piece);
  }
}

describe('RetransmitQueue: what a packet looks at in a long queue', () => {
  /** A queue holding the resends of `n` lost 8-byte messages, one per lost packet. */
  function backlog(n: number): RetransmitQueue {
    const q = new RetransmitQueue({ redundantCopies: 0, redundantSpacingMs: 3 }, { inFlight: () => false });
    for (let i = 0; i < n; i++) {
      const m = new CountedMessage(100 + i, new Uint8Array(8), 0, CHUNK);
      m.nextChunk = 1;
      q.requeueLost(0, packet(i + 1, [{ message: m, index: 0, notBefore: 0 }]), false, 0, false);
    }
    return q;
  }

  it('a poll with nothing acknowledged since the last one does not look through the queue', () => {
    const q = backlog(5_000);
    expect(q.pruneAndCheckReady(0)).toBe(true);
    CountedMessage.looks = 0;
    expect(q.pruneAndCheckReady(0)).toBe(true);
    // The first entry is ready: one look, not one per entry (5,000 before).
    expect(CountedMessage.looks).toBeLessThan(10);
  });

  it('a packet that is full ends the walk: the entries after it stay without being looked at', () => {
    const q = backlog(5_000);
    q.pruneAndCheckReady(0);
    CountedMessage.looks = 0;
    const chunks: ChunkRef[] = [];
    expect(q.fill(0, writerWithRoom(1_200), chunks, false)).toBe(true);
    // About 100 messages of 12 bytes fill 1,200 bytes; the rest are not visited (5,000 looks before).
    expect(chunks.length).toBe(100);
    expect(CountedMessage.looks).toBeLessThan(chunks.length + 10);
    expect(q.length).toBe(4_900);
    // The queue's order is kept: the next packet goes on from where this one stopped.
    const next: ChunkRef[] = [];
    q.fill(0, writerWithRoom(1_200), next, false);
    expect(next[0]?.message.id).toBe(200);
  });

  it('a queue of spaced copies not due yet is not walked to find that nothing is ready', () => {
    const q = new RetransmitQueue({ redundantCopies: 1, redundantSpacingMs: 50 }, { inFlight: () => false });
    for (let i = 0; i < 5_000; i++) {
      const m = new CountedMessage(100 + i, new Uint8Array(8), 0, CHUNK);
      m.nextChunk = 1;
      q.requeueLost(0, packet(i + 1, [{ message: m, index: 0, notBefore: 0 }]), false, 1, false);
    }
    // The resends leave (50 packets of 100); the copies wait until 50.
    for (let k = 0; k < 50; k++) q.fill(0, writerWithRoom(1_200), [], false);
    expect(q.length).toBe(5_000);
    CountedMessage.looks = 0;
    expect(q.hasReady(10)).toBe(false);
    expect(q.pruneAndCheckReady(10)).toBe(false);
    expect(q.fill(10, writerWithRoom(1_200), [], false)).toBe(false);
    expect(q.earliest()).toBe(50);
    expect(CountedMessage.looks).toBe(0);
  });
});
