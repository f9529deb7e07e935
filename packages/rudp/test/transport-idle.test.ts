/**
 * What a mostly idle connection costs with the default options: silence
 * between keep-alives (no datagram and no timer wake-up), two datagrams per
 * sparse message (the message and its ACK: no keep-alive PING beside
 * traffic every 10 s), the ACK sent without a timer wake-up of its own, and
 * still a vanished peer noticed within the idle timeout.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_CONFIG, keepAliveInterval } from '../src/core/config.js';
import type { Endpoint } from '../src/core/endpoint.js';
import type { CloseReason } from '../src/core/events.js';
import { CLIENT, SERVER, ackedOf, firstOf, makePair, messagesOf, type Pair } from './helpers/pair.js';

/** Counts `endpoint`'s timer wake-ups. */
function countWakeUps(endpoint: Endpoint): { count: number } {
  const seen = { count: 0 };
  const handle = endpoint.handleTimeout.bind(endpoint);
  endpoint.handleTimeout = (now) => {
    seen.count++;
    handle(now);
  };
  return seen;
}

/** Datagrams on the wire both ways so far. */
function datagrams(p: Pair): number {
  return p.sim.linkStats(CLIENT, SERVER).sentDatagrams + p.sim.linkStats(SERVER, CLIENT).sentDatagrams;
}

function reasonOf(p: Pair, side: 'client' | 'server'): CloseReason | undefined {
  const r = firstOf(side === 'client' ? p.clientEvents : p.serverEvents, 'closed');
  return r?.event.type === 'closed' ? r.event.reason : undefined;
}

describe('a mostly idle connection (default options)', () => {
  it('keeps alive after half the 30 s idle timeout: 15 s, as quic-go does', () => {
    expect(DEFAULT_CONNECTION_CONFIG.idleTimeoutMs).toBe(30_000);
    expect(keepAliveInterval(DEFAULT_CONNECTION_CONFIG)).toBe(15_000);
    // Lowering the idle timeout alone brings the keep-alive down with it.
    expect(keepAliveInterval({ idleTimeoutMs: 4_000, keepAliveMs: 15_000 })).toBe(2_000);
    expect(keepAliveInterval({ idleTimeoutMs: 4_000, keepAliveMs: 0 })).toBe(Number.POSITIVE_INFINITY);
  });

  it('sends nothing and wakes no timer for an interval shorter than the keep-alive, then one PING and its ACK per interval', () => {
    const p = makePair();
    p.sim.runFor(1_000);
    expect(p.conn.state).toBe('established');
    const before = datagrams(p);
    const clientWakeUps = countWakeUps(p.client);
    const serverWakeUps = countWakeUps(p.server);
    // The handshake's last datagram left within the first second: 13 s more are still short of 15 s.
    p.sim.runFor(13_000);
    expect(datagrams(p) - before).toBe(0);
    expect(clientWakeUps.count + serverWakeUps.count).toBe(0);
    // Two minutes idle: one side PINGs every 15 s and the other ACKs it, nothing else (the first time
    // both sides may PING at once: their clocks both start from the handshake, and the PINGs cross).
    p.sim.runFor(120_000 - 13_000);
    const sent = datagrams(p) - before;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThanOrEqual(2 * Math.ceil(120_000 / 15_000) + 2);
    // A wake-up is only ever for something to send (a PING, or an ACK held back for its delay).
    expect(clientWakeUps.count + serverWakeUps.count).toBeLessThanOrEqual(sent);
    expect(p.conn.state).toBe('established');
    expect(p.serverConn()?.state).toBe('established');
  });

  it('carries a 16-byte message every 10 s in two datagrams: the message and its ACK', () => {
    const p = makePair();
    p.sim.runFor(1_000);
    const count = 12;
    for (let i = 0; i < count; i++) {
      p.sim.schedule(1_000 + i * 10_000, () => {
        p.conn.send(new Uint8Array(16).fill(i));
        p.sim.wake(CLIENT);
      });
    }
    // Counted from the second message: the first leaves before the path is measured, with tail copies
    // (repair-policy.ts: a lost first request would wait for a probe timeout).
    p.sim.runUntil(1_000 + 9_000);
    const before = datagrams(p);
    // Until just before the keep-alive after the last message would be due.
    p.sim.runUntil(1_000 + (count - 1) * 10_000 + 14_000);
    expect(messagesOf(p.serverEvents)).toHaveLength(count);
    expect(ackedOf(p.clientEvents)).toHaveLength(count);
    expect((datagrams(p) - before) / (count - 1)).toBeLessThanOrEqual(2);
  });

  it('acknowledges a sparse message in the poll that received it: no timer wake-up per message on the receiver', () => {
    const p = makePair();
    p.sim.runFor(1_000);
    const count = 12;
    const sentAt: number[] = [];
    for (let i = 0; i < count; i++) {
      p.sim.schedule(1_000 + i * 10_000, () => {
        sentAt.push(p.sim.now);
        p.conn.send(new Uint8Array(16).fill(i));
        p.sim.wake(CLIENT);
      });
    }
    // From the second message on (the first is a connection's first packet after the handshake, and keeps the delay).
    p.sim.runUntil(1_000 + 9_000);
    const serverWakeUps = countWakeUps(p.server);
    p.sim.runUntil(1_000 + (count - 1) * 10_000 + 1_000);
    expect(messagesOf(p.serverEvents)).toHaveLength(count);
    // Held back for the delay, each ACK would cost the server one timer wake-up.
    expect(serverWakeUps.count).toBe(0);
    // …and each message is acknowledged one round trip (70 ms ± jitter) after it left, not 25 ms later.
    const acked = ackedOf(p.clientEvents).map((a) => a.at);
    for (let i = 1; i < count; i++) expect((acked[i] as number) - (sentAt[i] as number)).toBeLessThan(70 + 10 + 5);
  });

  it('still notices a peer that vanished within the idle timeout, on both sides', () => {
    const p = makePair();
    p.sim.runFor(1_000);
    p.conn.send(new Uint8Array(16));
    p.sim.wake(CLIENT);
    p.sim.runFor(5_000);
    const cut = p.sim.now;
    p.sim.setLinks(CLIENT, SERVER, { loss: 1 });
    p.sim.runFor(60_000);
    const idle = DEFAULT_CONNECTION_CONFIG.idleTimeoutMs;
    for (const side of ['client', 'server'] as const) {
      expect(reasonOf(p, side)?.kind).toBe('timeout');
      const at = firstOf(side === 'client' ? p.clientEvents : p.serverEvents, 'closed')?.at as number;
      // The idle clock runs from the last datagram that arrived, before the cut: keep-alive PINGs sent into the void do not
      // restart it (a message sent would: transport-idle-restart.test.ts).
      expect(at - cut).toBeLessThanOrEqual(idle);
    }
  });

  it('stays up while idle with only idleTimeoutMs lowered (the keep-alive follows it down)', () => {
    const p = makePair({ client: { idleTimeoutMs: 4_000 }, server: { idleTimeoutMs: 4_000 } });
    p.sim.runFor(60_000);
    expect(firstOf(p.clientEvents, 'closed')).toBeUndefined();
    expect(p.conn.state).toBe('established');
  });
});

describe('a handshake a busy server answered slowly', () => {
  it('does not make every later small message cost tail copies: 8 clean packets retire its loss guess', () => {
    // A fast path (1 ms each way): the RETRY times it, so the cookie INITIAL is resent every 10 ms. The
    // server's ACCEPT then takes 100 ms (as the key exchange on a loaded server does): the client
    // resends four times, nothing lost, and takes the handshake for a path losing half its packets.
    const p = makePair({ link: { delayMs: 1 } });
    p.sim.schedule(3, () => p.sim.setLink(SERVER, CLIENT, { delayMs: 100 }));
    // The way back then stays slower than the tail copy's spacing, so while the guess stands each
    // copy leaves before the ACK that would make it moot (a sparse message's ACK leaves at once).
    p.sim.schedule(110, () => p.sim.setLink(SERVER, CLIENT, { delayMs: 40 }));
    p.sim.runFor(1_000);
    expect(p.conn.state).toBe('established');
    expect(p.sim.linkStats(CLIENT, SERVER).sentDatagrams).toBeGreaterThanOrEqual(5);
    const count = 20;
    const perMessage: number[] = [];
    for (let i = 0; i < count; i++) {
      p.sim.schedule(1_000 + i * 1_000, () => {
        perMessage.push(datagrams(p));
        p.conn.send(new Uint8Array(16).fill(i));
        p.sim.wake(CLIENT);
      });
    }
    p.sim.runUntil(1_000 + count * 1_000);
    perMessage.push(datagrams(p));
    expect(messagesOf(p.serverEvents)).toHaveLength(count);
    const costs = perMessage.slice(1).map((d, i) => d - (perMessage[i] as number));
    // The first messages still carry copies (the guess is on trial); the last ten cost the message and its ACK.
    expect(costs.slice(0, 2).some((c) => c > 2)).toBe(true);
    expect(costs.slice(-10)).toEqual(new Array(10).fill(2));
  });
});
