/**
 * The receiver's repair decoder starts at the first gap in packet numbers,
 * not at the first repair. A sender turns repairs on only once it hears of a
 * loss, a round trip after it, and its first repairs cover every message
 * still unacknowledged, the lost one and those sent since. A decoder started
 * by that first repair never saw the bytes of the messages that arrived
 * meanwhile, so it could use none of those repairs, and a second loss soon
 * after waited for repairs over a later run or for its resend.
 */
import { describe, expect, it } from 'vitest';
import { parseFrames } from '../src/wire/frame.js';
import { PacketType, parseHeader } from '../src/wire/packet.js';
import { CLIENT, makePair } from './helpers/pair.js';

const INTERVAL = 20;
const DELAY = 35;

/** The small messages (64 bytes, byte `i` throughout) a data packet carries. */
function messagesIn(datagram: Uint8Array): number[] {
  const h = parseHeader(datagram);
  if (h === undefined || typeof h === 'string' || h.type !== PacketType.Data) return [];
  return (parseFrames(h.payload) ?? []).flatMap((f) => (f.type === 'fragment' && f.data.length === 64 ? [f.data[0] as number] : []));
}

describe('repairs after the first loss of a clean connection', () => {
  it('a second loss soon after the first is rebuilt by the next packet: the decoder kept the messages since the first gap', () => {
    const p = makePair({ client: { plaintext: true }, server: { plaintext: true }, link: { delayMs: DELAY } });
    const poll = p.client.pollTransmit.bind(p.client);
    const dropped = new Set<number>();
    p.client.pollTransmit = (now) => {
      const t = poll(now);
      const carried = t === undefined ? [] : messagesIn(t.data);
      // The first packets that carry messages 4 and 10 are lost (sent to an address nobody holds).
      if (carried.some((i) => (i === 4 || i === 10) && !dropped.has(i))) {
        for (const i of carried) dropped.add(i);
        return t === undefined ? t : { to: '10.9.9.9:9', data: t.data };
      }
      return t;
    };
    p.sim.runFor(500);
    const sentAt: number[] = [];
    const latency: number[] = [];
    p.onServerEvent = (e, now) => {
      if (e.type === 'message' && e.data.length === 64) latency[e.data[0] as number] = now - (sentAt[e.data[0] as number] as number);
    };
    for (let i = 0; i < 30; i++) {
      p.sim.schedule(p.sim.now + i * INTERVAL, (now) => {
        sentAt[i] = now;
        p.conn.send(new Uint8Array(64).fill(i));
        p.sim.wake(CLIENT);
      });
    }
    p.sim.runFor(30 * INTERVAL + 2_000);
    expect(dropped.has(4) && dropped.has(10)).toBe(true);
    expect(latency.filter((l) => l !== undefined)).toHaveLength(30);
    // Message 10's packet left after the first repairs: the repair in packet 11 covers messages
    // 4..10, of which only 10 is missing, and rebuilds it one send interval after it was sent.
    expect(latency[10]).toBeCloseTo(INTERVAL + DELAY, 6);
    expect(p.serverConn()?.stats().messagesRecovered).toBeGreaterThanOrEqual(1);
  });
});
