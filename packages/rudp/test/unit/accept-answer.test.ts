/**
 * A client answers its ACCEPT at once (handshake.ts): with its first
 * message when it writes one as it learns of the connection, else with a
 * packet of PADDING alone at its next timer turn, so the server's first RTT
 * sample (ACCEPT to the client's first packet) is a round trip, not the
 * client's silence.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from '../../src/core/config.js';
import { Connection } from '../../src/core/connection.js';
import { DatagramScratch } from '../../src/core/datagram-scratch.js';
import { FIRST_PACKET_NUMBER } from '../../src/core/handshake.js';
import { FrameType } from '../../src/wire/frame-type.js';
import { parseFrames } from '../../src/wire/frame.js';
import { AcceptKind, MAX_DATAGRAM, PacketType, parseHeader } from '../../src/wire/packet.js';
import { QuietHost, RecordingController } from './fixtures.js';

const scratch = new DatagramScratch(MAX_DATAGRAM);

interface Sent {
  readonly type: number;
  readonly pn: number;
  readonly payload: Uint8Array;
}

/** Every datagram `c` sends at `now`. */
function drain(c: Connection, now: number): Sent[] {
  const out: Sent[] = [];
  for (let i = 0; i < 50; i++) {
    const d = c.pollTransmit(now, scratch);
    if (d === undefined) break;
    const h = parseHeader(d);
    if (typeof h === 'string') throw new Error(h);
    out.push({ type: h.type, pn: h.pn, payload: h.payload.slice() });
  }
  return out;
}

/** A plaintext client that got its RETRY at 2 and its ACCEPT at 4 (a 2 ms path), polled once after each. */
function accepted(config: Partial<ConnectionConfig> = {}): Connection {
  const cfg: ConnectionConfig = { ...DEFAULT_CONNECTION_CONFIG, keepAliveMs: 0, congestion: () => new RecordingController(), ...config };
  const c = new Connection(new QuietHost(), cfg, 'client', 1, 0, '10.0.0.2:4000', 0, 1 << 20);
  expect(drain(c, 0).map((s) => s.type)).toEqual([PacketType.Initial]);
  c.handleRetry(2, Uint8Array.of(1, 2, 3));
  expect(drain(c, 2).map((s) => s.type)).toEqual([PacketType.Initial]);
  expect(c.handleAccept(4, { scid: 9, params: { receiveWindow: 1 << 20, initialLimit: 1 << 20 }, kind: AcceptKind.Plaintext, handshake: new Uint8Array(0) })).toBe('ok');
  expect(c.state).toBe('established');
  return c;
}

describe('a client answers its ACCEPT', () => {
  it('with nothing to say: PADDING alone, numbered first, at the timer turn after the ACCEPT', () => {
    const c = accepted();
    // Not in the poll that follows the ACCEPT: an application's first write comes after it on a real event loop.
    expect(drain(c, 4)).toEqual([]);
    expect(c.nextTimeout()).toBe(4);
    c.handleTimeout(4);
    const sent = drain(c, 4);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.type).toBe(PacketType.Data);
    expect(sent[0]?.pn).toBe(FIRST_PACKET_NUMBER);
    expect([...(sent[0]?.payload ?? [])]).toEqual([FrameType.Padding]);
    expect(parseFrames(sent[0]?.payload ?? new Uint8Array(0))).toEqual([]);
    // Answered once: no timer left at the ACCEPT's time, nothing more to send.
    expect(c.nextTimeout()).toBeGreaterThan(4);
    c.handleTimeout(5);
    expect(drain(c, 5)).toEqual([]);
    // Nothing in flight, nothing owed: the server need not acknowledge it.
    expect(c.stats().bytesInFlight).toBe(0);
  });

  it('with the first message, when the application writes it before the timer turn: no datagram more', () => {
    const c = accepted();
    c.send(new Uint8Array([1, 2, 3]));
    const sent = drain(c, 4);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.pn).toBe(FIRST_PACKET_NUMBER);
    expect((parseFrames(sent[0]?.payload ?? new Uint8Array(0)) ?? []).map((f) => f.type)).toEqual(['fragment']);
    c.handleTimeout(4);
    expect(drain(c, 4)).toEqual([]);
  });

  it("with the first message when the timer turn comes before the poll that tells the application (the Node adapter's order after a burst)", () => {
    const c = accepted();
    // The adapter handles timeouts right after the burst that held the ACCEPT, then polls; the application
    // learns of the connection in that poll and writes after it (a promise's continuation).
    c.handleTimeout(4);
    expect(drain(c, 4)).toEqual([]);
    c.send(new Uint8Array([1, 2, 3]));
    const sent = drain(c, 4);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.pn).toBe(FIRST_PACKET_NUMBER);
    expect((parseFrames(sent[0]?.payload ?? new Uint8Array(0)) ?? []).map((f) => f.type)).toEqual(['fragment']);
  });

  it('with PADDING at the timer turn after that poll when the application wrote nothing', () => {
    const c = accepted();
    c.handleTimeout(4);
    expect(drain(c, 4)).toEqual([]);
    expect(c.nextTimeout()).toBe(4);
    c.handleTimeout(4);
    const sent = drain(c, 4);
    expect(sent.map((s) => [s.pn, [...s.payload]])).toEqual([[FIRST_PACKET_NUMBER, [FrameType.Padding]]]);
  });
});
