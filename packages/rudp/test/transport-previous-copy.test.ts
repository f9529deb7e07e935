/**
 * Previous copies (`redundancy.previousCopyShare`): with one repair per
 * packet, two packets lost in a row leave the next packet's repair with two
 * unknowns, so the first lost message waits a send interval more for a second
 * repair. With the previous message copied beside the repair, the next packet
 * carries two symbols and rebuilds both. And a path losing packets from the
 * start turns repairs on from its first losses (the loss estimate counts them
 * against ten clean packets, not against an average that starts at zero).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_CONFIG, type RedundancyConfig } from '../src/core/config.js';
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

/**
 * Sends 30 messages client → server, one per 20 ms over a 35 ms link without
 * jitter, with redundancy always on (thresholds 0), and loses the first
 * packets that carry messages 10 and 11. Returns each message's latency.
 */
function latenciesAfterTwoLosses(previousCopyShare: number | undefined): number[] {
  const redundancy: RedundancyConfig = { ...DEFAULT_CONNECTION_CONFIG.redundancy, lossThreshold: 0, highLossThreshold: 0, previousCopyShare };
  const p = makePair({ client: { plaintext: true, redundancy }, server: { plaintext: true }, link: { delayMs: DELAY } });
  const poll = p.client.pollTransmit.bind(p.client);
  const dropped = new Set<number>();
  p.client.pollTransmit = (now) => {
    const t = poll(now);
    const carried = t === undefined ? [] : messagesIn(t.data);
    if (carried.some((i) => (i === 10 || i === 11) && !dropped.has(i))) {
      for (const i of carried) dropped.add(i);
      // Sent to an address nobody holds: the link drops it.
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
  expect(dropped.has(10) && dropped.has(11)).toBe(true);
  expect(latency.filter((l) => l !== undefined)).toHaveLength(30);
  return latency;
}

describe('previous copies: two packets lost in a row', () => {
  it('with a copy of the previous message in every packet, the next packet rebuilds both (one send interval after the second)', () => {
    const latency = latenciesAfterTwoLosses(1);
    // Message 10 waits for packet 12: two intervals and the delay.
    expect(latency[10]).toBeCloseTo(2 * INTERVAL + DELAY, 6);
    expect(latency[11]).toBeCloseTo(INTERVAL + DELAY, 6);
  });

  it('without (the default), message 10 waits for a second repair, from packet 13', () => {
    const latency = latenciesAfterTwoLosses(undefined);
    expect(latency[10]).toBeGreaterThanOrEqual(3 * INTERVAL + DELAY);
  });
});
