/**
 * The resend queue's bookkeeping (core/send/queue-tally.ts) under the
 * conditions that fill it: thousands of messages queued at once, outages
 * one way and both ways, reordering, loss, and a path that starts dropping
 * large datagrams mid-transfer (chunks cut for 1,472 bytes resent in
 * pieces). After every datagram the client builds, what the tally answers is
 * checked against a walk of the queue, and every chunk a packet resends is
 * checked to be unacknowledged; every message must arrive, in order per
 * channel. Differential check when this was written (5906f63 against the
 * walking queue before it, seeds 1-12): every figure of the fingerprint
 * (datagrams, bytes, resends, per-message arrival times) identical.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import type { ChunkRef } from '../src/core/send/outgoing-message.js';
import type { RetransmitQueue } from '../src/core/send/retransmit-queue.js';
import { LONG_QUEUE } from '../src/core/send/queue-tally.js';
import type { LinkConfig } from '../src/testing/impairment.js';
import { CLIENT, SERVER, makePair } from './helpers/pair.js';
import { expectIs } from './helpers/cheap-expect.js';

/** The queue's private state, read here for checks only. */
interface QueueInternals {
  readonly queue: readonly ChunkRef[];
  readonly tally: { readonly resends: number; readonly tails: number; readonly size: number } | undefined;
}

function retransmitsOf(c: Connection): RetransmitQueue {
  return (c as unknown as { readonly retransmits: RetransmitQueue }).retransmits;
}

/** Message `i`: its length from the seed, its bytes naming it. */
function payload(i: number, length: number): Uint8Array {
  const b = new Uint8Array(length);
  for (let k = 0; k < length; k++) b[k] = (i * 131 + k * 7) & 0xff;
  if (length >= 4) new DataView(b.buffer).setUint32(0, i);
  return b;
}

interface Fingerprint {
  readonly deliveredAt: number;
  readonly packetsSent: number;
  readonly bytesSent: number;
  readonly packetsRetransmitted: number;
  readonly packetsLost: number;
  readonly resentChunks: number;
  readonly mtuBlackHoles: number;
  readonly checks: number;
  readonly longest: number;
  readonly pieces: number;
  readonly digest: number;
}

const BASE: LinkConfig = { delayMs: 20, jitterMs: 6, jitterMode: 'independent', reorder: 0.05, reorderDelayMs: 30, loss: 0.03, bandwidthBps: 20_000_000, queueBytes: 256 * 1024 };

function run(seed: number): Fingerprint {
  const v = seed % 4;
  const client = { idleTimeoutMs: 60_000, redundantCopies: v, redundantSpacingMs: v === 3 ? 40 : 3 };
  const p = makePair({ seed, link: BASE, client, server: { idleTimeoutMs: 60_000, receiveWindow: 8 * 1024 * 1024 } });
  const conn = p.conn;
  const rq = retransmitsOf(conn);
  const internals = rq as unknown as QueueInternals;
  let checks = 0;
  let resentChunks = 0;
  let longest = 0;
  let pieces = 0;
  // Every chunk a fill writes must be unacknowledged when written.
  const fill = rq.fill.bind(rq);
  rq.fill = (now, w, chunks, newDataFollows) => {
    const from = chunks.length;
    const any = fill(now, w, chunks, newDataFollows);
    for (let i = from; i < chunks.length; i++) {
      const c = chunks[i] as ChunkRef;
      expectIs(c.message.isAcked(c.index, c.piece), false, () => `seed ${seed}: resent an acknowledged chunk at ${now}`);
      resentChunks++;
    }
    return any;
  };
  // After every datagram: the tally's answers are those of a walk of the queue.
  const poll = conn.pollTransmit.bind(conn);
  conn.pollTransmit = (now, scratch) => {
    const d = poll(now, scratch);
    const q = internals.queue;
    const t = internals.tally;
    checks++;
    longest = Math.max(longest, q.length);
    if (q.some((r) => r.piece !== undefined)) pieces++;
    expectIs(t === undefined, q.length === 0, () => `seed ${seed} at ${now}: tally held iff entries`);
    if (t !== undefined) {
      expectIs(t.size, q.length);
      expectIs(t.tails, q.filter((r) => r.tail === true).length);
      expectIs(t.resends, q.filter((r) => r.tail !== true).length);
    }
    expectIs(rq.earliest(), q.reduce((m, r) => Math.min(m, r.notBefore), Number.POSITIVE_INFINITY), () => `seed ${seed} at ${now}: earliest`);
    expectIs(rq.hasResends(), q.some((r) => r.tail !== true));
    return d;
  };

  p.sim.runFor(500);
  const start = p.sim.now;
  // 4,000 small messages on three channels and 40 bulk ones of 4-40 KiB, written at once.
  const sent: { channel: number; i: number; length: number }[] = [];
  let x = seed * 7919;
  const next = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
  for (let i = 0; i < 4_040; i++) {
    const bulk = i % 101 === 50;
    const length = bulk ? 4_096 + next(36 * 1024) : 4 + next(200);
    const channel = bulk ? 0 : next(3);
    sent.push({ channel, i, length });
    conn.send(payload(i, length), { channel });
  }
  p.sim.wake(CLIENT);
  const got = new Map<number, number[]>();
  let count = 0;
  let deliveredAt = Number.NaN;
  let digest = 0;
  p.onServerEvent = (e, now) => {
    if (e.type !== 'message') return;
    const i = new DataView(e.data.buffer, e.data.byteOffset).getUint32(0);
    const want = sent[i];
    if (want === undefined) expect(want, `seed ${seed}: message ${i}`).toBeDefined();
    expectIs(Buffer.compare(e.data, payload(i, want?.length ?? 0)), 0);
    const list = got.get(e.channel) ?? [];
    list.push(i);
    got.set(e.channel, list);
    digest = (Math.imul(digest, 31) + i + Math.round(now * 1000)) >>> 0;
    if (++count === sent.length) deliveredAt = now - start;
  };
  // Outages: client→server 1.5 s, then both ways 0.8 s; the path black-holes large datagrams from 3 s.
  const link = (from: string, to: string, c: LinkConfig): void => p.sim.setLink(from, to, c);
  p.sim.schedule(start + 300, () => link(CLIENT, SERVER, { ...BASE, loss: 1 }));
  p.sim.schedule(start + 1_800, () => link(CLIENT, SERVER, BASE));
  p.sim.schedule(start + 2_200, () => {
    link(CLIENT, SERVER, { ...BASE, loss: 1 });
    link(SERVER, CLIENT, { ...BASE, loss: 1 });
  });
  p.sim.schedule(start + 3_000, () => {
    link(CLIENT, SERVER, { ...BASE, mtu: 1_300 });
    link(SERVER, CLIENT, BASE);
  });
  // A second wave of small messages during the recovery.
  p.sim.schedule(start + 3_100, () => {
    for (let i = sent.length; i < 6_000; i++) {
      const length = 4 + next(120);
      const channel = next(3);
      sent.push({ channel, i, length });
      conn.send(payload(i, length), { channel });
    }
    p.sim.wake(CLIENT);
  });
  while (Number.isNaN(deliveredAt) && p.sim.now < start + 120_000) p.sim.runFor(100);
  expect(count, `seed ${seed}: delivered`).toBe(sent.length);
  for (const [channel, ids] of got) {
    const want = sent.filter((m) => m.channel === channel).map((m) => m.i);
    expect(ids, `seed ${seed}: channel ${channel} order`).toEqual(want);
  }
  const s = conn.stats();
  return { deliveredAt, packetsSent: s.packetsSent, bytesSent: s.bytesSent, packetsRetransmitted: s.packetsRetransmitted, packetsLost: s.packetsLost, resentChunks, mtuBlackHoles: s.mtuBlackHoles, checks, longest, pieces, digest };
}

describe('the resend queue through outages, reordering and a falling path MTU (simulated)', () => {
  it.each([1, 2, 3, 4])('seed %i: every message arrives, nothing acknowledged is resent, the tally agrees with the queue after every datagram', (seed) => {
    const f = run(seed);
    // The conditions reached: a long queue (the tally keeps times and sizes) and chunks resent in pieces.
    expect(f.longest).toBeGreaterThan(10 * LONG_QUEUE);
    expect(f.pieces).toBeGreaterThan(0);
    expect(f.mtuBlackHoles).toBeGreaterThan(0);
    expect(f.resentChunks).toBeGreaterThan(1_000);
  });
});
