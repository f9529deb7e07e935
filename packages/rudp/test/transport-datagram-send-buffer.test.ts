/**
 * The sender's datagram buffer: an application that sends unreliable
 * messages faster than the path carries them holds bounded memory, the
 * oldest waiting datagrams give way to newer ones (counted in
 * `stats().datagramsDiscarded`), and the ones that leave still arrive in
 * the order they were sent, the newest among them.
 */
import { describe, expect, it } from 'vitest';
import { MESSAGE_CREDIT } from '../src/core/credit.js';
import { CLIENT, makePair } from './helpers/pair.js';

/** A datagram that carries its index: [index u32][filler]. */
function indexed(i: number, length: number): Uint8Array {
  const b = new Uint8Array(length);
  new DataView(b.buffer).setUint32(0, i);
  return b;
}

describe('datagram send buffer', () => {
  it('a burst far larger than the buffer: the oldest are discarded, the rest arrive in order, ending with the newest', () => {
    const budget = 64 * 1024;
    const size = 200;
    const count = 20_000; // 9 MiB of credit, sent at once over a 1 Mbit/s path
    const p = makePair({ link: { delayMs: 20, bandwidthBps: 1_000_000, queueBytes: 64 * 1024 }, client: { datagramSendBuffer: budget } });
    p.sim.runFor(500);
    expect(p.conn.state).toBe('established');
    for (let i = 0; i < count; i++) p.conn.send(indexed(i, size), { reliable: false });
    p.sim.wake(CLIENT);
    // What waits is bounded by the budget from the first burst on.
    const waiting = (p.conn as unknown as { sendQueue: { datagrams: { credit: number } } }).sendQueue.datagrams;
    expect(waiting.credit).toBeLessThanOrEqual(budget);
    p.sim.runFor(10_000);
    const arrived = p.serverEvents.flatMap((r) => (r.event.type === 'message' ? [new DataView(r.event.data.buffer, r.event.data.byteOffset).getUint32(0)] : []));
    const stats = p.conn.stats();
    expect(stats.datagramsSent).toBe(count);
    expect(stats.datagramsDiscarded).toBeGreaterThan(count - Math.ceil(budget / (size + MESSAGE_CREDIT)) - 100);
    expect(arrived.length).toBeGreaterThan(0);
    // Nothing reorders on this FIFO path: what arrives is increasing, and the newest left (no loss configured).
    expect(arrived.every((v, i) => i === 0 || v > (arrived[i - 1] as number))).toBe(true);
    expect(arrived[arrived.length - 1]).toBe(count - 1);
    expect(arrived.length + stats.datagramsDiscarded).toBe(count);
  });

  it('a sender within the path rate discards nothing', () => {
    const p = makePair({ link: { delayMs: 20, bandwidthBps: 1_000_000, queueBytes: 64 * 1024 }, client: { datagramSendBuffer: 16 * 1024 } });
    p.sim.runFor(500);
    for (let i = 0; i < 200; i++) {
      p.sim.schedule(500 + i * 10, () => {
        p.conn.send(indexed(i, 200), { reliable: false });
        p.sim.wake(CLIENT);
      });
    }
    p.sim.runFor(5_000);
    expect(p.conn.stats().datagramsDiscarded).toBe(0);
    expect(p.serverEvents.filter((r) => r.event.type === 'message')).toHaveLength(200);
  });
});
