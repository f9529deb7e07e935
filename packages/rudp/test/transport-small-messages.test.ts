/**
 * Many small messages at once. A window counted in bytes alone let them
 * past what the receiver holds (message ids tracked ahead of the first
 * missing one, and heap per held message); the receiver refused the rest,
 * yet acknowledged their packets, and they were lost for good (150,000
 * one-byte messages through 5% loss: 95,245 delivered, then nothing). Each
 * message now takes `MESSAGE_CREDIT` of the window beyond its bytes, and a
 * sender keeps ids within `MAX_MESSAGES_AHEAD` of its oldest one not yet
 * acknowledged (flow-control.ts).
 */
import { describe, expect, it } from 'vitest';
import { MESSAGE_CREDIT, creditOf } from '../src/core/credit.js';
import { CLIENT, SERVER, ackedOf, makePair, messagesOf } from './helpers/pair.js';

describe('many small messages', () => {
  it('150,000 one-byte messages sent at once through 5% loss all arrive, in order', () => {
    const n = 150_000;
    const p = makePair({ seed: 3, link: { delayMs: 35, loss: 0.05 } });
    p.sim.runFor(200);
    for (let i = 0; i < n; i++) p.conn.send(Uint8Array.of(i & 0xff));
    for (let t = 0; t < 120 && messagesOf(p.serverEvents).length < n; t++) p.sim.runFor(1_000);
    const got = messagesOf(p.serverEvents);
    expect(got).toHaveLength(n);
    expect(got.every((m, i) => m.length === 1 && m[0] === (i & 0xff))).toBe(true);
    expect(p.conn.state).toBe('established');
  });

  it('a receiver that does not read holds as many empty messages as its window takes at MESSAGE_CREDIT each, then takes the rest', () => {
    let reading = false;
    const window = 100 * MESSAGE_CREDIT;
    const p = makePair({ server: { receiveWindow: window }, serverReads: () => reading });
    for (let i = 0; i < 1_000; i++) p.conn.send(new Uint8Array(0));
    p.sim.wake(CLIENT);
    p.sim.runFor(10_000);
    // Before, a window of bytes held all 1,000 (and 65,536 of them in any window).
    expect(ackedOf(p.clientEvents)).toHaveLength(window / creditOf(0));
    reading = true;
    p.sim.wake(SERVER);
    p.sim.runFor(10_000);
    expect(messagesOf(p.serverEvents)).toHaveLength(1_000);
  });
});
