/**
 * `EndpointConfig.copyMessage`: a small message that arrives among others in
 * one datagram is copied out of it (a view would pin the datagram) by the
 * driver's copier, so a driver that hands messages on as a type of its own
 * (the Node adapter: Buffers) copies once, not twice. A message that fills
 * its datagram stays a view and is never copied.
 */
import { describe, expect, it } from 'vitest';
import { CLIENT, makePair, messagesOf } from './helpers/pair.js';

describe('copyMessage', () => {
  it('copies small messages packed into one datagram with the given copier, and nothing else', () => {
    const made = new WeakSet<Uint8Array>();
    let calls = 0;
    const copyMessage = (bytes: Uint8Array): Uint8Array => {
      calls++;
      const copy = new Uint8Array(bytes);
      made.add(copy);
      return copy;
    };
    const p = makePair({ link: { delayMs: 10 }, server: { copyMessage } });
    p.sim.runFor(200);
    // Sent in one tick: 20 messages of 40 bytes share a datagram or two.
    const small = Array.from({ length: 20 }, (_, i) => new Uint8Array(40).fill(i + 1));
    for (const m of small) p.conn.send(m);
    p.sim.wake(CLIENT);
    p.sim.runFor(500);
    const got = messagesOf(p.serverEvents);
    expect(got).toEqual(small);
    expect(got.every((m) => made.has(m))).toBe(true);
    expect(calls).toBe(20);

    // One message filling its datagram: handed over as a view, never copied.
    p.conn.send(new Uint8Array(1100).fill(9));
    p.sim.wake(CLIENT);
    p.sim.runFor(500);
    const big = messagesOf(p.serverEvents).at(-1);
    expect(big).toEqual(new Uint8Array(1100).fill(9));
    expect(calls).toBe(20);
  });

  it('is refused when it is not a function', () => {
    expect(() => makePair({ server: { copyMessage: 7 as unknown as (b: Uint8Array) => Uint8Array } })).toThrow(/'copyMessage' must be a function/);
  });
});
