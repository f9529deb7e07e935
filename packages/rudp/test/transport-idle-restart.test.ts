/**
 * The idle timer restarts at the first ack-eliciting packet sent after the last one received (RFC 9000
 * §10.1), PINGs aside, and only at that one: a message sent late in a quiet spell gets a whole idle
 * timeout for its answer, and a vanished peer is given up an idle timeout after the first message sent
 * into the void, not after every packet, and not later for the keep-alive PINGs and probes sent meanwhile.
 */
import { describe, expect, it } from 'vitest';
import { isAckEliciting } from '../src/core/receive/received-frames.js';
import { parseFrames } from '../src/wire/frame.js';
import { PacketType, parseHeader } from '../src/wire/packet.js';
import { CLIENT, SERVER, firstOf, makePair, messagesOf } from './helpers/pair.js';

/** Whether a plaintext datagram is a DATA packet with an ack-eliciting frame other than PING. */
function moreThanPing(datagram: Uint8Array): boolean {
  const h = parseHeader(datagram);
  return typeof h !== 'string' && h.type === PacketType.Data && (parseFrames(h.payload) ?? []).some((f) => f.type !== 'ping' && isAckEliciting(f));
}

/** The message of the reason the first `closed` event among `events` gives. */
function reasonMessage(events: Parameters<typeof firstOf>[0]): string | undefined {
  const closed = firstOf(events, 'closed');
  return closed?.event.type === 'closed' ? closed.event.reason.message : undefined;
}

describe('the idle timer (idleTimeoutMs)', () => {
  it('restarts when a message leaves after a quiet spell: its answer, a round trip later, arrives before the timeout', () => {
    // The client's idle timeout is 3 s, the round trip 400 ms, no keep-alives; the message leaves 2.8 s
    // after the last packet received. Counted from that packet alone, the client timed out at 3 s, 0.2 s
    // before the ACK could arrive, though the server was there all along.
    const idle = 3_000;
    const p = makePair({ link: { delayMs: 200 }, client: { idleTimeoutMs: idle, keepAliveMs: 0, plaintext: true }, server: { idleTimeoutMs: 60_000, keepAliveMs: 0, plaintext: true } });
    p.sim.runFor(1_500);
    expect(p.conn.state).toBe('established');
    const quietFrom = p.conn.lastReceived;
    p.sim.schedule(quietFrom + idle - 200, () => {
      p.conn.send(new TextEncoder().encode('late'));
      p.sim.wake(CLIENT);
    });
    p.sim.runUntil(quietFrom + idle + 1_000);
    expect(messagesOf(p.serverEvents).map((m) => new TextDecoder().decode(m))).toEqual(['late']);
    expect(firstOf(p.clientEvents, 'closed')).toBeUndefined();
    expect(p.conn.state).toBe('established');
    expect(p.conn.lastReceived).toBeGreaterThan(quietFrom + idle - 200);
  });

  it('a message sent into the void restarts it once; keep-alive PINGs and probes do not: the side that sent it gives up an idle timeout after its first packet, the other an idle timeout after the last packet received, each saying how long it heard nothing', () => {
    for (let seed = 1; seed <= 3; seed++) {
      const idle = 30_000;
      const p = makePair({ seed, client: { plaintext: true }, server: { plaintext: true } });
      // Per side: when a datagram last arrived, and the first datagram sent after it carrying more than a PING.
      const seen = new Map<string, { received: number; firstSent: number }>();
      for (const [address, endpoint] of [[CLIENT, p.client], [SERVER, p.server]] as const) {
        const mark = { received: 0, firstSent: Number.NaN };
        seen.set(address, mark);
        const handle = endpoint.handleDatagram.bind(endpoint);
        endpoint.handleDatagram = (now, data, from) => {
          mark.received = now;
          mark.firstSent = Number.NaN;
          handle(now, data, from);
        };
        const poll = endpoint.pollTransmit.bind(endpoint);
        endpoint.pollTransmit = (now) => {
          const t = poll(now);
          if (t !== undefined && Number.isNaN(mark.firstSent) && moreThanPing(t.data)) mark.firstSent = now;
          return t;
        };
      }
      p.sim.runFor(1_000);
      p.conn.send(new Uint8Array(16));
      p.sim.wake(CLIENT);
      p.sim.runFor(5_000);
      const cut = p.sim.now;
      p.sim.setLinks(CLIENT, SERVER, { loss: 1 });
      // 20 s into the silence, past the keep-alive PINGs (15 s after the last traffic), the client sends a message.
      p.sim.schedule(cut + 20_000, () => {
        p.conn.send(new TextEncoder().encode('anyone there?'));
        p.sim.wake(CLIENT);
      });
      p.sim.runFor(3 * idle);
      const client = seen.get(CLIENT) as { received: number; firstSent: number };
      const server = seen.get(SERVER) as { received: number; firstSent: number };
      for (const mark of [client, server]) expect(mark.received, `seed ${seed}`).toBeLessThan(cut + 100);
      expect(client.firstSent, `seed ${seed}`).toBe(cut + 20_000);
      // Nothing but ACKs and PINGs left the server after its last packet received.
      expect(server.firstSent, `seed ${seed}`).toBeNaN();
      for (const events of [p.clientEvents, p.serverEvents]) {
        const closed = firstOf(events, 'closed');
        expect(closed?.event.type === 'closed' ? closed.event.reason.kind : undefined, `seed ${seed}`).toBe('timeout');
      }
      expect(firstOf(p.clientEvents, 'closed')?.at, `seed ${seed}`).toBe(cut + 20_000 + idle);
      expect(firstOf(p.serverEvents, 'closed')?.at, `seed ${seed}`).toBe(server.received + idle);
      // The reasons tell the silence each side waited out (it said "for 30000 ms" on the client too, which
      // heard nothing for 50 s), and the client's why it waited past the idle timeout.
      expect(reasonMessage(p.clientEvents), `seed ${seed}`).toBe(`no packet from ${SERVER} for ${Math.round(cut + 20_000 + idle - client.received)} ms (data sent ${idle} ms ago unanswered)`);
      expect(reasonMessage(p.serverEvents), `seed ${seed}`).toBe(`no packet from ${CLIENT} for ${idle} ms`);
    }
  });
});
