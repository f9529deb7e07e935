/**
 * The handshake on a lossy path (handshake.ts): every INITIAL, RETRY and
 * ACCEPT leaves with a copy, so a leg is lost only when both are. Each test
 * fails without the copies (checked by setting HANDSHAKE_COPIES to 0).
 */
import { describe, expect, it } from 'vitest';
import { PacketType, parseHeader } from '../src/wire/packet.js';
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

describe('the server forgets the handshake once the client proves it has the keys', () => {
  it('a replayed INITIAL with its cookie, after the first authenticated packet, draws no ACCEPT (the server hello is gone)', () => {
    const p = makePair({ link: { delayMs: 35 } });
    const parsed = (d: Uint8Array) => parseHeader(d);
    // Record every INITIAL the client sends; the last one carries the cookie.
    const initials: Uint8Array[] = [];
    const poll = p.client.pollTransmit.bind(p.client);
    p.client.pollTransmit = (now) => {
      const t = poll(now);
      const h = t === undefined ? undefined : parsed(t.data);
      if (t !== undefined && typeof h === 'object' && h.type === PacketType.Initial) initials.push(t.data.slice());
      return t;
    };
    let accepts = 0;
    const serverPoll = p.server.pollTransmit.bind(p.server);
    p.server.pollTransmit = (now) => {
      const t = serverPoll(now);
      const h = t === undefined ? undefined : parsed(t.data);
      if (typeof h === 'object' && h.type === PacketType.Accept) accepts++;
      return t;
    };
    p.sim.runFor(500);
    expect(firstOf(p.clientEvents, 'connected')).toBeDefined();
    // The client's first authenticated packet (until then a repeated INITIAL is answered: a lost ACCEPT's recovery).
    p.conn.send(new Uint8Array([1, 2, 3]));
    p.sim.wake(CLIENT);
    p.sim.runFor(500);
    const before = accepts;
    const withCookie = initials.at(-1);
    expect(withCookie).toBeDefined();
    p.server.handleDatagram(p.sim.now, withCookie ?? new Uint8Array(0), CLIENT);
    p.sim.wake(SERVER);
    p.sim.runFor(500);
    expect(accepts).toBe(before);
  });
});
