/**
 * The loss estimate at the start of a connection: the sender counts its
 * first outcomes against a prior of ten clean packets, so one loss among the
 * first few packets reads as about 10 % and every following packet of new
 * data carries a repair. An average that started from zero read it as 2 %
 * and repaired only a share of the packets (bench chat at 10 % loss: a sixth
 * of the messages later than p99 were in the first second).
 */
import { describe, expect, it } from 'vitest';
import { parseFrames } from '../src/wire/frame.js';
import { CLIENT, makePair } from './helpers/pair.js';
import { tapDataPackets } from './helpers/tap.js';

describe('repairs from the first loss of a clean connection', () => {
  it('one packet lost among the first five: the next eight packets of new data each carry a repair', () => {
    const p = makePair({ client: { plaintext: true }, server: { plaintext: true }, link: { delayMs: 35 } });
    const repaired: boolean[] = [];
    tapDataPackets(p.client, (h) => {
      const frames = parseFrames(h.payload) ?? [];
      if (frames.some((f) => f.type === 'fragment')) repaired.push(frames.some((f) => f.type === 'repair'));
    });
    const poll = p.client.pollTransmit.bind(p.client);
    let dataPackets = 0;
    p.client.pollTransmit = (now) => {
      const t = poll(now);
      if (t !== undefined && repaired.length > dataPackets) {
        dataPackets = repaired.length;
        // The fifth packet of messages goes to an address nobody holds: lost.
        if (dataPackets === 5) return { to: '10.9.9.9:9', data: t.data };
      }
      return t;
    };
    p.sim.runFor(500);
    let knownAt = -1;
    for (let i = 0; i < 40; i++) {
      p.sim.schedule(p.sim.now + i * 20, () => {
        if (knownAt < 0 && p.conn.stats().packetsLost > 0) knownAt = repaired.length;
        p.conn.send(new Uint8Array(64).fill(i));
        p.sim.wake(CLIENT);
      });
    }
    p.sim.runFor(40 * 20 + 1_000);
    expect(p.conn.stats().packetsLost).toBe(1);
    expect(knownAt).toBeGreaterThan(5);
    expect(repaired.slice(0, 4)).toEqual([false, false, false, false]);
    expect(repaired.slice(knownAt, knownAt + 8)).toEqual(Array.from({ length: 8 }, () => true));
  });
});
