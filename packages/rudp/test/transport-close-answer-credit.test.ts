/**
 * A draining connection answers its peer's packets with its CLOSE within 3x
 * their bytes. In plaintext nothing authenticates those packets: anyone who
 * knows the peer's address and the connection id (anyone on the path) sent
 * 13-byte DATA packets from the peer's address, numbered upwards, and each
 * drew a CLOSE of up to some 285 bytes to that address for the whole drain
 * (attack round 24, `attack/amplification.ts`: 17x with a 200-byte reason).
 * An answer's reason is cut to its credit, so a peer that missed the first
 * CLOSE is still told at once. An encrypted connection's answers are whole:
 * only the peer can seal the packets they answer.
 */
import { describe, expect, it } from 'vitest';
import { ACK_CREDIT_CAP } from '../src/core/connection/answer-credit.js';
import { PacketType, PacketWriter } from '../src/wire/packet.js';
import { CLIENT, SERVER, makePair } from './helpers/pair.js';
import { deliverAsClient, servedWithoutClient } from './helpers/forged-from-peer.js';

const FAST = { delayMs: 0.1, jitterMs: 0 };
const REASON = 'r'.repeat(200);

describe('a draining connection answers within 3x', () => {
  it('forged packets from the peer address of a plaintext connection draw at most 3x their bytes', () => {
    // The client is gone; the server ends the connection with a long reason.
    const { p, served } = servedWithoutClient();
    served.destroy(p.sim.now, 1, REASON);
    p.sim.wake(SERVER);
    const afterFirst = p.sim.linkStats(SERVER, CLIENT);
    expect(served.state).toBe('draining');
    let pn = served.acks.largest + 1;
    let received = 0;
    let forged = 0;
    const buf = new Uint8Array(32);
    for (let t = 1; served.state === 'draining' && t < 10_000; t++) {
      // The smallest DATA packet naming the connection: a header, no frames, a checksum.
      const d = new PacketWriter(buf, PacketType.Data, served.localCid, pn++, 4).finish().slice();
      received += d.length;
      forged++;
      deliverAsClient(p, d);
    }
    const now = p.sim.linkStats(SERVER, CLIENT);
    const answers = now.sentDatagrams - afterFirst.sentDatagrams;
    const answered = now.sentBytes - afterFirst.sentBytes;
    expect(forged).toBeGreaterThan(50);
    // Answered, but within 3x: before, 17x (each 13-byte packet drew a CLOSE of over 200 bytes).
    expect(answers).toBeGreaterThan(0);
    expect(answered).toBeLessThanOrEqual(3 * received);
  });

  it("the peer's data after a lost CLOSE banks no more credit than the ACK-only packets may for forged packets to spend", () => {
    const { p, served } = servedWithoutClient();
    served.destroy(p.sim.now, 1, REASON);
    p.sim.wake(SERVER);
    let pn = served.acks.largest + 1;
    const buf = new Uint8Array(1_472);
    const deliver = (bytes: number): number => {
      // A DATA packet of `bytes` (PADDING after the header): the peer still sending, or a forger.
      const w = new PacketWriter(buf.subarray(0, bytes), PacketType.Data, served.localCid, pn++, 4);
      w.padTo(bytes);
      const d = w.finish().slice();
      deliverAsClient(p, d, 0.01);
      return d.length;
    };
    // The client missed the CLOSE and sends 1,000 full packets (each answered); then a forger's smallest.
    for (let i = 0; i < 1_000; i++) deliver(1_472);
    const before = p.sim.linkStats(SERVER, CLIENT);
    let forged = 0;
    for (let i = 0; i < 2_000; i++) forged += deliver(13);
    const after = p.sim.linkStats(SERVER, CLIENT);
    expect(served.state).toBe('draining');
    // Before: the bank was 4,201,000 bytes, and each 13-byte packet drew a whole 215-byte CLOSE (16.5x),
    // 430,000 bytes for 26,000; now 148,440 (the 70,441 banked, then 3x).
    expect(after.sentDatagrams - before.sentDatagrams).toBe(2_000);
    expect(after.sentBytes - before.sentBytes).toBeLessThanOrEqual(3 * forged + ACK_CREDIT_CAP);
  });

  it.each([
    ['a plaintext', true],
    ['an encrypted', false],
  ] as const)('%s peer that missed a CLOSE with a long reason, and only acknowledges, is still told at once', (_mode, plaintext) => {
    const p = makePair({ link: FAST, client: { plaintext }, server: { plaintext } });
    p.sim.runFor(500);
    const served = p.serverConn();
    served?.send(new Uint8Array(100));
    p.sim.wake(SERVER);
    p.sim.runFor(0.01);
    // The first CLOSE is lost; the client's ACK of the message (some 30 bytes) is answered.
    p.sim.setLink(SERVER, CLIENT, { ...FAST, loss: 1 });
    served?.destroy(p.sim.now, 1, REASON);
    p.sim.wake(SERVER);
    p.sim.runFor(0.05);
    p.sim.setLink(SERVER, CLIENT, FAST);
    p.sim.runFor(100);
    const told = p.conn.closeReason;
    expect(told?.kind).toBe('peer');
    expect(told?.code).toBe(1);
    // In plaintext, the reason as far as the answer's credit carried it; encrypted, whole: only the peer
    // could have sealed the packet answered (before, 57 bytes of the 200).
    if (plaintext) expect(REASON.startsWith(told?.message === 'closed by peer' ? '' : (told?.message ?? 'x'))).toBe(true);
    else expect(told?.message).toBe(served?.closeReason?.message);
    expect(served?.closeReason?.message).toBe(REASON);
  });
});
