/**
 * Probe packets repeat the flow-control frames of packets still unacknowledged (RFC 9002 §6.2.4). A message
 * past the peer's first grant (1 MiB) waits for a BLOCKED to be answered with MAX_DATA; when the packet that
 * carried either was lost and no ACK came back to show it, the probes only PINGed, and nothing moved until
 * an ACK got through: the server of a 4 MiB answer over 30 % loss each way began after 2 s (`attack/sim-vs-real.ts
 * sim both30`, seed 10; 0.55 s the other seeds).
 */
import { describe, expect, it } from 'vitest';
import { INITIAL_GRANT } from '../src/core/credit.js';
import { parseFrames } from '../src/wire/frame.js';
import { PacketType, parseHeader } from '../src/wire/packet.js';
import { intercept } from './helpers/rebinding.js';
import { CLIENT, makePair, messagesOf, type Pair } from './helpers/pair.js';

/** A message past the first grant: it may start only once the peer answers BLOCKED with MAX_DATA. */
const ANSWER = new Uint8Array(INITIAL_GRANT + 64 * 1024).fill(3);
/** How long the path back is cut once the frame's packet is lost: no ACK can show the loss. */
const OUTAGE_MS = 1_500;

/** Whether `datagram` is a plaintext DATA packet carrying a frame of `type`. */
function carries(datagram: Uint8Array, type: 'blocked' | 'max-data'): boolean {
  const h = parseHeader(datagram);
  return typeof h !== 'string' && h.type === PacketType.Data && (parseFrames(h.payload) ?? []).some((f) => f.type === type);
}

/** A plaintext pair (frames visible) whose server answers a request with `ANSWER`, the request sent at 300 ms. */
function answeringPair(seed: number): Pair {
  const p = makePair({ seed, link: { delayMs: 10 }, client: { plaintext: true }, server: { plaintext: true } });
  p.onServerEvent = (e) => {
    if (e.type === 'message') p.serverConn()?.send(ANSWER);
  };
  p.sim.runFor(300);
  expect(p.conn.state).toBe('established');
  return p;
}

describe('probes repeat the flow-control frames in flight', () => {
  it.each([1, 2, 3])("the server's BLOCKED lost and the path back cut: its probes carry BLOCKED again, and the answer arrives (seed %i)", (seed) => {
    const p = answeringPair(seed);
    let cutUntil = Number.NEGATIVE_INFINITY;
    let probedBlocked = 0;
    // Server → client: the first BLOCKED is lost; those the probes carry while the way back is cut are counted.
    intercept(p.client, (now, data, _from, deliver) => {
      if (!carries(data, 'blocked')) return deliver(data);
      if (cutUntil === Number.NEGATIVE_INFINITY) {
        cutUntil = now + OUTAGE_MS;
        return;
      }
      if (now < cutUntil) probedBlocked++;
      deliver(data);
    });
    // Client → server: nothing arrives during the cut, so no ACK shows the BLOCKED's packet lost.
    intercept(p.server, (now, data, _from, deliver) => {
      if (now >= cutUntil) deliver(data);
    });
    p.conn.send(Uint8Array.of(1));
    p.sim.wake(CLIENT);
    p.sim.runFor(OUTAGE_MS + 5_000);
    expect(cutUntil).toBeGreaterThan(0);
    // Before: 0 (the probes were PINGs; the BLOCKED went again only once an ACK, after the cut, showed it lost).
    expect(probedBlocked).toBeGreaterThan(0);
    expect(messagesOf(p.clientEvents).map((m) => m.length)).toEqual([ANSWER.length]);
  });

  it.each([1, 2, 3])("the client's MAX_DATA lost and the server's way cut: the client's probes carry MAX_DATA again, and the answer arrives (seed %i)", (seed) => {
    const p = answeringPair(seed);
    let cutUntil = Number.NEGATIVE_INFINITY;
    let probedMaxData = 0;
    // Client → server: the first MAX_DATA after the request (the answer to BLOCKED) is lost; those sent during the cut are counted.
    let requested = false;
    intercept(p.server, (now, data, _from, deliver) => {
      if (!requested || !carries(data, 'max-data')) return deliver(data);
      if (cutUntil === Number.NEGATIVE_INFINITY) {
        cutUntil = now + OUTAGE_MS;
        return;
      }
      if (now < cutUntil) probedMaxData++;
      deliver(data);
    });
    // Server → client: nothing arrives during the cut, so no ACK shows the MAX_DATA's packet lost.
    intercept(p.client, (now, data, _from, deliver) => {
      if (now >= cutUntil) deliver(data);
    });
    requested = true;
    p.conn.send(Uint8Array.of(1));
    p.sim.wake(CLIENT);
    p.sim.runFor(OUTAGE_MS + 5_000);
    expect(cutUntil).toBeGreaterThan(0);
    // Before: 0 (the client's probes were PINGs).
    expect(probedMaxData).toBeGreaterThan(0);
    expect(messagesOf(p.clientEvents).map((m) => m.length)).toEqual([ANSWER.length]);
  });
});
