/**
 * A plaintext connection's ACK-only packets take at most 3x the bytes of the
 * packets that asked for them (`Connection.ackCredit`). Nothing authenticates
 * a plaintext packet, and every one that arrives out of order is acknowledged
 * at once, with up to 32 ranges: 14-byte PINGs forged from the peer's
 * address, numbered 2 apart, each drew an ACK of about 78 bytes to that
 * address, 5.6x for as long as the forger sent (attack round 24,
 * `attack/amplification.ts` part 3). Now the ACKs carry fewer ranges, and
 * every packet is still acknowledged.
 */
import { describe, expect, it } from 'vitest';
import { type Frame, parseFrames, writePathChallenge } from '../src/wire/frame.js';
import { PacketType, PacketWriter } from '../src/wire/packet.js';
import { CLIENT, SERVER, makePair, messagesOf } from './helpers/pair.js';
import { tapDataPackets } from './helpers/tap.js';
import { deliverAsClient, servedWithoutClient } from './helpers/forged-from-peer.js';

describe('plaintext ACK-only packets within 3x', () => {
  it.each([4, 2] as const)('forged out-of-order PINGs (%i-byte numbers) from the peer address draw at most 3x their bytes, each still acknowledged', (pnBytes) => {
    const { p, served } = servedWithoutClient();
    const banked = served.ackCredit;
    const before = p.sim.linkStats(SERVER, CLIENT);
    let pn = served.acks.largest + 1;
    let received = 0;
    const buf = new Uint8Array(32);
    for (let i = 0; i < 1_000; i++) {
      // The smallest ack-eliciting packet: a header (with a two-byte number, 7 bytes), a PING, the checksum.
      const w = new PacketWriter(buf, PacketType.Data, served.localCid, pn, pnBytes);
      // Two apart: each leaves a gap, so each is acknowledged at once with one range more.
      pn += 2;
      w.u8(1);
      const d = w.finish().slice();
      received += d.length;
      deliverAsClient(p, d);
    }
    const after = p.sim.linkStats(SERVER, CLIENT);
    // Before: 78,023 bytes for 14,000 (5.6x); an ACK never smaller than the largest one-range frame could take,
    // 39 bytes, still gave 12-byte packets 3.3x.
    expect(after.sentBytes - before.sentBytes).toBeLessThanOrEqual(3 * received + banked);
    expect(after.sentDatagrams - before.sentDatagrams).toBeGreaterThanOrEqual(990);
    expect(served.state).toBe('established');
  });

  it('forged PATH_CHALLENGEs numbered 2 apart draw their echo and ACKs within 3x in all, each echoed', () => {
    const { p, served } = servedWithoutClient();
    const banked = served.ackCredit;
    const before = p.sim.linkStats(SERVER, CLIENT);
    let pn = served.acks.largest + 1;
    let received = 0;
    let echoes = 0;
    tapDataPackets(p.server, (h) => {
      if ((parseFrames(h.payload) ?? []).some((f) => f.type === 'path-response')) echoes++;
    });
    const buf = new Uint8Array(32);
    for (let i = 0; i < 1_000; i++) {
      const w = new PacketWriter(buf, PacketType.Data, served.localCid, pn, 2);
      pn += 2;
      writePathChallenge(w, new Uint8Array(8).fill(i & 255));
      const d = w.finish().slice();
      received += d.length;
      deliverAsClient(p, d);
    }
    const after = p.sim.linkStats(SERVER, CLIENT);
    // Before: 80,036 bytes for 20,000 (4.0x): each 20-byte packet drew a 20-byte echo and a 60-byte ACK.
    expect(after.sentBytes - before.sentBytes).toBeLessThanOrEqual(3 * received + banked);
    expect(echoes).toBe(1_000);
    expect(served.state).toBe('established');
  });

  it('copies of an old packet, each acknowledged, leave no debt that cuts the next ACKs to one range', () => {
    const { p, served } = servedWithoutClient();
    const ping = (pn: number): Uint8Array => {
      const w = new PacketWriter(new Uint8Array(32), PacketType.Data, served.localCid, pn, 2);
      w.u8(1);
      return w.finish().slice();
    };
    const deliver = (d: Uint8Array): void => deliverAsClient(p, d);
    let pn = served.acks.largest + 1;
    const old = ping(pn++);
    deliver(old);
    const before = p.sim.linkStats(SERVER, CLIENT);
    // A copy of a packet received before brings no credit, and each is acknowledged at once (our ACK may
    // have been lost): anyone on the path can send them, 20,000 here.
    for (let i = 0; i < 20_000; i++) deliver(old);
    const copies = p.sim.linkStats(SERVER, CLIENT);
    expect(copies.sentDatagrams - before.sentDatagrams).toBeGreaterThanOrEqual(19_000);
    expect(copies.sentBytes - before.sentBytes).toBeLessThanOrEqual(3 * 20_000 * old.length);
    // Then the peer's packets leave gaps (loss): each is acknowledged at once, with the ranges its bytes pay for.
    const ranges: number[] = [];
    tapDataPackets(p.server, (h) => {
      const ack = (parseFrames(h.payload) ?? []).find((f): f is Extract<Frame, { type: 'ack' }> => f.type === 'ack');
      if (ack !== undefined) ranges.push(ack.ranges.length);
    });
    for (let i = 0; i < 10; i++) {
      pn += 2;
      deliver(ping(pn));
    }
    // Before, the copies ran the credit 386,970 bytes into debt, and every ACK after them was one range
    // until the peer had sent some 129 KB more.
    expect(ranges).toHaveLength(10);
    expect(Math.max(...ranges)).toBeGreaterThanOrEqual(2);
  });

  it('small messages both ways through reordering and loss all arrive, in plaintext', () => {
    const p = makePair({ seed: 3, link: { delayMs: 10, jitterMs: 8, loss: 0.05 }, client: { plaintext: true }, server: { plaintext: true } });
    p.onServerEvent = (e) => {
      if (e.type === 'message') p.serverConn()?.send(e.data);
    };
    p.sim.runFor(300);
    for (let i = 0; i < 400; i++) p.conn.send(new Uint8Array([i & 255, i >> 8]));
    p.sim.wake(CLIENT);
    p.sim.runFor(20_000);
    expect(messagesOf(p.serverEvents)).toHaveLength(400);
    expect(messagesOf(p.clientEvents)).toHaveLength(400);
  });
});
