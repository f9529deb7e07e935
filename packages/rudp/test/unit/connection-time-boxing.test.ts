/**
 * Times are fractional milliseconds in the Node adapter (`performance.now()`). A `Connection` field V8
 * first saw as a small integer (a `= 0` initializer) turns, once any connection stores a fraction in it,
 * into a boxed number in every connection of the process (see flow-control-boxing.test.ts).
 * `heardAgainAt` is set by any connection whose peer is heard after half an idle timeout of silence: with
 * the default 15 s keep-alive and 30 s idle timeout, the first idle connection's first keep-alive.
 */
import { describe, expect, it } from 'vitest';
import { writePing } from '../../src/wire/frame.js';
import { HEADER_SIZE, PacketType } from '../../src/wire/packet.js';
import { heapGrowthPerConnection, serverConnection } from './connection-boxing-fixtures.js';
import { writerWithRoom } from './fixtures.js';

describe('Connection: one peer heard again after a silence', () => {
  it('boxes no time in the other connections (no heap grows per object)', () => {
    const perObject = heapGrowthPerConnection(100_000, () => {
      const heard = serverConnection(1);
      const w = writerWithRoom(100);
      writePing(w);
      const header = { type: PacketType.Data, dcid: 0, pn: 1, pnBytes: 4, epoch: 0, datagram: w.buf.slice(0, w.pos), payloadStart: HEADER_SIZE, payloadEnd: w.pos } as const;
      // Half an idle timeout of silence, then a packet, at a fractional time.
      expect(heard.handlePacket(15_000.75, header, w.pos + 4)).toBe('ok');
      expect(heard.heardAgainAt).toBe(15_000.75);
    });
    // The heard connection's own few KB spread over 100,000 are well under 1 B (0.9 B measured; with
    // heardAgainAt `= 0`: 16.8 B, with AckTracker.largestReceivedTime `= 0`: 16.8 to 18.6 B).
    expect(perObject).toBeLessThan(8);
  });
});
