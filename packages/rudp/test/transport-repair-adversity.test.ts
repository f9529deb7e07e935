/**
 * The repair path under adversity: chat-like traffic (one small message of
 * random length every 20 ms, both ways) is where nearly every packet carries
 * a REPAIR and lost messages are rebuilt rather than resent. With loss,
 * duplication, reordering, corruption and truncation, every message must
 * still arrive whole, once and in order, and repairs must actually do work.
 */
import { describe, expect, it } from 'vitest';
import { expectSameByteLists } from '../../../test-support/same-bytes.js';
import { createRandom, randomInt } from '../src/testing/prng.js';
import type { LinkConfig } from '../src/testing/impairment.js';
import { CLIENT, SERVER, makePair } from './helpers/pair.js';
import { countDataPackets } from './helpers/tap.js';

/** Message `i` of a side: its index and a byte pattern of a length chosen by `rng`, so a wrong or mixed-up message shows. */
function message(side: number, i: number, length: number): Uint8Array {
  const b = new Uint8Array(Math.max(4, length));
  new DataView(b.buffer).setUint32(0, i);
  for (let k = 4; k < b.length; k++) b[k] = (i * 31 + k * 7 + side) & 0xff;
  return b;
}

const LINK: LinkConfig = { delayMs: 35, jitterMs: 5, loss: 0.2, duplicate: 0.05, reorder: 0.05, reorderDelayMs: 10, corrupt: 0.01, truncate: 0.005 };
const COUNT = 1_500;

describe('repairs under adversity (chat-like, both ways)', () => {
  for (const seed of [11, 12, 13, 14]) {
    it(`seed ${seed}: 20% loss, duplication, reordering, corruption, truncation — ${COUNT} messages each way of 0–255 bytes arrive whole, once, in order`, () => {
      const p = makePair({ client: { plaintext: true }, server: { plaintext: true }, seed, link: LINK });
      const rng = createRandom(seed);
      const lengths = Array.from({ length: COUNT }, () => randomInt(rng, 0, 256));
      const got: Uint8Array[][] = [[], []];
      p.onServerEvent = (e) => {
        if (e.type === 'message') (got[0] as Uint8Array[]).push(e.data);
      };
      p.onClientEvent = (e) => {
        if (e.type === 'message') (got[1] as Uint8Array[]).push(e.data);
      };
      const repairs = countDataPackets(p.client, 'repair');
      // The server answers from the tick its side of the connection exists (the handshake may take
      // a few round trips at this loss).
      const serverSent: Uint8Array[] = [];
      p.sim.runFor(1_000);
      for (let i = 0; i < COUNT; i++) {
        p.sim.schedule(p.sim.now + i * 20, () => {
          p.conn.send(message(0, i, lengths[i] as number));
          const s = p.serverConn();
          if (s) {
            const m = message(1, serverSent.length, lengths[COUNT - 1 - i] as number);
            serverSent.push(m);
            s.send(m);
          }
          p.sim.wake(CLIENT);
          p.sim.wake(SERVER);
        });
      }
      p.sim.runFor(COUNT * 20 + 30_000);
      expectSameByteLists(got[0] as Uint8Array[], lengths.map((n, i) => message(0, i, n)), "the client's messages");
      expect(serverSent.length).toBeGreaterThan(COUNT / 2);
      expectSameByteLists(got[1] as Uint8Array[], serverSent, "the server's messages");
      // Most packets carried a repair, and repairs rebuilt most of what the lost packets carried.
      expect(repairs.with).toBeGreaterThan(0.8 * repairs.data);
      expect(p.conn.stats().repairsSent).toBe(repairs.with);
      const server = p.serverConn()?.stats();
      // Recovered ÷ lost, seeds 11-14: 0.55, 0.52, 0.53, 0.61 until the client answered its ACCEPT at once
      // (the server's first RTT sample true, the runs' timing shifted), 0.59, 0.49, 0.60, 0.60 since: the
      // same half and more, a seed's share moving by some 0.05 with the timing.
      expect(server?.messagesRecovered).toBeGreaterThan(0.45 * p.conn.stats().packetsLost);
    });
  }
});
