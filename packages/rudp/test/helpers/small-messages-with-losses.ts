/**
 * A chat-like run for repair tests: 30 messages client → server, one per 20 ms
 * over a 35 ms link without jitter, with the first packets that carry chosen
 * messages lost. Sent to an address nobody holds, a packet is dropped by the
 * link, so everything else about the run stays as the sender made it.
 */
import { expect } from 'vitest';
import { parseFrames } from '../../src/wire/frame.js';
import { PacketType, parseHeader } from '../../src/wire/packet.js';
import { CLIENT, type Pair, type PairOptions, makePair } from './pair.js';

/** Milliseconds between two messages. */
export const INTERVAL = 20;
/** One-way delay of the link, ms. */
export const DELAY = 35;
const MESSAGES = 30;

/** The small messages (64 bytes, byte `i` throughout) a data packet carries. */
function messagesIn(datagram: Uint8Array): number[] {
  const h = parseHeader(datagram);
  if (h === undefined || typeof h === 'string' || h.type !== PacketType.Data) return [];
  return (parseFrames(h.payload) ?? []).flatMap((f) => (f.type === 'fragment' && f.data.length === 64 ? [f.data[0] as number] : []));
}

/** Runs the 30 messages, losing the first packets that carry any of `lost`; returns each message's latency, ms. */
export function latenciesWithLosses(client: NonNullable<PairOptions['client']>, lost: readonly number[]): { readonly latency: readonly number[]; readonly pair: Pair } {
  const p = makePair({ client: { plaintext: true, ...client }, server: { plaintext: true }, link: { delayMs: DELAY } });
  const poll = p.client.pollTransmit.bind(p.client);
  const dropped = new Set<number>();
  p.client.pollTransmit = (now) => {
    const t = poll(now);
    const carried = t === undefined ? [] : messagesIn(t.data);
    if (carried.some((i) => lost.includes(i) && !dropped.has(i))) {
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
  for (let i = 0; i < MESSAGES; i++) {
    p.sim.schedule(p.sim.now + i * INTERVAL, (now) => {
      sentAt[i] = now;
      p.conn.send(new Uint8Array(64).fill(i));
      p.sim.wake(CLIENT);
    });
  }
  p.sim.runFor(MESSAGES * INTERVAL + 2_000);
  expect(lost.every((i) => dropped.has(i))).toBe(true);
  expect(latency.filter((l) => l !== undefined)).toHaveLength(MESSAGES);
  return { latency, pair: p };
}
