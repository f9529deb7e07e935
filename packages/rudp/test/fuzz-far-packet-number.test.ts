/**
 * Regression case found while fuzzing: one well-checksummed DATA packet from
 * the peer's own address (e.g. spoofed by an attacker who learnt the
 * connection id, or a corrupted packet that happens to pass CRC-32C) carrying
 * a packet number far beyond the peer's real ones. It must not stop the
 * connection from acknowledging and carrying later messages.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import { writePing } from '../src/wire/frame.js';
import { PacketType, PacketWriter } from '../src/wire/packet.js';
import { CLIENT, SERVER, makePair, messagesOf } from './helpers/pair.js';

describe('a packet number far ahead of the peer', () => {
  // pn 1 (already seen) is the control: the same run with a harmless duplicate.
  for (const pn of [1, 0xffff_ffff, 0x8000_0000, 100_000]) {
    it(`pn ${pn}: later messages from the client are still acknowledged and delivered`, () => {
      const p = makePair({ seed: 7, link: { delayMs: 5 } });
      p.sim.runUntil(100);
      const live = p.serverConn() as Connection;
      expect(p.conn.state).toBe('established');
      p.conn.send(new Uint8Array(10));
      p.sim.wake(CLIENT);
      p.sim.runUntil(150);
      expect(messagesOf(p.serverEvents)).toHaveLength(1);

      p.sim.schedule(200, (now) => {
        const w = new PacketWriter(new Uint8Array(64), PacketType.Data, live.localCid, pn);
        writePing(w);
        p.server.handleDatagram(now, w.finish(), CLIENT);
        p.sim.wake(SERVER);
      });
      p.sim.runUntil(300);

      const count = 400;
      const body = new Uint8Array(1000);
      let acked = 0;
      p.onClientEvent = (e) => {
        if (e.type === 'acked') acked += e.count;
      };
      for (let i = 0; i < count; i++) p.conn.send(body);
      p.sim.wake(CLIENT);
      p.sim.runFor(10_000);
      expect(messagesOf(p.serverEvents)).toHaveLength(count + 1);
      expect(acked).toBe(count);
    });
  }
});
