/**
 * One ACK frame a packet (attack round 16, item 2). Each ACK frame makes
 * the sender walk its packets in flight up to the frame's largest number,
 * whether the frame acknowledges anything new or not, and a 1,200-byte
 * packet holds some 150 one-range frames: a peer repeating one true frame
 * made the server walk its flight 150 times a datagram (up to ~250 µs a
 * datagram with 300 packets unacknowledged below the largest, against ~10
 * for an ordinary one). Our sender writes one ACK frame a packet; the
 * receiver now acts on the first and ignores the rest.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import { writeAck } from '../src/wire/ack-frame.js';
import type { PacketWriter } from '../src/wire/packet.js';
import { CLIENT, SERVER, makePair, messagesOf } from './helpers/pair.js';

interface AckInternals {
  largest: number;
  ackDue: number | undefined;
  ackElicitingUnacked: number;
  write(now: number, w: PacketWriter, room: number): number;
}

/** The client's every ACK packet carries its honest ACK frame, then copies of a one-number frame of its largest received until full. */
function repeatAckFrames(conn: Connection): void {
  const acks = (conn as unknown as { acks: AckInternals }).acks;
  const write = acks.write.bind(acks);
  acks.write = (now, w, room) => {
    const largest = write(now, w, room);
    if (largest < 0) return largest;
    while (w.room() > 16) writeAck(w, [{ lo: largest, hi: largest }], 0);
    return largest;
  };
}

describe('ACK frames a packet', () => {
  it('a packet full of ACK frames is acted on once: the rest are ignored, the connection goes on', () => {
    const p = makePair({ seed: 5, link: { delayMs: 10, bandwidthBps: 20_000_000, queueBytes: 256 * 1024 } });
    p.sim.runFor(200);
    const server = p.serverConn() as Connection;
    expect(server.state).toBe('established');
    repeatAckFrames(p.conn);
    const recovery = (server as unknown as { recovery: { onAck: (...a: unknown[]) => boolean } }).recovery;
    const onAck = recovery.onAck.bind(recovery);
    let calls = 0;
    recovery.onAck = (...a: unknown[]) => {
      calls++;
      return onAck(...a);
    };
    const received0 = server.stats().packetsReceived;
    // 2 MiB from the server: the client acknowledges as it goes, every ACK packet full of frames.
    const count = 32;
    for (let i = 0; i < count; i++) server.send(new Uint8Array(64 * 1024));
    p.sim.wake(SERVER);
    p.sim.runFor(10_000);
    const packets = server.stats().packetsReceived - received0;
    expect(messagesOf(p.clientEvents)).toHaveLength(count);
    expect(server.state).toBe('established');
    expect(packets).toBeGreaterThan(50);
    // At most one ACK frame a packet reaches loss detection (before: ~100 a packet).
    expect(calls).toBeLessThanOrEqual(packets);
    // And the client still hears the server's own ACKs: its messages go through.
    p.conn.send(new Uint8Array(100));
    p.sim.wake(CLIENT);
    p.sim.runFor(500);
    expect(messagesOf(p.serverEvents)).toHaveLength(1);
  });
});
