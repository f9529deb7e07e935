/**
 * The handshake on a lossy path (handshake.ts): every INITIAL, RETRY and
 * ACCEPT leaves with a copy, so a leg is lost only when both are. Each test
 * fails without the copies (checked by setting HANDSHAKE_COPIES to 0).
 */
import { describe, expect, it } from 'vitest';
import { CLIENT, SERVER, firstOf, makePair } from './helpers/pair.js';

describe('handshake under loss (simulated)', () => {
  it('at 20% loss each way, 200 seeded connects complete within 8 RTTs at p99 (without copies: 2.5 s, 36 RTTs)', () => {
    const connectedAt: number[] = [];
    for (let seed = 1; seed <= 200; seed++) {
      const p = makePair({ seed, link: { delayMs: 35, jitterMs: 5, loss: 0.2 }, client: { plaintext: true }, server: { plaintext: true } });
      p.sim.runFor(5_000);
      connectedAt.push(firstOf(p.clientEvents, 'connected')?.at ?? Number.POSITIVE_INFINITY);
    }
    connectedAt.sort((a, b) => a - b);
    // Two round trips at best (140 ms). Each leg is lost with p² = 4%: a p99 connect recovers one or
    // two lost legs (~140-250 ms each); with p = 20% per leg it took 1.3-2.5 s.
    expect(connectedAt[197]).toBeLessThan(8 * 70);
    expect(connectedAt[99]).toBeLessThan(150);
  });

  it('a lost ACCEPT is replaced by its copy 3 ms later, not by a resent INITIAL two round trips later', () => {
    const p = makePair({ link: { delayMs: 35 }, client: { plaintext: true }, server: { plaintext: true } });
    // The INITIAL with the cookie arrives at 105 ms and the ACCEPT leaves at once: lose it (not its copy).
    p.sim.schedule(104.5, () => p.sim.setLink(SERVER, CLIENT, { delayMs: 35, loss: 1 }));
    p.sim.schedule(105.5, () => p.sim.setLink(SERVER, CLIENT, { delayMs: 35 }));
    p.sim.runFor(1_000);
    expect(firstOf(p.clientEvents, 'connected')?.at).toBeCloseTo(143, 0);
  });

  it('a lost RETRY is replaced by its copy: the INITIAL is not resent on the blind 250 ms timer', () => {
    const p = makePair({ link: { delayMs: 35 }, client: { plaintext: true }, server: { plaintext: true } });
    // The first INITIAL arrives at 35 ms; its RETRY and the RETRY's copy leave at once: lose the first.
    let retries = 0;
    const poll = p.server.pollTransmit.bind(p.server);
    p.server.pollTransmit = (now) => {
      const t = poll(now);
      if (t !== undefined && t.data.length < 100 && retries++ === 0) return poll(now);
      return t;
    };
    p.sim.runFor(1_000);
    expect(firstOf(p.clientEvents, 'connected')?.at).toBeCloseTo(140, 0);
    void CLIENT;
  });
});
